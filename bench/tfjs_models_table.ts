/**
 * The table of docs/model-files.md (TensorFlow.js): for test models built with tfjs (a layers
 * model and a graph model with fused ops, in each tfjs storage) and the tfjs graph models that
 * `@vladmandic/human` ships in its package, the download size and the outputs' agreement with
 * the original (tfjs CPU backend, the same deterministic random inputs in [-1, 1)) after:
 * quantizing the weights to uint8 (tfjs codes per tensor: plain, with the default 2% headroom
 * for the most damaged weights at 16 bits, and with cross-layer equalization too), storing
 * them as float16, and pruning
 * 30% and 50% of the Conv2d/Linear weights (level pruner).
 *
 * uint8 with measured headroom (`tfjsRuntime`: the weights stored at 16 bits chosen by tfjs
 * runs, one per uint8 weight; minutes per model on a loaded machine) and with equalization too;
 * `uint8mp`/`uint8mpeq`: the same chosen on real photos (`tfjsInputs`, the calibration half of
 * tests/tfjs/_photos.ts) instead of random inputs; `uint8bc`, `uint8eqbc`, `uint8mpbc`,
 * `uint8mpeqbc`: with bias correction on those photos too (`biasCorrection`); `uint8eqr`,
 * `uint8eqrbc`: equalization through ReLU6 where the calibration photos stay below the clip,
 * float16 weights rescaled too (`equalizeFloat16`), without and with bias correction;
 * `uint8g`, `uint8bcg`, `uint8eqrg`, `uint8eqrbcg`, `uint8mpeqrbcg`: GPTQ rounding on those
 * photos (`gptqRounding`) with the headroom alone, with bias correction, with ReLU6
 * equalization, with both, and with the headroom measured on the photos too; `float16eqr`:
 * float16 storage after the ReLU6 equalization (what equalization alone costs); `int8cs`,
 * `int8csbcg`: the kernels int8 per output channel stored with channel scales (`channelScales`),
 * alone and with bias correction and GPTQ rounding on the photos.
 *
 * Every cell is scored twice: on the random inputs, and for the models of human with a photo
 * recipe (tests/tfjs/_photos.ts) on real photos made as human feeds them (the scoring half:
 * other photos than the calibration half).
 *
 *   deno run -A bench/tfjs_models_table.ts [--models emotion,iris] [--out bench/results/tfjs_models.json]
 *     [--runs uint8plain,uint8,uint8eq,uint8m,uint8meq,uint8mp,uint8mpeq,uint8bc,uint8eqbc,uint8mpbc,uint8mpeqbc,uint8eqr,uint8eqrbc,uint8g,uint8bcg,uint8eqrg,uint8eqrbcg,uint8mpeqrbcg,float16eqr,float16,int8cs,int8csbcg,prune30,prune50]
 *     [--no-test-models] [--calibrate-limit 4]
 *
 * `--calibrate-limit`: at most that many calibration photos for the models that take one image
 * per run (default 4).
 *
 * Prints a Markdown table and writes JSON.
 */

import { loadGraphModel } from "@tensorflow/tfjs-converter";
import { compareTfjsOutputs, type TfjsRuntime } from "../src/compress/compare_tfjs.ts";
import { compressModel } from "../src/compress/compress_model.ts";
import { loadModel } from "../src/compress/load_model.ts";
import { readModelFile } from "../src/compress/read_model_file.ts";
import { writeFileAtomic } from "../src/io/fs.ts";
import {
  graphModelFiles,
  INT8_PER_CHANNEL,
  layersModelFiles,
  storedAs,
  tf,
  tfl,
  UINT8,
} from "../tests/tfjs/_models.ts";
import { HUMAN_INPUTS, humanInputs } from "../tests/tfjs/_photos.ts";
import { parseArgs } from "./_harness.ts";

const args = parseArgs(Deno.args);
const out = args.values.get("out") ?? "bench/results/tfjs_models.json";
const only = args.values.get("runs")?.split(",");
const HUMAN = new URL("../node_modules/@vladmandic/human/models/", import.meta.url).pathname;
const names = args.values.get("models")?.split(",") ??
  [...Deno.readDirSync(HUMAN)].map((e) => e.name).filter((n) =>
    n.endsWith(".json") && n !== "models.json"
  )
    .map((n) => n.slice(0, -5)).sort();

const runtime: TfjsRuntime = {
  tf,
  loadGraphModel: (h) => loadGraphModel(h),
  loadLayersModel: (h) => tfl.loadLayersModel(h),
};

