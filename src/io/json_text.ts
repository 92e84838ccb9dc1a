/**
 * `jsonText`: a JSON document read from file bytes, with errors that say where (line and column)
 * and never echo the file's content.
 *
 * @module
 */

import { FileError } from "./file_error.ts";

/**
 * The offset of the first character where `text` stops being valid JSON (engines' own messages
 * rarely say where). Iterative, so deep nesting cannot overflow the stack.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const n = text.length;
  const ws = () => {
    while (i < n && (text[i] === " " || text[i] === "\n" || text[i] === "\r" || text[i] === "\t")) {
      i++;
    }
  };
  // Each stack entry is the container being read: "{" or "[".
  const stack: string[] = [];
  const scalar = (): boolean => {
    const c = text[i];
    if (c === '"') {
      i++;
      while (i < n && text[i] !== '"') {
        const code = text.charCodeAt(i);
        if (code < 0x20) return false;
        if (text[i] === "\\") {
          i++;
          if (text[i] === "u") {
            if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) return false;
            i += 4;
          } else if (!'"\\/bfnrt'.includes(text[i] ?? "")) return false;
        }
        i++;
      }
      if (i >= n) return false;
      i++;
      return true;
    }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (m !== null && m[0] !== "" && m[0] !== "-") {
      i += m[0].length;
      return true;
    }
    for (const word of ["true", "false", "null"]) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return true;
      }
    }
    return false;
  };
  ws();
  for (;;) {
    // Expect a value.
    if (text[i] === "{" || text[i] === "[") {
      stack.push(text[i]);
      i++;
      ws();
      const close = stack[stack.length - 1] === "{" ? "}" : "]";
      if (text[i] === close) {
        stack.pop();
        i++;
      } else {
        if (close === "}") {
          if (text[i] !== '"' || !scalar()) return i;
          ws();
          if (text[i] !== ":") return i;
          i++;
          ws();
        }
        continue;
      }
    } else if (!scalar()) return i;
    // After a value: a comma, a closing bracket, or the end.
    for (;;) {
      ws();
      if (stack.length === 0) return i < n ? i : -1;
      const top = stack[stack.length - 1];
      if (text[i] === ",") {
        i++;
        ws();
        if (top === "{") {
          if (text[i] !== '"' || !scalar()) return i;
          ws();
          if (text[i] !== ":") return i;
          i++;
          ws();
        }
        break;
      }
      if (text[i] === (top === "{" ? "}" : "]")) {
        stack.pop();
        i++;
        continue;
      }
      return i;
    }
  }
}

/** Line and column (1-based) of a character offset. */
function lineColumn(text: string, offset: number): string {
  let line = 1;
  let column = 1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      column = 1;
    } else column++;
  }
  return `line ${line}, column ${column}`;
}

/**
 * Decodes UTF-8 JSON from a file's bytes. Binary data (a NUL byte or invalid UTF-8) and
 * malformed JSON are `FileError`s naming the file and the place; the message never contains the
 * file's bytes.
 *
 * @param bytes The file's bytes.
 * @param label What the file is (`"report file"`).
 * @param path The file's path.
 * @returns The parsed value.
 * @throws {FileError} `not_text` for binary data, `not_json` for malformed JSON.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jsonText } from "./json_text.ts";
 *
 * assert.deepEqual(jsonText(new TextEncoder().encode('{"a": 1}'), "report file", "r.json"), { a: 1 });
 * assert.throws(
 *   () => jsonText(new TextEncoder().encode('{"a":\n  oops}'), "report file", "r.json"),
 *   /cannot read report file "r.json": it is not JSON at line 2, column 3/,
 * );
 * assert.throws(() => jsonText(new Uint8Array([0, 97, 115, 109]), "report file", "r.wasm"), /binary data at byte 0/);
 * ```
 */
export function jsonText(bytes: Uint8Array, label: string, path: string): unknown {
  const nul = bytes.indexOf(0);
  let text: string;
  try {
    if (nul >= 0) throw new RangeError("NUL");
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    const at = nul >= 0 ? ` at byte ${nul}` : "";
    throw new FileError(
      "not_text",
      `cannot read ${label} "${path}": it holds binary data${at}, not JSON text`,
      path,
    );
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    const at = jsonErrorOffset(text);
    const where = text.trim() === ""
      ? " (it is empty)"
      : at >= text.length
      ? " (it ends too early)"
      : at >= 0
      ? ` at ${lineColumn(text, at)}`
      : "";
    throw new FileError(
      "not_json",
      `cannot read ${label} "${path}": it is not JSON${where}`,
      path,
      {
        cause: e,
      },
    );
  }
}
