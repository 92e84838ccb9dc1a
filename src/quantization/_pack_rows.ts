// 4-bit packing along the last dim: two codes per byte, element 2j of a row in the low nibble
// of byte j, 2j + 1 in the high nibble; a row of odd length ends with a zero high nibble.
import type { Kernels } from "../kernels/types.ts";

/** Packs 4-bit codes row by row (rows = the last dim; a 0-d or 1-d tensor is one row). */
export function packRows(
  codes: ArrayLike<number>,
  shape: readonly number[],
  signed: boolean,
  kernels: Kernels,
): { bytes: Uint8Array; shape: number[] } {
  // Codes of the packed type already (what `quantizeTensor` gives for 4 bits) are not copied.
  const typed = signed
    ? (codes instanceof Int8Array ? codes : Int8Array.from(codes))
    : (codes instanceof Uint8Array ? codes : Uint8Array.from(codes));
  const last = shape.length === 0 ? 1 : shape[shape.length - 1];
  const rows = last === 0 ? 0 : typed.length / last;
  const packedShape = shape.length === 0 ? [1] : [...shape.slice(0, -1), Math.ceil(last / 2)];
  if (last % 2 === 0) return { bytes: kernels.packInt4(typed), shape: packedShape };
  const width = last + 1;
  const padded = signed ? new Int8Array(rows * width) : new Uint8Array(rows * width);
  for (let r = 0; r < rows; r++) padded.set(typed.subarray(r * last, (r + 1) * last), r * width);
  return { bytes: kernels.packInt4(padded), shape: packedShape };
}

/** Unpacks `packRows` output back to `shape`. */
export function unpackRows(
  bytes: Uint8Array,
  shape: readonly number[],
  signed: boolean,
  kernels: Kernels,
): Int8Array | Uint8Array {
  const last = shape.length === 0 ? 1 : shape[shape.length - 1];
  const n = shape.reduce((a, b) => a * b, 1);
  if (last % 2 === 0) return kernels.unpackInt4(bytes, n, signed);
  const width = last + 1;
  const rows = last === 0 ? 0 : n / last;
  const wide = kernels.unpackInt4(bytes, rows * width, signed);
  const out = signed ? new Int8Array(n) : new Uint8Array(n);
  for (let r = 0; r < rows; r++) out.set(wide.subarray(r * width, r * width + last), r * last);
  return out;
}
