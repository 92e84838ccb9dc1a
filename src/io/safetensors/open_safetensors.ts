/**
 * Lazy reading of safetensors files through a random-access source: only the header is read
 * up front, each tensor's bytes when asked for, so files larger than memory can be processed
 * one tensor at a time.
 *
 * @module
 */

import { ModelFormatError } from "../model_format_error.ts";
import type { RandomAccessSource } from "../random_access.ts";
import { parseHeader, parseHeaderLength, type SafetensorsEntry } from "./parse_header.ts";

/** A safetensors file whose tensors are read on demand. */
export interface LazySafetensors {
  /** The entries (name, dtype, shape, offsets) in file order. */
  readonly entries: readonly SafetensorsEntry[];
  /** The `__metadata__` string map. */
  readonly metadata: Readonly<Record<string, string>>;
  /** The absolute offset of the data section. */
  readonly dataOffset: number;
  /**
   * Reads one tensor's stored bytes.
   *
   * @param name The tensor name.
   * @returns Its bytes.
   * @throws {RangeError} When no tensor has that name.
   */
  read(name: string): Promise<Uint8Array>;
}

/** Options of `openSafetensors`. */
export interface OpenSafetensorsOptions {
  /** The file name used in error messages (default `"<source>"`). */
  readonly file?: string;
}

async function readExactly(
  source: RandomAccessSource,
  offset: number,
  length: number,
  file: string,
  field: string,
): Promise<Uint8Array> {
  const bytes = await source.read(offset, length);
  if (bytes.length !== length) {
    throw new ModelFormatError(`read ${bytes.length} of ${length} bytes: file is truncated`, {
      file,
      field,
      offset,
    });
  }
  return bytes;
}

/**
 * Opens a safetensors file lazily: reads and validates the header; tensor data stay in the
 * source until `read(name)`.
 *
 * @param source The file (see `openFile()` in `fs.ts`, or `bytesSource()`).
 * @param options The file name for error messages.
 * @returns The lazy file.
 * @throws {ModelFormatError} When the file is truncated or its header is invalid.
 *
 * @example
 * ```ts
 * import { openSafetensors } from "./open_safetensors.ts";
 * import { writeSafetensors } from "./write_safetensors.ts";
 * import { bytesSource } from "../random_access.ts";
 * const bytes = writeSafetensors([{ name: "b", dtype: "I8", shape: [1], data: new Uint8Array([5]) }]);
 * const lazy = await openSafetensors(bytesSource(bytes));
 * if ((await lazy.read("b"))[0] !== 5) throw new Error("unexpected");
 * ```
 */
export async function openSafetensors(
  source: RandomAccessSource,
  options: OpenSafetensorsOptions = {},
): Promise<LazySafetensors> {
  const file = options.file ?? "<source>";
  const prefix = source.size >= 8
    ? await readExactly(source, 0, 8, file, "header length")
    : new Uint8Array(0);
  const n = parseHeaderLength(prefix, source.size, file);
  const headerBytes = await readExactly(source, 8, n, file, "header");
  const header = parseHeader(headerBytes, source.size - 8 - n, file);
  const byName = new Map(header.entries.map((e) => [e.name, e]));
  return {
    entries: header.entries,
    metadata: header.metadata,
    dataOffset: header.dataOffset,
    read(name) {
      const e = byName.get(name);
      if (e === undefined) {
        return Promise.reject(
          new RangeError(
            `"name" must be a tensor of the file: current value is ${JSON.stringify(name)}`,
          ),
        );
      }
      return readExactly(source, header.dataOffset + e.begin, e.end - e.begin, file, name);
    },
  };
}
