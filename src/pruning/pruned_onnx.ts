/**
 * `prunedOnnx`: an ONNX model with its masks applied.
 *
 * @module
 */

import { editOnnx, type OnnxEdit } from "../io/onnx/edit_onnx.ts";
import type { OnnxReplacement } from "../io/onnx/encode_onnx.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import { activationEdit } from "./_activation_edit.ts";
import { maskedItems } from "./_masked_params.ts";
import { applyTargetMask } from "./apply_target_mask.ts";
import { expandMask } from "./expand_mask.ts";
import { toFileBytes } from "../model/from_float32.ts";
import type { PrunedModel } from "./types.ts";

/** Options of `prunedOnnx`. */
export interface PrunedOnnxOptions {
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
}

/** An ONNX model with masks applied: the model bytes and the patches of external data files. */
export interface PrunedOnnxParts {
  /** The new `.onnx` bytes. */
  readonly bytes: Uint8Array;
  /** The masked tensors in file dtype and layout, by tensor name (for external data files). */
  readonly replacements: ReadonlyMap<string, OnnxReplacement>;
  /** Every edit: the replacements, then the nodes and masks of activation targets. */
  readonly edits: readonly OnnxEdit[];
  /** Whether activation masks added nodes to the graph. */
  readonly addedNodes: boolean;
}

/**
 * Like `prunedOnnx`, but also returns the replacements, so that a model with external data can
 * be written with `saveOnnx` (`savePrunedFile` does this).
 *
 * @param onnx the decoded model the pruned model was read from
 * @param pruned the model view, targets and masks (a `prune()` result)
 * @param options the kernels
 * @returns the bytes (external tensors not patched), the replacements and whether nodes were added
 * @throws {PruningError} for an activation target the graph cannot realise
 * @throws {RangeError} for a masked tensor that is not stored in `onnx`
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { prunedOnnxParts } from "./pruned_onnx.ts";
 * import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
 * import { onnxModel } from "../model/onnx_model.ts";
 *
 * const empty = new Uint8Array([0x08, 0x08, 0x3a, 0x03, 0x12, 0x01, 0x67]); // ir 8, graph "g"
 * const onnx = decodeOnnx(empty);
 * const parts = await prunedOnnxParts(onnx, { model: onnxModel(onnx), targets: [], masks: {} });
 * assert.deepEqual(parts.bytes, empty);
 * assert.equal(parts.replacements.size, 0);
 * ```
 */
export async function prunedOnnxParts(
  onnx: OnnxModel,
  pruned: PrunedModel,
  options: PrunedOnnxOptions = {},
): Promise<PrunedOnnxParts> {
  const kernels = options.kernels ?? getKernels();
  const { params, activations } = maskedItems(pruned);
  const replacements = new Map<string, OnnxReplacement>();
  // Each tensor is decoded into one scratch array, reused, and masked there: a new float32 copy
  // per tensor (and a float16 tensor's decoding garbage) waited for the collector, 100+ MiB on
  // an 82 MiB float16 model. What `maskedBytes` makes, without its temporaries.
  let scratch = new Float32Array(0);
  for (const item of params) {
    const ref = item.ref!;
    const n = ref.shape.reduce((a, b) => a * b, 1);
    if (scratch.length < n) scratch = new Float32Array(n);
    // `data(out)` fills `out` or returns a new array: never the file's bytes, so masking in
    // place is safe.
    const values = await ref.data(scratch.subarray(0, n));
    applyTargetMask(values, expandMask(item.mask, { kernels }), {
      method: item.target.setting.apply_method,
      kernels,
      out: values,
    });
    replacements.set(ref.name, { bytes: toFileBytes(ref, values, kernels) });
  }
  const graphEdits = activationEdit(onnx, pruned.model, activations, kernels);
  const edits: OnnxEdit[] = [
    ...[...replacements].map(([name, r]) => ({ op: "replaceTensor" as const, name, ...r })),
    ...graphEdits,
  ];
  const { bytes } = editOnnx(onnx, edits);
  return { bytes, replacements, edits, addedNodes: graphEdits.length > 0 };
}

/**
 * Writes the masks of a pruning run into an ONNX model. Each masked weight or bias is replaced
 * in place (initializer or `Constant` node, main graph or subgraph) in its stored dtype and
 * layout (a MatMul weight is stored `[in, out]`), with the values the masked module sees
 * (`apply_method` mul or add; `bypass` changes nothing). Each masked activation target
 * (`_input_<k>`, `_output_<k>`) becomes a node on that activation: `Mul` by the 0/1 mask for
 * `mul`, `Add` of 0 / -1000 for `add`, the mask an initializer in NNI's compact shape (size 1
 * on whole-dim blocks, e.g. `[1, C, 1, 1]` for `per_channel` on `[N, C, H, W]`) so it broadcasts
 * over the batch. Everything else is copied byte for byte.
 *
 * @param onnx the decoded model the pruned model was read from
 * @param pruned the model view, targets and masks (a `prune()` result)
 * @param options the kernels
 * @returns the new file bytes
 * @throws {PruningError} for an activation target the graph cannot realise (no main-graph node
 *   of the module, or no such input/output)
 * @throws {RangeError} for tensors in external data files (use `savePrunedFile`)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { prunedOnnx } from "./pruned_onnx.ts";
 * import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
 * import { onnxModel } from "../model/onnx_model.ts";
 *
 * const empty = new Uint8Array([0x08, 0x08, 0x3a, 0x03, 0x12, 0x01, 0x67]); // ir 8, graph "g"
 * const onnx = decodeOnnx(empty);
 * const bytes = await prunedOnnx(onnx, { model: onnxModel(onnx), targets: [], masks: {} });
 * assert.deepEqual(bytes, empty);
 * ```
 */
export async function prunedOnnx(
  onnx: OnnxModel,
  pruned: PrunedModel,
  options: PrunedOnnxOptions = {},
): Promise<Uint8Array> {
  const parts = await prunedOnnxParts(onnx, pruned, options);
  const external = [...parts.replacements.keys()].find((name) =>
    onnx.tensors.find((t) => t.name === name)?.storage.kind === "external"
  );
  if (external !== undefined) {
    throw new RangeError(
      `tensor ${
        JSON.stringify(external)
      } is stored in an external file: use savePrunedFile() to write the model and its data files`,
    );
  }
  return parts.bytes;
}