const PRUNE = (r: number) => [{ op_types: ["Conv2d", "Linear"], sparse_ratio: r }];

const shardBytes = (f: ReadonlyMap<string, Uint8Array>) =>
  [...f].filter(([k]) => k !== "model.json").reduce((n, [, b]) => n + b.length, 0);
const allBytes = (f: ReadonlyMap<string, Uint8Array>) =>
  [...f.values()].reduce((n, b) => n + b.length, 0);

const models: { name: string; files: Map<string, Uint8Array> }[] = [];
const layers = await layersModelFiles();
const graph = graphModelFiles();
for (const s of args.flags.has("no-test-models") ? [] : ["float32", "uint8", "float16"] as const) {
  models.push({
    name: `test layers (${s})`,
    files: s === "float32" ? layers : storedAs(layers, s),
  });
  models.push({ name: `test graph (${s})`, files: s === "float32" ? graph : storedAs(graph, s) });
}
for (const n of names) {
  const m = await readModelFile(`${HUMAN}${n}.json`, () => {});
  if (m.format !== "tfjs") continue;
  models.push({ name: `human/${n}`, files: new Map(m.files) });
}

const rows: Record<string, unknown>[] = [];
for (const { name, files } of models) {
  const model = loadModel(files.get("model.json")!, "model.json", files);
  const json = JSON.parse(new TextDecoder().decode(files.get("model.json")!));
  const stored = new Set<string>(
    json.weightsManifest.flatMap((
      g: { weights: { dtype: string; quantization?: { dtype: string } }[] },
    ) =>
      g.weights.filter((w) => w.dtype === "float32").map((w) => w.quantization?.dtype ?? "float32")
    ),
  );
  const row: Record<string, unknown> = {
    model: name,
    kind: json.format,
    storage: [...stored].join("+"),
    fileBytes: allBytes(files),
    weightBytes: shardBytes(files),
  };
  const human = name.startsWith("human/") ? name.slice(6) : undefined;
  const photo = human !== undefined && human in HUMAN_INPUTS;
  const calibrate = photo
    ? humanInputs(human!, "calibrate", Number(args.values.get("calibrate-limit") ?? 4))
    : undefined;
  const score = photo ? humanInputs(human!, "score") : undefined;
  const bc = {
    mode: "quantization",
    configList: UINT8,
    tfjsRuntime: runtime,
    tfjsInputs: calibrate,
    biasCorrection: true,
  } as const;
  const runs = {
    uint8plain: { mode: "quantization", configList: UINT8, headroom: 0 },
    uint8: { mode: "quantization", configList: UINT8 },
    uint8eq: { mode: "quantization", configList: UINT8, equalize: true },
    uint8m: { mode: "quantization", configList: UINT8, tfjsRuntime: runtime },
    uint8meq: { mode: "quantization", configList: UINT8, equalize: true, tfjsRuntime: runtime },
    uint8mp: {
      mode: "quantization",
      configList: UINT8,
      tfjsRuntime: runtime,
      tfjsInputs: calibrate,
    },
    uint8mpeq: {
      mode: "quantization",
      configList: UINT8,
      equalize: true,
      tfjsRuntime: runtime,
      tfjsInputs: calibrate,
    },
    // Bias correction on the calibration photos (the headroom by channel error, or measured on
    // the same photos), with and without equalization.
    uint8bc: { ...bc, measureHeadroom: false },
    uint8eqbc: { ...bc, measureHeadroom: false, equalize: true },
    uint8mpbc: bc,
    // Equalization through ReLU6 where the calibration photos stay below the clip, float16
    // weights rescaled too; without and with bias correction.
    uint8eqr: {
      ...bc,
      biasCorrection: false,
      measureHeadroom: false,
      equalize: true,
      equalizeFloat16: true,
    },
    uint8eqrbc: { ...bc, measureHeadroom: false, equalize: true, equalizeFloat16: true },
    uint8mpeqbc: { ...bc, equalize: true },
    // GPTQ rounding on the calibration photos: with the headroom alone, with ReLU6
    // equalization, with bias correction, with both.
    uint8g: { ...bc, biasCorrection: false, measureHeadroom: false, gptqRounding: true },
    uint8eqrg: {
      ...bc,
      biasCorrection: false,
      measureHeadroom: false,
      equalize: true,
      equalizeFloat16: true,
      gptqRounding: true,
    },
    uint8mpeqrbcg: { ...bc, equalize: true, equalizeFloat16: true, gptqRounding: true },
    float16eqr: {
      ...bc,
      biasCorrection: false,
      measureHeadroom: false,
      equalize: true,
      equalizeFloat16: true,
      storage: "float16",
    },
    uint8bcg: { ...bc, measureHeadroom: false, gptqRounding: true },
    uint8eqrbcg: {
      ...bc,
      measureHeadroom: false,
      equalize: true,
      equalizeFloat16: true,
      gptqRounding: true,
    },
    float16: { mode: "quantization", configList: UINT8, storage: "float16" },
    // Kernels per output channel with channel scales: alone, then with bias correction and GPTQ
    // rounding on the calibration photos.
    int8cs: { mode: "quantization", configList: INT8_PER_CHANNEL, channelScales: true },
    int8csbcg: {
      ...bc,
      configList: INT8_PER_CHANNEL,
      measureHeadroom: false,
      channelScales: true,
      gptqRounding: true,
    },
    prune30: { mode: "pruning", configList: PRUNE(0.3) },
    prune50: { mode: "pruning", configList: PRUNE(0.5) },
  } as const;
  for (const [label, options] of Object.entries(runs)) {
    if (only !== undefined && !only.includes(label)) continue;
    if (
      (label.startsWith("uint8mp") || label.endsWith("bc") || label.endsWith("g") ||
        label.endsWith("eqr") ||
        label.startsWith("uint8eqr") || label === "int8csbcg") &&
      !photo
    ) continue;
    const t0 = performance.now();
    const r = await compressModel(model, options);
    const seconds = (performance.now() - t0) / 1000;
    const cmp = await compareTfjsOutputs(runtime, r.files!, files);
    const real = score === undefined
      ? undefined
      : await compareTfjsOutputs(runtime, r.files!, files, { inputs: score });
    row[label] = {
      fileBytes: r.report.after.fileBytes,
      weightRatio: shardBytes(r.files!) / shardBytes(files),
      minCosine: Math.min(...cmp.map((c) => c.cosine)),
      maxAbsDiff: Math.max(...cmp.map((c) => c.maxAbsDiff)),
      outputs: cmp.map((c) => ({ name: c.name, cosine: c.cosine, maxAbsDiff: c.maxAbsDiff })),
      ...(real === undefined ? {} : {
        photoMinCosine: Math.min(...real.map((c) => c.cosine)),
        photoOutputs: real.map((c) => ({
          name: c.name,
          cosine: c.cosine,
          maxAbsDiff: c.maxAbsDiff,
        })),
      }),
      warnings: r.report.warnings,
      seconds,
    };
    console.error(
      `${name} ${label}: ${(row[label] as { weightRatio: number }).weightRatio.toFixed(4)} ` +
        `random ${Math.min(...cmp.map((c) => c.cosine)).toFixed(4)}` +
        (real === undefined ? "" : ` photos ${Math.min(...real.map((c) => c.cosine)).toFixed(4)}`) +
        ` (${seconds.toFixed(0)} s)`,
    );
  }
  rows.push(row);
  console.error(`${name} done`);
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
// size / cosine on random inputs / cosine on photos (when the model has a recipe) / max |diff|.
const cell = (
  r?: { weightRatio: number; minCosine: number; maxAbsDiff: number; photoMinCosine?: number },
) =>
  r === undefined
    ? "-"
    : `${pct(r.weightRatio)} / ${r.minCosine.toFixed(4)} / ${
      r.photoMinCosine === undefined ? "-" : r.photoMinCosine.toFixed(4)
    } / ${r.maxAbsDiff.toExponential(1)}`;
const labels = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((k) =>
  rows.some((r) => typeof r[k] === "object")
);
const lines = [
  `| model | stored as | download | ${labels.join(" | ")} |`,
  `| --- | --- | --- |${labels.map(() => " --- |").join("")}`,
  ...rows.map((r) => {
    const x = r as Record<string, never>;
    return `| ${r.model} | ${r.storage} | ${(Number(r.fileBytes) / 1e6).toFixed(2)} MB | ${
      labels.map((l) => cell(x[l])).join(" | ")
    } |`;
  }),
];
console.log(lines.join("\n"));
await writeFileAtomic(
  out,
  new TextEncoder().encode(JSON.stringify({ bench: "tfjs_models", rows }, null, 2) + "\n"),
);
