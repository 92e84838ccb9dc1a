// Parameter counts and packed sizes of a model, before and after compression.
import { DTYPE_BYTES } from "../tensor/dtype.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import type { TensorChange } from "./_tensor_change.ts";

/**
 * Elements and stored bytes of every distinct parameter, and the bytes after changes: with
 * `packed`, a quantized tensor counts its bits per element plus a float32 scale (and a zero
 * point when affine) per block; with `float` (fake-quantized values written in the original
 * dtype) it keeps its stored size, which is what the file holds.
 */
export function parameterSizes(
  model: ModelGraph,
  changes: readonly TensorChange[],
  quantized: "packed" | "float" = "packed",
): { parameters: number; before: number; after: number } {
  const packed = new Map(
    changes.filter((c) => c.bits !== null && quantized === "packed").map((c) => [c.ref.name, c]),
  );
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
      const q = packed.get(ref.name);
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

/** The bytes of all tensors of a safetensors file (the file less its header). */
export function safetensorsDataBytes(bytes: Uint8Array): number {
  // An 8-byte little-endian header length, the JSON header, then the tensors' bytes.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return bytes.length - 8 - Number(view.getBigUint64(0, true));
}
