/**
 * Bias correction and GPTQ rounding on a real tfjs layers model, against the same model as
 * float32: the model's weights are first written back as float32 (a model shipped as uint8
 * codes, nsfwjs's, becomes the float model its codes stand for), then quantized uint8 per
 * tensor (default 2% headroom) and int8 per channel with channel scales, each alone, with bias
 * correction, with GPTQ rounding and with both on calibration photos. Every result runs in tfjs-layers
 * (CPU backend) against the float32 model on random inputs and on other photos.
 *
 * The photos are those of tests/fixtures/photos (face crops and hand-sized crops of scenes,
 * `humanInputs` of tests/tfjs/_photos.ts: even-numbered tiles calibrate, odd-numbered score),
 * resized to the model's input size and mapped by `value * scale + offset` from [0, 255].
 *
 *   deno run -A bench/tfjs_layers_calibration.ts <folder with model.json> [--scale 0.00392156862745098]
 *     [--offset 0] [--runs uint8,uint8bc,uint8bcg,int8cs,int8csbc,int8csg,int8csbcg] [--out bench/results/tfjs_layers_calibration.json]
 *
 * nsfwjs 4.4.0 ships its models as JavaScript modules (`model.min.js` and base64 shards): `npm
 * pack nsfwjs@4.4.0`, then in `dist/models/mobilenet_v2` write `require("./model.min.js")` as
 * `model.json` and each `require("./<shard>.min.js")` decoded from base64 as `<shard>`.
 *
 * Prints one line per run and writes JSON.
 */

import {
  compareTfjsOutputs,
  type TfjsInputSet,
  tfjsModelInputs,
  type TfjsRuntime,
} from "../src/compress/compare_tfjs.ts";
import { compressModel } from "../src/compress/compress_model.ts";
import { loadModel } from "../src/compress/load_model.ts";
import { readModelFile } from "../src/compress/read_model_file.ts";
import { tfjsWeightValues } from "../src/io/tfjs/read_tfjs.ts";
import { encodeTfjs } from "../src/io/tfjs/write_tfjs.ts";
import { writeFileAtomic } from "../src/io/fs.ts";
import { INT8_PER_CHANNEL, tf, tfl, UINT8 } from "../tests/tfjs/_models.ts";
import { humanInputs } from "../tests/tfjs/_photos.ts";
import { parseArgs } from "./_harness.ts";

const dir = Deno.args[0];
if (dir === undefined || dir.startsWith("--")) {
  console.error(
    "usage: deno run -A bench/tfjs_layers_calibration.ts <folder> [--scale s] [--offset o] [--runs …] [--out f]",
  );
  Deno.exit(2);
}
const args = parseArgs(Deno.args.slice(1));
const scale = Number(args.values.get("scale") ?? 1 / 255);
const offset = Number(args.values.get("offset") ?? 0);
const only = args.values.get("runs")?.split(",");
const out = args.values.get("out") ?? "bench/results/tfjs_layers_calibration.json";
const runtime: TfjsRuntime = { tf, loadLayersModel: (h) => tfl.loadLayersModel(h) };

const source = await readModelFile(`${dir}/model.json`, () => {});
if (source.format !== "tfjs" || source.tfjs.kind !== "layers-model") {
  throw new TypeError(`${dir}/model.json is not a tfjs layers model`);
}
// Every float weight stored as float32: the reference the runs are compared with.
const asFloat = new Map(
  source.tfjs.weights.filter((w) => w.spec.dtype === "float32").map((w) => [
    w.spec.name,
    { values: tfjsWeightValues(w) as Float32Array, storage: "float32" as const },
  ]),
);
const written = encodeTfjs(source.tfjs, asFloat);
const files = new Map([["model.json", written.modelJson], ...written.shards]);
const [input] = await tfjsModelInputs(runtime, files);
const [h, w] = [Number(input.shape[1]), Number(input.shape[2])];

