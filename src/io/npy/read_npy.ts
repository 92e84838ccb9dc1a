/**
 * `readNpy`: a NumPy `.npy` file (format versions 1 to 3) as an input tensor.
 *
 * @module
 */

import { ModelFormatError } from "../model_format_error.ts";
import type { InputTensor, OrtTensorType } from "../onnx/ort.ts";
import { ORT_ARRAYS } from "../onnx/ort.ts";

/** Little-endian (or byte-order-free) `descr` codes and their element types. */
const DESCR: Readonly<Record<string, OrtTensorType>> = {
  "<f4": "float32",
  "<f8": "float64",
  "<f2": "float16",
  "<i8": "int64",
  "<i4": "int32",
  "<i2": "int16",
  "|i1": "int8",
  "<u8": "uint64",
  "<u4": "uint32",
  "<u2": "uint16",
  "|u1": "uint8",
  "|b1": "bool",
};

/** Options of `readNpy`. */
export interface ReadNpyOptions {
  /** The file label used in errors (default `"<memory>"`). */
  readonly file?: string;
}

/**
 * Parses a `.npy` file: magic, version, the header dict (`descr`, `fortran_order`, `shape`),
 * then the values, copied into a typed array of their type (float16 as `Uint16Array` bits with
 * `type: "float16"`, bool as `Uint8Array` with `type: "bool"`).
 *
 * @param bytes The file bytes.
 * @param options The file label for errors.
 * @returns The tensor.
 * @throws {ModelFormatError} When the magic, header or data size is wrong, the data is
 * big-endian or Fortran-ordered, or the type is not numeric (naming the file and byte offset).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readNpy } from "./read_npy.ts";
 *
 * const header = "{'descr': '<i8', 'fortran_order': False, 'shape': (), }".padEnd(117) + "\n";
 * const bytes = new Uint8Array(128 + 8);
 * bytes.set([0x93, ...new TextEncoder().encode("NUMPY"), 1, 0, 118, 0]);
 * bytes.set(new TextEncoder().encode(header), 10);
 * new DataView(bytes.buffer).setBigInt64(128, 16000n, true);
 * const t = readNpy(bytes, { file: "sr.npy" });
 * assert.deepEqual(t.dims, []);
 * assert.deepEqual([...t.data], [16000n]);
 * ```
 */
export function readNpy(bytes: Uint8Array, options: ReadNpyOptions = {}): InputTensor {
  const file = options.file ?? "<memory>";
  const fail = (problem: string, field: string, offset: number): never => {
    throw new ModelFormatError(problem, { file, field, offset });
  };
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) {
    fail("a .npy file must start with \\x93NUMPY", "magic", 0);
  }
  const major = bytes[6];
  if (major < 1 || major > 3) fail(`npy version ${major} is not 1, 2 or 3`, "version", 6);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const wide = major >= 2;
  if (wide && bytes.length < 12) fail("the header length runs past the end", "header_len", 8);
  const headerLength = wide ? view.getUint32(8, true) : view.getUint16(8, true);
  const start = wide ? 12 : 10;
  const dataStart = start + headerLength;
  if (dataStart > bytes.length) fail("the header runs past the end", "header", start);
  const header = new TextDecoder().decode(bytes.subarray(start, dataStart));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    fail(
      `the header must give descr, fortran_order and shape: current value is ${header.trim()}`,
      "header",
      start,
    );
  }
  const type = DESCR[descr!.replace(/^=/, "<")];
  if (type === undefined) {
    fail(
      `dtype ${descr} is not a little-endian number or bool (${Object.keys(DESCR).join(", ")})`,
      "header.descr",
      start,
    );
  }
  if (fortran === "True") {
    fail("Fortran-ordered arrays are not read: save with order C", "header.fortran_order", start);
  }
  const dims = shapeText!.split(",").map((d) => d.trim()).filter((d) => d !== "").map(Number);
  if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(
      `the shape must be non-negative integers: current value is (${shapeText})`,
      "header.shape",
      start,
    );
  }
  const count = dims.reduce((a, b) => a * b, 1);
  const C = ORT_ARRAYS[type] as unknown as {
    new (b: ArrayBuffer): InputTensor["data"];
    BYTES_PER_ELEMENT: number;
  };
  const size = count * C.BYTES_PER_ELEMENT;
  if (bytes.length - dataStart < size) {
    fail(
      `shape (${dims.join(", ")}) of ${type} needs ${size} bytes of data: the file has ${
        bytes.length - dataStart
      }`,
      "data",
      dataStart,
    );
  }
  const copy = bytes.slice(dataStart, dataStart + size).buffer;
  const data = new C(copy);
  return { data, dims, ...(type === "float16" || type === "bool" ? { type } : {}) };
}
