/** Building a safetensors header (shared by the in-memory and the streaming writer). */

import { type DType, DTYPE_BYTES, elementCount, isDType } from "../../tensor/dtype.ts";

/** What the header needs to know about a tensor. */
export interface TensorSpec {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

/** A built header and the order in which tensor data follow it. */
export interface BuiltHeader {
  /** The 8-byte length prefix and the space-padded JSON; its length is a multiple of 8. */
  readonly bytes: Uint8Array;
  /** Indices into the input, in data order. */
  readonly order: readonly number[];
  /** The byte length of each input tensor's data (input order). */
  readonly lengths: readonly number[];
}

/**
 * The reference implementation's dtype order (increasing alignment); tensors are written in
 * the reverse of this order, then by name, so every tensor starts at a multiple of its size.
 */
const DTYPE_RANK: Readonly<Record<DType, number>> = {
  BOOL: 0,
  U8: 1,
  I8: 2,
  F8_E5M2: 3,
  F8_E4M3: 4,
  I16: 5,
  U16: 6,
  F16: 7,
  BF16: 8,
  I32: 9,
  U32: 10,
  F32: 11,
  F64: 12,
  I64: 13,
  U64: 14,
};

function compareUtf8(a: string, b: string): number {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/**
 * Sorts tensors like the reference implementation (dtype by descending alignment, then name
 * by UTF-8 bytes); lays out the data offsets; pads the JSON with spaces so the data section
 * starts at a multiple of 8.
 */
export function buildHeader(
  specs: readonly TensorSpec[],
  metadata?: Readonly<Record<string, string>>,
): BuiltHeader {
  const names = new Set<string>();
  const lengths = specs.map((s, i) => {
    if (typeof s.name !== "string" || s.name === "__metadata__" || names.has(s.name)) {
      throw new TypeError(
        `"tensors[${i}].name" must be a unique name other than "__metadata__": current value is ${
          JSON.stringify(s.name)
        }`,
      );
    }
    names.add(s.name);
    if (!isDType(s.dtype)) {
      throw new TypeError(
        `"tensors[${i}].dtype" must be a safetensors dtype: current value is ${
          JSON.stringify(s.dtype)
        }`,
      );
    }
    const count = Array.isArray(s.shape) ? elementCount(s.shape) : undefined;
    if (count === undefined) {
      throw new RangeError(
        `"tensors[${i}].shape" must be non-negative integers: current value is ${
          JSON.stringify(s.shape)
        }`,
      );
    }
    return count * DTYPE_BYTES[s.dtype];
  });
  const order = specs.map((_, i) => i).sort((a, b) =>
    DTYPE_RANK[specs[b].dtype] - DTYPE_RANK[specs[a].dtype] ||
    compareUtf8(specs[a].name, specs[b].name)
  );
  const parts: string[] = [];
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        throw new TypeError(
          `"metadata.${k}" must be a string: current value is ${JSON.stringify(v)}`,
        );
      }
    }
    parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  for (const i of order) {
    const { name, dtype, shape } = specs[i];
    const info = JSON.stringify({ dtype, shape, data_offsets: [offset, offset + lengths[i]] });
    parts.push(`${JSON.stringify(name)}:${info}`);
    offset += lengths[i];
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  const bytes = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(padded), true);
  bytes.set(json, 8);
  return { bytes, order, lengths };
}
