/**
 * Validation of a safetensors header: the 8-byte length prefix and the JSON that follows.
 *
 * @module
 */

import { type DType, DTYPE_BYTES, elementCount, isDType } from "../../tensor/dtype.ts";
import { ModelFormatError } from "../model_format_error.ts";

/** The largest header accepted, in bytes (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000;

/** One tensor entry of a safetensors header. */
export interface SafetensorsEntry {
  /** The tensor name. */
  readonly name: string;
  /** The element type. */
  readonly dtype: DType;
  /** The dims. */
  readonly shape: readonly number[];
  /** The first byte of the data, relative to the data section. */
  readonly begin: number;
  /** One past the last byte, relative to the data section. */
  readonly end: number;
}

/** A validated safetensors header. */
export interface SafetensorsHeader {
  /** The entries in file order (by data offset). */
  readonly entries: readonly SafetensorsEntry[];
  /** The free-form `__metadata__` string map (empty when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  /** The absolute offset of the data section (8 + header length). */
  readonly dataOffset: number;
}

/**
 * Reads and checks the 8-byte little-endian header length.
 *
 * @param prefix At least the first 8 bytes of the file (fewer means the file is truncated).
 * @param fileSize The size of the whole file.
 * @param file The file label for errors.
 * @returns The header length in bytes.
 * @throws {ModelFormatError} When the file is shorter than 8 bytes, or the length exceeds
 * `MAX_HEADER_BYTES` or the file.
 *
 * @example
 * ```ts
 * import { parseHeaderLength } from "./parse_header.ts";
 * const n = parseHeaderLength(new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0]), 10, "a.safetensors");
 * if (n !== 2) throw new Error("unexpected");
 * ```
 */
export function parseHeaderLength(prefix: Uint8Array, fileSize: number, file: string): number {
  const field = "header length";
  if (prefix.length < 8 || fileSize < 8) {
    throw new ModelFormatError(`file is ${fileSize} bytes, shorter than the 8-byte header length`, {
      file,
      field,
    });
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new ModelFormatError(
      `header length ${n} exceeds the limit of ${MAX_HEADER_BYTES} bytes`,
      {
        file,
        field,
      },
    );
  }
  if (Number(n) > fileSize - 8) {
    throw new ModelFormatError(
      `header length ${n} exceeds the ${fileSize - 8} bytes after the length prefix`,
      { file, field },
    );
  }
  return Number(n);
}

function fieldOffset(text: string, name: string): number {
  const at = text.indexOf(JSON.stringify(name));
  return 8 + (at < 0 ? 0 : new TextEncoder().encode(text.slice(0, at)).length);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Parses and validates the header JSON: `__metadata__` must map strings to strings; every other
 * key is a tensor with a known `dtype`, a `shape` of non-negative integers and `data_offsets`
 * `[begin, end]` whose length is the element count times the dtype size; the tensors must tile
 * the data section `[0, dataSize]` without gaps or overlaps (in any key order).
 *
 * @param headerBytes The header bytes (after the 8-byte length).
 * @param dataSize The size of the data section (file size - 8 - header length).
 * @param file The file label for errors.
 * @returns The validated header, entries in file order.
 * @throws {ModelFormatError} Naming the tensor or field and its byte offset in the file.
 *
 * @example
 * ```ts
 * import { parseHeader } from "./parse_header.ts";
 * const json = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
 * const h = parseHeader(new TextEncoder().encode(json), 8, "a.safetensors");
 * if (h.entries[0].name !== "w" || h.dataOffset !== 8 + json.length) throw new Error("unexpected");
 * ```
 */
export function parseHeader(
  headerBytes: Uint8Array,
  dataSize: number,
  file: string,
): SafetensorsHeader {
  let text: string;
  let json: unknown;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
    json = JSON.parse(text);
  } catch (cause) {
    throw new ModelFormatError("header is not UTF-8 JSON", {
      file,
      field: "header",
      offset: 8,
      cause,
    });
  }
  if (!isRecord(json)) {
    throw new ModelFormatError("header must be a JSON object", {
      file,
      field: "header",
      offset: 8,
    });
  }
  const bad = (name: string, problem: string): ModelFormatError =>
    new ModelFormatError(problem, { file, field: name, offset: fieldOffset(text, name) });
  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, info] of Object.entries(json)) {
    if (name === "__metadata__") {
      if (info === null) continue; // the reference implementation reads null as no metadata
      if (!isRecord(info) || !Object.values(info).every((v) => typeof v === "string")) {
        throw bad(name, "__metadata__ must be an object of strings");
      }
      metadata = Object.assign(Object.create(null), info) as Record<string, string>;
      continue;
    }
    if (!isRecord(info)) throw bad(name, "tensor entry must be an object");
    const { dtype, shape, data_offsets: offsets } = info;
    if (!isDType(dtype)) throw bad(name, `unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape)) throw bad(name, "shape must be an array of non-negative integers");
    const count = elementCount(shape);
    if (count === undefined) {
      throw bad(
        name,
        `shape ${
          JSON.stringify(shape)
        } must hold non-negative integers whose product is a safe integer`,
      );
    }
    if (
      !Array.isArray(offsets) || offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]
    ) {
      throw bad(
        name,
        `data_offsets ${JSON.stringify(offsets)} must be [begin, end] with 0 <= begin <= end`,
      );
    }
    const bytes = count * DTYPE_BYTES[dtype];
    if (!Number.isSafeInteger(bytes) || offsets[1] - offsets[0] !== bytes) {
      throw bad(
        name,
        `data_offsets [${offsets}] span ${offsets[1] - offsets[0]} bytes but ${dtype} ${
          JSON.stringify(shape)
        } needs ${bytes}`,
      );
    }
    entries.push({ name, dtype, shape: shape as number[], begin: offsets[0], end: offsets[1] });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let end = 0;
  for (const e of entries) {
    if (e.begin !== end) {
      const what = e.begin < end
        ? "overlaps the previous tensor"
        : "leaves a gap after the previous tensor";
      throw bad(e.name, `data_offsets [${e.begin}, ${e.end}] ${what} (which ends at ${end})`);
    }
    end = e.end;
  }
  if (end !== dataSize) {
    const last = entries.at(-1)?.name ?? "header";
    throw bad(last, `tensors end at data byte ${end} but the data section has ${dataSize} bytes`);
  }
  return { entries, metadata, dataOffset: 8 + headerBytes.length };
}
