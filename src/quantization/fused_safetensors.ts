/**
 * `fusedSafetensors`: a safetensors file with its `fuse_names` groups fused (BatchNorm folded).
 *
 * @module
 */

import type { SafetensorsFile, SafetensorsTensor } from "../io/safetensors/read_safetensors.ts";
import type { FusedModel } from "./fuse_model.ts";
import { QuantizationError } from "./quantization_error.ts";

/** The `__metadata__` key that lists the fused groups and the dropped tensors. */
export const FUSED_METADATA_KEY = "nncompress.fused";

/**
 * The `__metadata__` entry describing a fusion: `{"groups": [[first, second(, third)], …],
 * "dropped": [tensor names]}` as JSON under `"nncompress.fused"`.
 *
 * @param fused The result of `fuseModel`.
 * @returns The metadata entry (empty when nothing was fused).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fusedMetadata } from "./fused_safetensors.ts";
 *
 * const meta = fusedMetadata({ groups: [{ path: "[0].fuse_names[0]", modules: ["c", "b"], first: "c", bn: "b" }],
 *   droppedTensors: ["b.running_mean"] } as never);
 * assert.deepEqual(JSON.parse(meta["nncompress.fused"]), { groups: [["c", "b"]], dropped: ["b.running_mean"] });
 * ```
 */
export function fusedMetadata(
  fused: Pick<FusedModel, "groups" | "droppedTensors">,
): Record<string, string> {
  if (fused.groups.length === 0) return {};
  return {
    [FUSED_METADATA_KEY]: JSON.stringify({
      groups: fused.groups.map((g) => g.modules),
      dropped: fused.droppedTensors,
    }),
  };
}

/**
 * The safetensors file of a fused model: folded weights and biases under the first module's
 * names (a bias the module lacked is added after its weight, named like the weight with
 * `weight` → `bias`, else `<module>.bias`), the folded BatchNorms' tensors dropped, and `fusedMetadata` added to
 * `__metadata__`. Tensor data are shared with `file`, not copied.
 *
 * @param file The file `fused` was computed on (`safetensorsModel(file)`).
 * @param fused The result of `fuseModel`.
 * @returns The fused file.
 * @throws {QuantizationError} Code `fusion` when a folded tensor replaces none of the file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { safetensorsModel } from "../model/safetensors_model.ts";
 * import { fuseModel } from "./fuse_model.ts";
 * import { fusedSafetensors } from "./fused_safetensors.ts";
 *
 * const f32 = (name: string, shape: number[], ...v: number[]) =>
 *   ({ name, dtype: "F32" as const, shape, data: Float32Array.from(v) });
 * const file = readSafetensors(writeSafetensors([
 *   f32("fc.weight", [1, 2], 1, 2), f32("bn.running_mean", [1], 1), f32("bn.running_var", [1], 4),
 * ]));
 * const fused = await fuseModel(safetensorsModel(file),
 *   [{ path: "[0].fuse_names[0]", modules: ["fc", "bn"], first: "fc", bn: "bn" }], { epsilon: () => 0 });
 * const out = fusedSafetensors(file, fused);
 * assert.deepEqual(out.tensors.map((t) => t.name), ["fc.weight", "fc.bias"]);
 * assert.deepEqual([...new Float32Array(out.tensors[1].data.slice().buffer)], [-0.5]);
 * ```
 */
export function fusedSafetensors(file: SafetensorsFile, fused: FusedModel): SafetensorsFile {
  const dropped = new Set(fused.droppedTensors);
  const tensors: SafetensorsTensor[] = [];
  const used = new Set<string>();
  const created = [...fused.folded.values()].filter((t) => t.created);
  for (const t of file.tensors) {
    if (dropped.has(t.name)) continue;
    const f = fused.folded.get(t.name);
    if (f !== undefined) used.add(t.name);
    tensors.push(f === undefined ? t : { ...t, dtype: "F32", data: f.bytes });
    for (const c of created) {
      if (c.weight !== t.name) continue;
      tensors.push({ name: c.ref.name, dtype: "F32", shape: c.ref.fileShape, data: c.bytes });
      used.add(c.ref.name);
    }
  }
  for (const name of fused.folded.keys()) {
    if (!used.has(name)) {
      throw new QuantizationError("fusion", `folded tensor "${name}" is not in the file`);
    }
  }
  return { tensors, metadata: { ...file.metadata, ...fusedMetadata(fused) } };
}
