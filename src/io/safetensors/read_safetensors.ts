/**
 * Reading a whole safetensors file held in memory.
 *
 * @module
 */

import type { DType } from "../../tensor/dtype.ts";
import { parseHeader, parseHeaderLength } from "./parse_header.ts";

/** A tensor of a safetensors file with its stored bytes. */
export interface SafetensorsTensor {
  /** The tensor name. */
  readonly name: string;
  /** The element type. */
  readonly dtype: DType;
  /** The dims. */
  readonly shape: readonly number[];
  /** The stored little-endian bytes (a view into the file bytes, not a copy). */
  readonly data: Uint8Array;
}

/** The content of a safetensors file. */
export interface SafetensorsFile {
  /** The tensors in file order. */
  readonly tensors: readonly SafetensorsTensor[];
  /** The `__metadata__` string map (empty when absent). */
  readonly metadata: Readonly<Record<string, string>>;
}

/** Options of `readSafetensors`. */
export interface ReadSafetensorsOptions {
  /** The file name used in error messages (default `"<memory>"`). */
  readonly file?: string;
}

/**
 * Parses a safetensors file from memory. Tensor data are views into `bytes` (no copies).
 *
 * @param bytes The whole file.
 * @param options The file name for error messages.
 * @returns The tensors in file order and the metadata.
 * @throws {ModelFormatError} When the file is truncated or its header is invalid.
 *
 * @example
 * ```ts
 * import { readSafetensors } from "./read_safetensors.ts";
 * import { writeSafetensors } from "./write_safetensors.ts";
 * const bytes = writeSafetensors([{ name: "w", dtype: "U8", shape: [2], data: new Uint8Array([7, 8]) }]);
 * const { tensors } = readSafetensors(bytes);
 * if (tensors[0].name !== "w" || tensors[0].data[1] !== 8) throw new Error("unexpected");
 * ```
 */
export function readSafetensors(
  bytes: Uint8Array,
  options: ReadSafetensorsOptions = {},
): SafetensorsFile {
  const file = options.file ?? "<memory>";
  const n = parseHeaderLength(bytes, bytes.length, file);
  const header = parseHeader(bytes.subarray(8, 8 + n), bytes.length - 8 - n, file);
  const base = header.dataOffset;
  const tensors = header.entries.map((e) => ({
    name: e.name,
    dtype: e.dtype,
    shape: e.shape,
    data: bytes.subarray(base + e.begin, base + e.end),
  }));
  return { tensors, metadata: header.metadata };
}
