// Activation (input/output) masks as ONNX nodes: `Mul` by the mask (apply_method mul) or `Add`
// of 0 / -1000 (apply_method add) on the activation, the mask stored as an initializer in NNI's
// compact shape so that it broadcasts over the batch and the whole-dim blocks.
import { onnxDataType } from "../tensor/onnx_data_type.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import { ADD_MASK_VALUE } from "../kernels/types.ts";
import type { Kernels } from "../kernels/types.ts";
import type { DType } from "../tensor/dtype.ts";
import { fromFloat32 } from "../model/from_float32.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import { expandMask } from "./expand_mask.ts";
import { PruningError } from "./pruning_error.ts";
import type { PruningTarget, TargetMask } from "./types.ts";
import type { OnnxEdit } from "../io/onnx/edit_onnx.ts";

const FLOATS: readonly DType[] = ["F32", "F16", "BF16", "F64"];

/**
 * The graph edits that realise the masks of activation targets. An output target renames the
 * module's last node output and recreates it after that node as `Mul`/`Add`; an input target
 * feeds the module's first node a masked copy made just before it. The masks are initializers
 * at the end of the graph.
 */
export function activationEdit(
  onnx: OnnxModel,
  model: ModelGraph,
  items: readonly { target: PruningTarget; mask: TargetMask }[],
  kernels: Kernels,
): OnnxEdit[] {
  const nodes = model.graph?.nodes ?? [];
  const taken = new Set<string>([...onnx.tensors.map((t) => t.name), ...onnx.graph.inputs]);
  for (const n of nodes) for (const v of [...n.inputs, ...n.outputs]) taken.add(v);
  const unique = (base: string) => {
    let name = base;
    for (let k = 1; taken.has(name); k++) name = `${base}_${k}`;
    taken.add(name);
    return name;
  };
  const edits: OnnxEdit[] = [];
  for (const { target: t, mask } of items) {
    const method = t.setting.apply_method || "mul";
    if (method === "bypass") continue;
    const context = { module: t.module, target: t.target, configIndex: t.configIndex };
    const owned = nodes.flatMap((n, i) => (n.module === t.module ? [i] : []));
    const match = /^_(input|output)_(\d+)$/.exec(t.target);
    if (owned.length === 0 || match === null) {
      throw new PruningError(
        "activation_target",
        owned.length === 0
          ? "no main-graph node of the ONNX model belongs to this module (activation masks are written in the main graph only)"
          : `an activation target must be named _input_<k> or _output_<k>`,
        context,
      );
    }
    const isInput = match[1] === "input";
    const at = isInput ? owned[0] : owned[owned.length - 1];
    const k = Number(match[2]);
    const value = (isInput ? nodes[at].inputs : nodes[at].outputs)[k];
    if (
      value === undefined || value === "" || (isInput && onnx.tensors.some((x) => x.name === value))
    ) {
      throw new PruningError(
        "activation_target",
        `node ${JSON.stringify(nodes[at].name)} (${nodes[at].opType}) has no activation ${
          isInput ? "input" : "output"
        } ${k}`,
        context,
      );
    }
    const weight = model.modules.find((m) => m.name === t.module)?.params.weight?.dtype;
    const dtype = weight !== undefined && FLOATS.includes(weight) ? weight : "F32";
    const bits = expandMask(mask, { shape: "raw", kernels });
    const values = method === "add"
      ? Float32Array.from(bits, (b) => (b ? 0 : ADD_MASK_VALUE))
      : Float32Array.from(bits);
    const maskName = unique(`${value}_${method}_mask`);
    edits.push({
      op: "addInitializer",
      tensor: {
        name: maskName,
        dataType: onnxDataType(dtype),
        dims: mask.rawShape,
        raw: fromFloat32(values, dtype, kernels),
      },
      atEnd: true,
    });
    const op = method === "add" ? "Add" : "Mul";
    const name = unique(`${t.module}/${t.target}/${op}_mask`);
    if (isInput) {
      const masked = unique(`${value}_masked`);
      edits.push(
        {
          op: "insertNodes",
          at: { before: at },
          nodes: [{ name, opType: op, inputs: [value, maskName], outputs: [masked] }],
        },
        { op: "rewireNode", node: at, inputs: { [k]: masked } },
      );
    } else {
      const raw = unique(`${value}_unmasked`);
      edits.push(
        {
          op: "insertNodes",
          at: { after: at },
          nodes: [{ name, opType: op, inputs: [raw, maskName], outputs: [value] }],
        },
        { op: "rewireNode", node: at, outputs: { [k]: raw } },
      );
    }
  }
  return edits;
}
