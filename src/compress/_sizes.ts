// Parameter counts and packed sizes of a model, before and after compression.
import { DTYPE_BYTES } from "../tensor/dtype.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import type { TensorChange } from "./_tensor_change.ts";

/** Elements and stored bytes of every distinct parameter, and the packed bytes after changes. */
export function parameterSizes(
  model: ModelGraph,
  changes: readonly TensorChange[],
): { parameters: number; before: number; after: number } {
  const quantized = new Map(changes.filter((c) => c.bits !== null).map((c) => [c.ref.name, c]));
  const seen = new Set<string>();
  let parameters = 0;
  let before = 0;
  let after = 0;
  for (const m of model.modules) {
    for (const ref of Object.values(m.params)) {
      if (seen.has(ref.name)) continue;
      seen.add(ref.name);
      const n = ref.shape.reduce((a, b) => a * b, 1);
      const stored = n * DTYPE_BYTES[ref.dtype];
      parameters += n;
      before += stored;
      const q = quantized.get(ref.name);
      if (q === undefined) {
        after += stored;
        continue;
      }
      const bits = q.bits!;
      const blocks = q.blocks ?? 1;
      after += Math.ceil((n * bits) / 8) + blocks * 4 +
        (q.zeroPoints ? Math.ceil((blocks * bits) / 8) : 0);
    }
  }
  return { parameters, before, after };
}
