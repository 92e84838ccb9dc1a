// Reading a request body with a size bound.
import { HttpError } from "./_errors.ts";

/** The whole body, refusing (413) more than `max` bytes, by Content-Length or while streaming. */
export async function readBody(request: Request, max: number): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > max) {
    await request.body?.cancel();
    throw new HttpError(413, `the body is ${declared} bytes; this endpoint accepts at most ${max}`);
  }
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel();
      throw new HttpError(413, `the body exceeds ${max} bytes, the most this endpoint accepts`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) (out.set(c, at), at += c.length);
  return out;
}
