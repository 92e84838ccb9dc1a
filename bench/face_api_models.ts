// face-api's weights manifests (@vladmandic/face-api 1.7.15: no topology, the networks built in
// its code), read, written back, quantized and pruned by nncompress, then run by face-api itself
// on crops of the fixture photos against the original weights: the lowest cosine over the inputs
// of each network's outputs, and the weight bytes after over before (as stored, and gzipped).
//
//   deno run -A bench/face_api_models.ts [--models a,b] [--out bench/results/face_api_models.json]
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { compressModel } from "../src/compress/compress_model.ts";
import type { LoadedModel } from "../src/compress/load_model.ts";
import { readModelFile } from "../src/compress/read_model_file.ts";
import { writeFileAtomic } from "../src/io/fs.ts";
import { encodeTfjs } from "../src/io/tfjs/write_tfjs.ts";
import { FACE_API_MODELS, FACE_API_NETS, runFaceApi } from "../tests/tfjs/_face_api.ts";
import { cosine } from "../tests/models_shipped/_half_models.ts";

const { values: args } = parseArgs({
  options: { models: { type: "string" }, out: { type: "string" } },
});
const out = args.out ?? "bench/results/face_api_models.json";
const names = args.models?.split(",") ?? Object.keys(FACE_API_NETS);

const KERNELS = ["Conv2d", "Linear"];
const UINT8 = [{
  op_types: [...KERNELS, "BatchNorm2d", "Module"],
  target_names: ["weight"],
  quant_dtype: "uint8",
  quant_scheme: "affine",
}];
const RUNS = {
  // Every float weight the view selects (kernels, batch norms, scales) as tfjs uint8 codes, or
  // as float16 (the converter's --quantize_float16).
  uint8: { mode: "quantization", configList: UINT8 },
  float16: { mode: "quantization", configList: UINT8, storage: "float16" },
  prune30: { mode: "pruning", configList: [{ op_types: KERNELS, sparse_ratio: 0.3 }] },
  prune50: { mode: "pruning", configList: [{ op_types: KERNELS, sparse_ratio: 0.5 }] },
} as const;

const weightBytes = (files: ReadonlyMap<string, Uint8Array>) =>
  [...files].filter(([k]) => k !== "model.json").reduce((n, [, b]) => n + b.length, 0);
/** The shards' bytes gzipped (a web server's compression: what pruned zeros save). */
const gzipBytes = (files: ReadonlyMap<string, Uint8Array>) =>
  [...files].filter(([k]) => k !== "model.json").reduce((n, [, b]) => n + gzipSync(b).length, 0);

const rows: Record<string, unknown>[] = [];
for (const name of names) {
  const t0 = performance.now();
  const source = await readModelFile(`${FACE_API_MODELS}${name}-weights_manifest.json`, () => {});
  if (source.format !== "tfjs") throw new Error(`${name}: not read as tfjs`);
  const model = source as Extract<LoadedModel, { format: "tfjs" }>;
  const reference = await runFaceApi(name, model.bytes, model.files);
  const back = encodeTfjs(model.tfjs, new Map());
  const again = await runFaceApi(name, back.modelJson, back.shards);
  const row: Record<string, unknown> = {
    model: name,
    kind: model.tfjs.kind,
    modules: model.graph.modules.length,
    weightBytes: weightBytes(model.files),
    gzipBytes: gzipBytes(model.files),
    storage: [
      ...new Set(model.tfjs.weights.map((w) => w.spec.quantization?.dtype ?? w.spec.dtype)),
    ],
    roundTripSameOutputs: again.every((o, i) => o.every((v, k) => Object.is(v, reference[i][k]))),
  };
  const cells: string[] = [];
  for (const [label, options] of Object.entries(RUNS)) {
    try {
      const r = await compressModel(model, options as Parameters<typeof compressModel>[1]);
      const files = r.files!;
      const outputs = await runFaceApi(name, files.get("model.json")!, files);
      const minCosine = Math.min(...outputs.map((o, i) => cosine(o, reference[i])));
      const ratio = weightBytes(files) / weightBytes(model.files);
      const gzipRatio = gzipBytes(files) / (row.gzipBytes as number);
      row[label] = { weightRatio: ratio, gzipRatio, minCosine };
      cells.push(
        `${label} ${(ratio * 100).toFixed(1)}% (gzip ${(gzipRatio * 100).toFixed(1)}%) ${
          minCosine.toFixed(4)
        }`,
      );
    } catch (e) {
      row[label] = { error: (e as Error).message };
      cells.push(`${label} error: ${(e as Error).message.slice(0, 200)}`);
    }
  }
  row.seconds = (performance.now() - t0) / 1000;
  rows.push(row);
  console.log(
    `${name} (${(row.storage as string[]).join("+")}, ${
      (row.weightBytes as number / 1e6).toFixed(2)
    } MB): round trip ${row.roundTripSameOutputs ? "same outputs" : "DIFFERENT"}; ${
      cells.join("; ")
    } (${(row.seconds as number).toFixed(0)} s)`,
  );
}
await writeFileAtomic(
  out,
  new TextEncoder().encode(JSON.stringify({ bench: "face_api_models", rows }, null, 2) + "\n"),
);
