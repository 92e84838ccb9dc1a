/**
 * Layout changes between file layouts and PyTorch layout.
 *
 * @module
 */

/**
 * Permutes the dims of a row-major tensor: the result has shape `perm.map((p) => shape[p])`
 * and element `out[i_0, …] = data[j]` where `j` indexes the source dims `perm[k]` by `i_k`.
 *
 * @param data The values in row-major order.
 * @param shape The dims of `data`.
 * @param perm A permutation of `0 … shape.length - 1`.
 * @returns A new array in the permuted layout.
 * @throws {RangeError} When `perm` is not a permutation or `data` does not match `shape`.
 *
 * @example
 * ```ts
 * import { permute } from "./permute.ts";
 * const t = permute(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3], [1, 0]);
 * if (t.join() !== "1,4,2,5,3,6") throw new Error("unexpected");
 * ```
 */
export function permute(
  data: Float32Array,
  shape: readonly number[],
  perm: readonly number[],
): Float32Array {
  const rank = shape.length;
  if (perm.length !== rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw new RangeError(
      `"perm" must be a permutation of ${rank} dims: current value is [${perm}]`,
    );
  }
  const size = shape.reduce((a, b) => a * b, 1);
  if (data.length !== size) {
    throw new RangeError(`"data" must have ${size} elements: current value is ${data.length}`);
  }
  const out = new Float32Array(size);
  if (rank === 0 || size === 0) return (out.set(data), out);
  const strides = new Array<number>(rank);
  for (let d = rank - 1, s = 1; d >= 0; s *= shape[d], d--) strides[d] = s;
  const outShape = perm.map((p) => shape[p]);
  const srcStride = perm.map((p) => strides[p]);
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
