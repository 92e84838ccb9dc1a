// A multipart/form-data reader that returns each part as a view of the body: the model file is
// never copied (`Response.formData()` would hold the body, the parsed File and the file's
// ArrayBuffer at once — three copies).
import { HttpError } from "./_errors.ts";

/** One part of a multipart body. */
export interface Part {
  /** The bytes (a view of the body). */
  readonly bytes: Uint8Array;
  /** The file name, when the part is a file. */
  readonly filename?: string;
}

const MAX_PART_HEADER = 16 * 1024;

function bad(message: string): HttpError {
  return new HttpError(400, "multipart_invalid", `multipart body ${message}`);
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  const last = haystack.length - needle.length;
  for (
    let i = haystack.indexOf(first, from);
    i >= 0 && i <= last;
    i = haystack.indexOf(first, i + 1)
  ) {
    let j = 1;
    while (j < needle.length && haystack[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

/** The boundary of a `multipart/form-data` content type. */
function boundaryOf(contentType: string): string {
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^;\s]{1,70}))/i.exec(contentType);
  if (m === null) throw bad("must declare a boundary in its content-type: none found");
  return m[1] ?? m[2];
}

/**
 * Every named part of a `multipart/form-data` body, in order.
 *
 * @throws {HttpError} 400 when the body does not follow RFC 7578.
 */
export function multipartParts(
  body: Uint8Array,
  contentType: string,
): { readonly name: string; readonly part: Part }[] {
  const encoder = new TextEncoder();
  const boundary = boundaryOf(contentType);
  const delimiter = encoder.encode(`\r\n--${boundary}`);
  const parts: { name: string; part: Part }[] = [];
  // The first delimiter may start the body without the leading CRLF.
  const opening = delimiter.subarray(2);
  let at = 0;
  if (indexOf(body.subarray(0, opening.length), opening, 0) !== 0) {
    at = indexOf(body, delimiter, 0);
    if (at < 0) throw bad(`must contain the boundary "${boundary}": it does not`);
    at += delimiter.length;
  } else {
    at = opening.length;
  }
  const decoder = new TextDecoder();
  for (;;) {
    if (body[at] === 0x2d && body[at + 1] === 0x2d) return parts; // "--": the closing delimiter
    if (body[at] !== 0x0d || body[at + 1] !== 0x0a) {
      throw bad(`must have CRLF after a boundary: byte ${at} is not`);
    }
    at += 2;
    const headEnd = indexOf(
      body.subarray(0, Math.min(body.length, at + MAX_PART_HEADER)),
      encoder.encode("\r\n\r\n"),
      at,
    );
    if (headEnd < 0) {
      throw bad(
        `part headers must end within ${MAX_PART_HEADER} bytes: the part at byte ${at} does not`,
      );
    }
    const head = decoder.decode(body.subarray(at, headEnd));
    const disposition = /^content-disposition:\s*form-data\s*(;.*)$/im.exec(head);
    if (disposition === null) {
      throw bad(
        `parts must have a content-disposition of form-data: the part at byte ${at} has none`,
      );
    }
    const name = /;\s*name="([^"]*)"/i.exec(disposition[1])?.[1];
    const filename = /;\s*filename="([^"]*)"/i.exec(disposition[1])?.[1];
    const start = headEnd + 4;
    const end = indexOf(body, delimiter, start);
    if (end < 0) throw bad(`must end with the boundary "${boundary}--": it is truncated`);
    if (name !== undefined) {
      parts.push({
        name,
        part: { bytes: body.subarray(start, end), ...(filename === undefined ? {} : { filename }) },
      });
    }
    at = end + delimiter.length;
  }
}
