// The transformers.js variants in onnxruntime-web (its WebAssembly CPU backend, the one
// transformers.js runs in browsers, one thread, no proxy worker), under Deno and Bun: every
// variant of the small transformer and of the PP-OCRv4 recognizer loads and runs; the float16
// and 4-bit recognizers keep their lines; outputs match onnxruntime-node's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadModel } from "../../src/compress/load_model.ts";
import { compressVariants } from "../../src/compress/variants.ts";
import { loadOcrData, loadOcrKeys, ocrLines } from "../../src/compress/ocr_data.ts";
import { ctcDecode, runOrt } from "../../src/compress/ocr_eval.ts";
import type { OrtLike } from "../../src/io/onnx/ort.ts";
import { loadOrt } from "../io/_ocr.ts";
import { readModel, REC } from "../quantization/_ocr_eval.ts";
import { SEQ, smallTransformer, transformerInputs } from "./_transformer_model.ts";

const SLOW = { timeout: 900_000 };

async function loadOrtWeb(): Promise<OrtLike> {
  const ort = await import("onnxruntime-web");
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  return ort as unknown as OrtLike;
}

async function logits(ort: OrtLike, bytes: Uint8Array): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const { ids, mask } = transformerInputs();
  const out = await s.run({
    input_ids: new ort.Tensor("int64", ids, [1, SEQ]),
    attention_mask: new ort.Tensor("int64", mask, [1, SEQ]),
  });
  await s.release?.();
  return out[s.outputNames[0]].data as Float32Array;
}

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) (ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i]);
  return ab / Math.sqrt(aa * bb);
}

test(
  "every variant of the small transformer runs in onnxruntime-web as in onnxruntime-node",
  SLOW,
  async () => {
    const web = await loadOrtWeb();
    const node = await loadOrt() as OrtLike;
    const bytes = smallTransformer();
    const reference = await logits(web, bytes);
    const { variants, failed } = await compressVariants(loadModel(bytes, "model.onnx"));
    assert.deepEqual(failed.map((f) => f.mode), []);
    const report: Record<string, string> = {};
    for (const v of variants) {
      const w = await logits(web, v.bytes);
      const n = await logits(node, v.bytes);
      // The same model in both runtimes: kernels differ in summation order and float16 rounding;
      // for uint8 × int8 MatMulInteger (q8 and int8 here: no Conv) the native and WebAssembly
      // kernels differ more (cosine 0.99916 between them, both 0.9992 from the original).
      const agree = cosine(w, n);
      const least = v.mode === "q8" || v.mode === "int8" ? 0.998 : 0.9999;
      report[v.mode] = `vs original ${cosine(w, reference).toFixed(6)}, vs node ${
        agree.toFixed(7)
      }`;
      assert.ok(agree > least, `${v.mode}: web vs node cosine ${agree}`);
      assert.ok(cosine(w, reference) > 0.85, v.mode);
    }
    console.log("onnxruntime-web, small transformer:", JSON.stringify(report, null, 1));
  },
);

test(
  "every variant of the recognizer runs in onnxruntime-web; fp16, q4 and q4f16 keep their lines",
  SLOW,
  async () => {
    const web = await loadOrtWeb();
    const bytes = await readModel(REC);
    const { variants, failed } = await compressVariants(loadModel(bytes, "model.onnx"));
    assert.deepEqual(failed.map((f) => f.mode), []);
    const data = await loadOcrData();
    const keys = await loadOcrKeys();
    const lines: Record<string, string> = {};
    for (const v of variants) {
      // 40 lines for the variants with a target, 8 for the others (they only have to run).
      const n = ["fp16", "q4", "q4f16"].includes(v.mode) ? 40 : 8;
      const { input, dims } = ocrLines(data.rec, 0, n);
      const out = await runOrt(web, v.bytes, input, dims);
      const texts = ctcDecode(out.data, out.dims, keys);
      const exact = texts.filter((t, i) => t === data.labels.texts[i]).length;
      lines[v.mode] = `${exact}/${n}`;
      if (v.mode === "fp16") assert.equal(exact, 40);
      if (v.mode === "q4" || v.mode === "q4f16") assert.ok(exact >= 39, `${v.mode} ${exact}/40`);
    }
    console.log("onnxruntime-web, recognizer exact lines:", JSON.stringify(lines));
  },
);
