/**
 * Layout changes between file layouts and PyTorch layout.
 *
 * @module
 */

/** The arrays `permute` takes: float32 values or integer codes. */
export type PermutableArray =
  | Float32Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array;

/** Checks that `perm` permutes the dims of `shape`; returns the rank. */
function checkPermutation(shape: readonly number[], perm: readonly number[]): number {
  const rank = shape.length;
  if (perm.length !== rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw new RangeError(
      `"perm" must be a permutation of ${rank} dims: current value is [${perm}]`,
    );
  }
  return rank;
}

/**
 * The permuted layout's dims and, per dim, the source stride of one step along it: the walk
 * both `permute` loops take (row-major over the output, the source index following).
 */
function walk(
  shape: readonly number[],
  perm: readonly number[],
): { outShape: number[]; srcStride: number[] } {
  const strides = new Array<number>(shape.length);
  for (let d = shape.length - 1, s = 1; d >= 0; s *= shape[d], d--) strides[d] = s;
  return { outShape: perm.map((p) => shape[p]), srcStride: perm.map((p) => strides[p]) };
}

/**
 * Permutes the dims of a row-major tensor: the result has shape `perm.map((p) => shape[p])`
 * and element `out[i_0, …] = data[j]` where `j` indexes the source dims `perm[k]` by `i_k`.
 *
 * @param data The values in row-major order (float32, or integer codes).
 * @param shape The dims of `data`.
 * @param perm A permutation of `0 … shape.length - 1`.
 * @param out Where the result goes (same type and length, not `data`); default a new array.
 * @returns The array of the same type in the permuted layout (`out` when given).
 * @throws {RangeError} When `perm` is not a permutation or `data` does not match `shape`.
 *
 * @example
 * ```ts
 * import { permute } from "./permute.ts";
 * const t = permute(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3], [1, 0]);
 * if (t.join() !== "1,4,2,5,3,6") throw new Error("unexpected");
 * ```
 */
export function permute<T extends PermutableArray>(
  data: T,
  shape: readonly number[],
  perm: readonly number[],
  out?: T,
): T {
  const rank = checkPermutation(shape, perm);
  const size = shape.reduce((a, b) => a * b, 1);
  if (data.length !== size) {
    throw new RangeError(`"data" must have ${size} elements: current value is ${data.length}`);
  }
  if (out !== undefined && (out.length !== size || out.buffer === data.buffer)) {
    throw new RangeError(
      `"out" must have ${size} elements and its own buffer: current length is ${out.length}`,
    );
  }
  out ??= new (data.constructor as new (length: number) => T)(size);
  if (rank === 0 || size === 0) return (out.set(data), out);
  const { outShape, srcStride } = walk(shape, perm);
  const index = new Array<number>(rank).fill(0);
  let src = 0;
  for (let i = 0; i < size; i++) {
    out[i] = data[src];
    for (let k = rank - 1; k >= 0; k--) {
      index[k]++;
      src += srcStride[k];
      if (index[k] < outShape[k]) break;
      src -= srcStride[k] * outShape[k];
      index[k] = 0;
    }
  }
  return out;
}

/**
 * The inverse of a permutation (to map PyTorch layout back to the file layout).
 *
 * @param perm A permutation.
 * @returns `inv` with `inv[perm[k]] = k`.
 *
 * @example
 * ```ts
 * import { invertPermutation } from "./permute.ts";
 * if (invertPermutation([2, 0, 1]).join() !== "1,2,0") throw new Error("unexpected");
 * ```
 */
export function invertPermutation(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, k) => inv[p] = k);
  return inv;
}

/**
 * `permute` of little-endian float32 bytes at any offset (an ONNX `raw_data` field is rarely
 * 4-byte aligned): read in place, with no aligned copy of the bytes first.
 *
 * @param bytes The values as little-endian float32 bytes, row-major.
 * @param shape The dims of the values.
 * @param perm A permutation of `0 … shape.length - 1`.
 * @param out Where the result goes (the permuted layout's length); default a new array.
 * @returns The values in the permuted layout (`out` when given).
 * @throws {RangeError} When `perm` is not a permutation or the bytes or `out` do not match.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { permute, permuteFloat32Bytes } from "./permute.ts";
 *
 * const values = new Float32Array([1, 2, 3, 4, 5, 6]);
 * const bytes = new Uint8Array(25);
 * bytes.set(new Uint8Array(values.buffer), 1);
 * const t = permuteFloat32Bytes(bytes.subarray(1), [2, 3], [1, 0]);
 * assert.deepEqual([...t], [...permute(values, [2, 3], [1, 0])]);
 * ```
 */
export function permuteFloat32Bytes(
  bytes: Uint8Array,
  shape: readonly number[],
  perm: readonly number[],
  out?: Float32Array,
): Float32Array {
  const rank = checkPermutation(shape, perm);
  const size = shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== size * 4) {
    throw new RangeError(
      `"bytes" must hold ${size} float32 values: current length is ${bytes.length}`,
    );
  }
  if (out !== undefined && (out.length !== size || out.buffer === bytes.buffer)) {
    throw new RangeError(
      `"out" must have ${size} elements and its own buffer: current length is ${out.length}`,
    );
  }
  out ??= new Float32Array(size);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (rank === 0 || size === 0) {
    for (let i = 0; i < size; i++) out[i] = view.getFloat32(i * 4, true);
    return out;
  }
  const { outShape, srcStride } = walk(shape, perm);
  const index = new Array<number>(rank).fill(0);
  let src = 0;
  for (let i = 0; i < size; i++) {
    out[i] = view.getFloat32(src * 4, true);
    for (let k = rank - 1; k >= 0; k--) {
      index[k]++;
      src += srcStride[k];
      if (index[k] < outShape[k]) break;
      src -= srcStride[k] * outShape[k];
      index[k] = 0;
    }
  }
  return out;
}
