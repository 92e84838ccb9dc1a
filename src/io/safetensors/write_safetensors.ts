/**
 * Writing safetensors files, in memory or streamed to a sink one tensor at a time.
 *
 * @module
 */

import type { DType } from "../../tensor/dtype.ts";
import { buildHeader } from "./_header.ts";

/** A tensor to write. */
export interface SafetensorsInput {
  /** The tensor name (unique, not `"__metadata__"`). */
  readonly name: string;
  /** The element type. */
  readonly dtype: DType;
  /** The dims. */
  readonly shape: readonly number[];
  /** The little-endian bytes (any typed array is taken as its bytes). */
  readonly data: ArrayBufferView;
}

/** A tensor to stream: its data are produced only when it is written. */
export interface SafetensorsStreamInput {
  /** The tensor name (unique, not `"__metadata__"`). */
  readonly name: string;
  /** The element type. */
  readonly dtype: DType;
  /** The dims. */
  readonly shape: readonly number[];
  /**
   * Produces the little-endian bytes; called once, when the tensor is written. `null`: the
   * producer wrote them at the tensor's place itself (another thread, through `ByteSink.file`),
   * so they are passed over with `ByteSink.skip`.
   */
  readonly data: () => ArrayBufferView | null | Promise<ArrayBufferView | null>;
  /**
   * The tensor's bytes are in the sink's file already, at the offset `safetensorsLayout` gives
   * (written there with `ByteSink.writeAt`): passed over with `ByteSink.skip`, `data` unused.
   */
  readonly written?: boolean;
}

/** Where streamed bytes go (`createFileSink()` in `fs.ts`, or any collector). */
export interface ByteSink {
  /**
   * Appends bytes.
   *
   * @param chunk The bytes; the sink must not keep a reference after returning.
   */
  write(chunk: Uint8Array): void | Promise<void>;
  /**
   * Writes bytes at an offset of the output ahead of the appended bytes reaching it (a file
   * sink: a tensor whose place is known before the bytes before it are written). The bytes are
   * then passed over with `skip`.
   */
  writeAt?(offset: number, chunk: Uint8Array): void | Promise<void>;
  /** Moves the append position past `n` bytes that `writeAt` wrote. */
  skip?(n: number): void | Promise<void>;
  /**
   * The file being written, when the sink is one (`writeFileAtomic`): other threads may write
   * the ranges `writeAt` would (`writeFileRange`), then report them with `wrote`.
   */
  readonly file?: OutputFile;
}

/** A file being written by `writeFileAtomic`, for `writeFileRange` on other threads. */
export interface OutputFile {
  /** The temporary file's path (renamed to `destination` when complete). */
  readonly path: string;
  /** The output's path, for messages. */
  readonly destination: string;
  /** What the file is, for messages. */
  readonly label: string;
  /** Tells the sink that `n` bytes were written at ranges of the file by another handle. */
  wrote(n: number): void;
}

/** Options of the writers. */
export interface WriteSafetensorsOptions {
  /** The `__metadata__` string map (omitted from the header when absent). */
  readonly metadata?: Readonly<Record<string, string>>;
}

