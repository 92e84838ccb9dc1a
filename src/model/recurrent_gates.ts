/**
 * Gate order of recurrent layers: ONNX stores the gate blocks of `LSTM` as i, o, f, c and of
 * `GRU` as z, r, h; PyTorch stores them as i, f, g, o and r, z, n.
 *
 * @module
 */

/** A recurrent module type. */
export type RecurrentType = "LSTM" | "GRU" | "RNN";

/** For each type, the ONNX gate block that holds PyTorch's gate block `k`. */
export const TORCH_GATE_FROM_ONNX = {
  LSTM: [0, 2, 3, 1],
  GRU: [1, 0, 2],
  RNN: [0],
} as const satisfies Record<RecurrentType, readonly number[]>;

/**
 * Reorders the gate blocks of an ONNX recurrent parameter (`W`/`R` `[directions,
 * gates * hidden, input]`, or `B` `[directions, 2 * gates * hidden]`, whose two halves are the
 * input and the recurrent biases) between ONNX and PyTorch order. The dims stay the same:
 * direction `d` of the result, reshaped to `[gates * hidden, input]` (or split into halves for
 * `B`), is PyTorch's `weight_ih_l0` (`_reverse` for `d = 1`), `weight_hh_l0`, `bias_ih_l0` and
 * `bias_hh_l0`.
 *
 * @param type The module type.
 * @param values The values, row-major.
 * @param shape Their dims (rank 3 for weights, rank 2 for biases).
 * @param options `toOnnx: true` for the inverse (PyTorch order to ONNX order).
 * @returns A new array with the gate blocks reordered.
 * @throws {RangeError} When the shape is not a recurrent weight or bias of `type`, or does not
 * match the number of values.
 *
 * @example
 * ```ts
 * import { reorderGates } from "./recurrent_gates.ts";
 * // LSTM, hidden 1, input 1: ONNX rows i, o, f, c = 1, 2, 3, 4.
 * const torch = reorderGates("LSTM", new Float32Array([1, 2, 3, 4]), [1, 4, 1]);
 * if (torch.join() !== "1,3,4,2") throw new Error("unexpected"); // i, f, g, o
 * if (reorderGates("LSTM", torch, [1, 4, 1], { toOnnx: true }).join() !== "1,2,3,4") {
 *   throw new Error("unexpected");
 * }
 * ```
 */
export function reorderGates(
  type: RecurrentType,
  values: Float32Array,
  shape: readonly number[],
  options: { readonly toOnnx?: boolean } = {},
): Float32Array {
  const gates: readonly number[] = TORCH_GATE_FROM_ONNX[type];
  const g = gates.length;
  const perm = shape.length === 3 ? gates : [...gates, ...gates.map((p) => p + g)];
  const rows = shape[1] ?? 0;
  const n = shape.reduce((a, b) => a * b, 1);
  if (
    (shape.length !== 2 && shape.length !== 3) || rows % perm.length !== 0 || n !== values.length
  ) {
    throw new RangeError(
      `"shape" must be a ${type} weight [directions, ${g} * hidden, input] or bias [directions, ${
        2 * g
      } * hidden] of ${values.length} values: current value is [${shape}]`,
    );
  }
  const perDirection = n / (shape[0] || 1);
  const block = perDirection / perm.length;
  const out = new Float32Array(n);
  for (let d = 0; d < shape[0]; d++) {
    for (let k = 0; k < perm.length; k++) {
      const torch = d * perDirection + k * block;
      const onnx = d * perDirection + perm[k] * block;
      if (options.toOnnx) out.set(values.subarray(torch, torch + block), onnx);
      else out.set(values.subarray(onnx, onnx + block), torch);
    }
  }
  return out;
}
