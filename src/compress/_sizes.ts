// Parameter counts and sizes of a model, before and after compression, as written.
import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
import type { OnnxParts, TensorShape } from "../io/onnx/edit_onnx.ts";
import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
import { readTfjs } from "../io/tfjs/read_tfjs.ts";
import { DTYPE_BYTES } from "../tensor/dtype.ts";
import { onnxStoredBytes } from "../tensor/onnx_data_type.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import type { LoadedModel } from "./load_model.ts";

/** Elements and stored bytes of every distinct parameter of the model's modules. */
export function parameterSizes(model: ModelGraph): { parameters: number; before: number } {
  const seen = new Set<string>();
  let parameters = 0;
  let before = 0;
  for (const m of model.modules) {
    for (const ref of Object.values(m.params)) {
      if (seen.has(ref.name)) continue;
      seen.add(ref.name);
      const n = ref.shape.reduce((a, b) => a * b, 1);
      parameters += n;
      before += n * DTYPE_BYTES[ref.dtype];
    }
  }
  return { parameters, before };
}

/** A decoded model file, or the bytes of one in a format. */
type StoredModel =
  | Pick<Extract<LoadedModel, { format: "onnx" }>, "format" | "onnx">
  | Pick<Extract<LoadedModel, { format: "safetensors" }>, "format" | "safetensors">
  | Pick<Extract<LoadedModel, { format: "tfjs" }>, "format" | "tfjs">;

/**
 * The bytes of every tensor stored in a model file: ONNX initializers and `Constant` values
 * (subgraphs included; sparse ones at their dense size; external ones too, by their dims),
 * safetensors tensors, TensorFlow.js weights (integer codes for quantized ones).
 */
/** The stored bytes of ONNX tensors by element type and dims. */
function onnxTensorBytes(tensors: readonly TensorShape[]): number {
  let n = 0;
  for (const t of tensors) n += onnxStoredBytes(t.dataType, t.dims.reduce((a, b) => a * b, 1)) ?? 0;
  return n;
}

function storedBytes(model: StoredModel): number {
  let n = 0;
  if (model.format === "onnx") n += onnxTensorBytes(model.onnx.tensors);
  else if (model.format === "safetensors") {
    for (const t of model.safetensors.tensors) n += t.data.byteLength;
  } else {
    for (const w of model.tfjs.weights) n += w.bytes.byteLength;
  }
  return n;
}

/**
 * The stored bytes of the parameters after compression, as written: `before` (the modules'
 * parameters at their stored dtypes) plus the change in stored tensor bytes between the input
 * file and the written one. Float storage (masked or fake-quantized values in the original
 * dtype) therefore keeps the size; integer codes, their scales and zero points, and MatMulNBits
 * blocks count at the bytes they take in the file.
 */
export function writtenParameterBytes(
  model: LoadedModel,
  before: number,
  bytes: Uint8Array,
  files?: ReadonlyMap<string, Uint8Array>,
  parts?: OnnxParts,
): number {
  // An ONNX output not made yet: its tensors as the edits leave them.
  if (parts !== undefined) return before + onnxTensorBytes(parts.tensors) - storedBytes(model);
  const out: StoredModel = model.format === "onnx"
    ? { format: "onnx", onnx: decodeOnnx(bytes, { file: model.name }) }
    : model.format === "safetensors"
    ? { format: "safetensors", safetensors: readSafetensors(bytes) }
    : { format: "tfjs", tfjs: readTfjs(bytes, files ?? new Map()) };
  return before + storedBytes(out) - storedBytes(model);
}