/** Photos of both kinds, resized to the model's input and mapped to its range, one set each. */
function photos(split: "calibrate" | "score"): TfjsInputSet[] {
  const sets = [
    ...humanInputs("faceres", split),
    ...humanInputs("handlandmark-lite", split, 8),
  ];
  return sets.map(([x]) => {
    const t = tf.tidy(() => {
      let y = tf.tensor4d(x.data as Float32Array, x.dims as [number, number, number, number]);
      if (y.shape[1] !== h || y.shape[2] !== w) y = tf.image.resizeBilinear(y, [h, w]);
      return tf.add(tf.mul(y, scale), offset);
    });
    const data = Float32Array.from(t.dataSync() as Float32Array);
    const dims = t.shape;
    t.dispose();
    return [{ data, dims }];
  });
}
const calibrate = photos("calibrate");
const score = photos("score");
const images = (s: TfjsInputSet[]) => s.reduce((n, [x]) => n + x.dims[0], 0);
console.error(`${images(calibrate)} calibration images, ${images(score)} scoring images`);

const model = loadModel(files.get("model.json")!, "model.json", files);
// The headroom ranked by channel error (a measured one runs the model once per weight).
const calib = { tfjsRuntime: runtime, tfjsInputs: calibrate, measureHeadroom: false } as const;
const runs = {
  uint8: { mode: "quantization", configList: UINT8 },
  uint8bc: { mode: "quantization", configList: UINT8, ...calib, biasCorrection: true },
  uint8bcg: {
    mode: "quantization",
    configList: UINT8,
    ...calib,
    biasCorrection: true,
    gptqRounding: true,
  },
  int8cs: { mode: "quantization", configList: INT8_PER_CHANNEL, channelScales: true },
  int8csbc: {
    mode: "quantization",
    configList: INT8_PER_CHANNEL,
    channelScales: true,
    ...calib,
    biasCorrection: true,
  },
  int8csg: {
    mode: "quantization",
    configList: INT8_PER_CHANNEL,
    channelScales: true,
    ...calib,
    gptqRounding: true,
  },
  int8csbcg: {
    mode: "quantization",
    configList: INT8_PER_CHANNEL,
    channelScales: true,
    ...calib,
    biasCorrection: true,
    gptqRounding: true,
  },
} as const;
const shardBytes = (f: ReadonlyMap<string, Uint8Array>) =>
  [...f].filter(([k]) => k !== "model.json").reduce((n, [, b]) => n + b.length, 0);
const rows: Record<string, unknown>[] = [];
for (const [label, options] of Object.entries(runs)) {
  if (only !== undefined && !only.includes(label)) continue;
  const t0 = performance.now();
  const r = await compressModel(model, options);
  const seconds = (performance.now() - t0) / 1000;
  const random = await compareTfjsOutputs(runtime, r.files!, files);
  const real = await compareTfjsOutputs(runtime, r.files!, files, { inputs: score });
  const row = {
    run: label,
    weightRatio: shardBytes(r.files!) / shardBytes(files),
    randomCosine: Math.min(...random.map((c) => c.cosine)),
    photoCosine: Math.min(...real.map((c) => c.cosine)),
    photoArgmax: real.map((c) => c.argmax),
    photoMaxAbsDiff: Math.max(...real.map((c) => c.maxAbsDiff)),
    warnings: r.report.warnings,
    seconds,
  };
  rows.push(row);
  const a = real[0].argmax;
  console.log(
    `${label}: ${(row.weightRatio * 100).toFixed(1)}% of the float32 weight bytes, cosine ` +
      `random ${row.randomCosine.toFixed(4)} / photos ${row.photoCosine.toFixed(4)}` +
      (a === undefined ? "" : `, top class on photos ${a.same}/${a.total}`) +
      ` (${seconds.toFixed(0)} s)`,
  );
}
await writeFileAtomic(
  out,
  new TextEncoder().encode(
    JSON.stringify({ model: dir, scale, offset, images: images(score), rows }, null, 1) + "\n",
  ),
);