function asBytes(view: ArrayBufferView | null, name: string, length: number): Uint8Array {
  if (view === null) {
    throw new TypeError(
      `"${name}.data" gave null (written at its place in a file), which this output cannot take`,
    );
  }
  if (!ArrayBuffer.isView(view)) {
    throw new TypeError(`"${name}.data" must be a typed array: current value is ${String(view)}`);
  }
  if (view.byteLength !== length) {
    throw new RangeError(
      `"${name}.data" must have ${length} bytes for its dtype and shape: current value is ${view.byteLength}`,
    );
  }
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/**
 * Encodes tensors as a safetensors file, laid out like the reference implementation writes
 * it: `__metadata__` first, tensors ordered by dtype (descending alignment: U64, I64, F64, F32,
 * U32, I32, BF16, F16, U16, I16, F8_E4M3, F8_E5M2, I8, U8, BOOL), then by name, and the header
 * padded with spaces to a multiple of 8 bytes, so every tensor is aligned to its element size.
 * The output depends only on the set of tensors and the metadata.
 *
 * @param tensors The tensors.
 * @param options The metadata.
 * @returns The file bytes.
 * @throws {TypeError} On a duplicate or reserved name, an unknown dtype or non-typed-array data.
 * @throws {RangeError} On an invalid shape or a data length that does not match it.
 *
 * @example
 * ```ts
 * import { writeSafetensors } from "./write_safetensors.ts";
 * const f = writeSafetensors([{ name: "w", dtype: "F32", shape: [1], data: new Float32Array([1]) }]);
 * if (f.length % 4 !== 0) throw new Error("unexpected");
 * ```
 */
export function writeSafetensors(
  tensors: readonly SafetensorsInput[],
  options: WriteSafetensorsOptions = {},
): Uint8Array {
  const header = buildHeader(tensors, options.metadata);
  const total = header.bytes.length + header.lengths.reduce((a, b) => a + b, 0);
  const out = new Uint8Array(total);
  out.set(header.bytes);
  let at = header.bytes.length;
  for (const i of header.order) {
    out.set(asBytes(tensors[i].data, tensors[i].name, header.lengths[i]), at);
    at += header.lengths[i];
  }
  return out;
}

/**
 * Streams a safetensors file to a sink, producing and writing one tensor at a time, so memory
 * holds at most one tensor. Same layout as `writeSafetensors`.
 *
 * @param tensors The tensors with lazy data.
 * @param sink Where the bytes go.
 * @param options The metadata.
 * @returns The number of bytes written.
 * @throws {TypeError} On a duplicate or reserved name, an unknown dtype or non-typed-array data.
 * @throws {RangeError} On an invalid shape or a data length that does not match it.
 *
 * @example
 * ```ts
 * import { streamSafetensors } from "./write_safetensors.ts";
 * const chunks: Uint8Array[] = [];
 * const n = await streamSafetensors(
 *   [{ name: "w", dtype: "U8", shape: [3], data: () => new Uint8Array([1, 2, 3]) }],
 *   { write: (c) => void chunks.push(c.slice()) },
 * );
 * if (n !== chunks.reduce((a, c) => a + c.length, 0)) throw new Error("unexpected");
 * ```
 */
export async function streamSafetensors(
  tensors: readonly SafetensorsStreamInput[],
  sink: ByteSink,
  options: WriteSafetensorsOptions = {},
): Promise<number> {
  const header = buildHeader(tensors, options.metadata);
  await sink.write(header.bytes);
  let written = header.bytes.length;
  for (const i of header.order) {
    const t = tensors[i];
    if (t.written === true) {
      if (sink.skip === undefined) {
        throw new TypeError(
          `tensor ${JSON.stringify(t.name)} is marked written, but the sink cannot pass over bytes`,
        );
      }
      await sink.skip(header.lengths[i]);
      written += header.lengths[i];
      continue;
    }
    const data = await t.data();
    if (data === null) {
      if (sink.skip === undefined) {
        throw new TypeError(
          `tensor ${
            JSON.stringify(t.name)
          } was written at its place, but the sink cannot pass over bytes`,
        );
      }
      await sink.skip(header.lengths[i]);
      written += header.lengths[i];
      continue;
    }
    const bytes = asBytes(data, t.name, header.lengths[i]);
    await sink.write(bytes);
    written += bytes.length;
  }
  return written;
}

/**
 * Where `streamSafetensors` puts each tensor: its byte offset in the file, by name (the header
 * depends only on the names, dtypes, shapes and metadata).
 *
 * @param tensors The tensors (their data is not read).
 * @param options The metadata.
 * @returns The offsets, and the file's size.
 * @throws {TypeError} On a duplicate or reserved name or an unknown dtype.
 * @throws {RangeError} On an invalid shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { safetensorsLayout, writeSafetensors } from "./write_safetensors.ts";
 * const w = { name: "w", dtype: "U8" as const, shape: [3], data: new Uint8Array([1, 2, 3]) };
 * const file = writeSafetensors([w]);
 * const { offsets, size } = safetensorsLayout([w]);
 * assert.equal(size, file.length);
 * assert.deepEqual([...file.subarray(offsets.get("w")!, size)], [1, 2, 3]);
 * ```
 */
export function safetensorsLayout(
  tensors: readonly Pick<SafetensorsStreamInput, "name" | "dtype" | "shape">[],
  options: WriteSafetensorsOptions = {},
): { offsets: Map<string, number>; size: number } {
  const header = buildHeader(tensors, options.metadata);
  const offsets = new Map<string, number>();
  let at = header.bytes.length;
  for (const i of header.order) {
    offsets.set(tensors[i].name, at);
    at += header.lengths[i];
  }
  return { offsets, size: at };
}

/**
 * Writes tensors whose data is produced on demand into one buffer of the file's exact size (the
 * header gives it): memory holds the output and one tensor's data at a time, never every
 * tensor's data and then a copy of them all. Same layout as `writeSafetensors`.
 *
 * @param tensors The tensors with lazy data.
 * @param options The metadata.
 * @returns The file bytes.
 * @throws {TypeError} On a duplicate or reserved name, an unknown dtype or non-typed-array data.
 * @throws {RangeError} On an invalid shape or a data length that does not match it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { collectSafetensors, writeSafetensors } from "./write_safetensors.ts";
 * const bytes = await collectSafetensors([{ name: "w", dtype: "U8", shape: [3], data: () => new Uint8Array([1, 2, 3]) }]);
 * assert.deepEqual(bytes, writeSafetensors([{ name: "w", dtype: "U8", shape: [3], data: new Uint8Array([1, 2, 3]) }]));
 * ```
 */
export async function collectSafetensors(
  tensors: readonly SafetensorsStreamInput[],
  options: WriteSafetensorsOptions = {},
): Promise<Uint8Array> {
  const header = buildHeader(tensors, options.metadata);
  let at = header.bytes.length;
  const out = new Uint8Array(at + header.lengths.reduce((a, b) => a + b, 0));
  out.set(header.bytes, 0);
  for (const i of header.order) {
    const t = tensors[i];
    const bytes = asBytes(await t.data(), t.name, header.lengths[i]);
    out.set(bytes, at);
    at += bytes.length;
  }
  return out;
}
