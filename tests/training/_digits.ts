// The UCI digits data and the 64-32-10 MLP of examples/digits: the first 1,347 rows train, the
// last 450 are the hold-out set.
export { loadDigits } from "../../examples/digits/data.ts";
export { fit, mlp } from "../../examples/digits/model.ts";

/** Accuracy in percent of logits (row-major `[n, 10]`) against labels. */
export function accuracyOf(logits: ArrayLike<number>, labels: Int32Array): number {
  let right = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let k = 1; k < 10; k++) if (logits[i * 10 + k] > logits[i * 10 + best]) best = k;
    right += best === labels[i] ? 1 : 0;
  }
  return (100 * right) / labels.length;
}
