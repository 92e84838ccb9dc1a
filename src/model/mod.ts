/**
 * The module view (subpath `nncompress/model`): a model file seen as PyTorch-style modules with
 * parameters in PyTorch layout (what `op_types` and `op_names` select), the graph when the format
 * has one, and `inspect` to summarise it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSafetensors, writeSafetensors } from "../io/safetensors/mod.ts";
 * import { inspect, safetensorsModel } from "./mod.ts";
 *
 * const bytes = writeSafetensors([{ name: "fc.weight", dtype: "F32", shape: [2, 3], data: new Float32Array(6) }]);
 * const model = safetensorsModel(readSafetensors(bytes));
 * assert.equal(model.modules[0].type, "Linear");
 * assert.equal(inspect(model).elements, 6);
 * ```
 *
 * @module
 */

export type { Graph, GraphNode, ModelGraph, Module, ModuleType, TensorRef } from "./model_graph.ts";
export { type DType, DTYPE_BYTES } from "../tensor/dtype.ts";
export { onnxModel, type OnnxModelOptions } from "./onnx_model.ts";
export { safetensorsModel, type SafetensorsModelOptions } from "./safetensors_model.ts";
export { inferModuleType, type ModuleTypeOverrides } from "./infer_module_type.ts";
export { onnxModuleName } from "./onnx_module_name.ts";
export { inspect, type ModelSummary, type ModuleSummary } from "./inspect.ts";
export { toFloat32 } from "./to_float32.ts";
export { fromFloat32, toFileBytes } from "./from_float32.ts";
export { type PermutableArray, permute } from "./permute.ts";
export { moduleInfos } from "./module_infos.ts";
export type { HalfKernels } from "./to_float32.ts";
export type { HalfEncoders } from "./from_float32.ts";
export type { ParamSummary } from "./inspect.ts";
export { type RecurrentType, reorderGates, TORCH_GATE_FROM_ONNX } from "./recurrent_gates.ts";
export type { ModelSource, QuantizedWeight } from "./model_graph.ts";
export type { SavedModel } from "./model_graph.ts";
