/**
 * Reads and writes a TensorFlow.js graph model of about 30 MB (`model.json` and 4 MB shards on
 * disk) in each tfjs storage: float32, float16 (`--quantize_float16`) and uint8
 * (`--quantize_uint8`). Times, per storage: reading the files and decoding them with the module
 * view; reading every weight dequantized (`data()`); a round trip (read, encode unchanged,
 * write atomically); and prune 50% (read, masks, encode, write).
 *
 *   deno run -A bench/tfjs_files_bench.ts [--mb 30] [--dir /tmp] [--out bench/results/tfjs_files.json]
 *
 * Prints JSON and writes it to --out.
 */

import { compressModel } from "../src/compress/compress_model.ts";
import { readModelFile } from "../src/compress/read_model_file.ts";
import { writeFileAtomic } from "../src/io/fs.ts";
import { readTfjs } from "../src/io/tfjs/read_tfjs.ts";
import { saveTfjsFiles } from "../src/io/tfjs/save_tfjs.ts";
import { encodeTfjs, tfjsSaved, type TfjsStorage } from "../src/io/tfjs/write_tfjs.ts";
import { parseArgs } from "./_harness.ts";

const args = parseArgs(Deno.args);
const mb = Number(args.values.get("mb") ?? 30);
const out = args.values.get("out") ?? "bench/results/tfjs_files.json";
const root = `${args.values.get("dir") ?? "/tmp"}/nncompress-tfjs-${Date.now()}`;

/** A chain of MatMul layers [1024, 1024] with biases: `mb` MB of float32 weights. */
function float32Model(): Map<string, Uint8Array> {
  const n = 1024;
  const layers = Math.max(1, Math.round((mb * 1e6) / (n * n * 4)));
  const nodes: unknown[] = [{
    name: "x",
    op: "Placeholder",
    attr: { dtype: { type: "DT_FLOAT" } },
  }];
  const weights: { name: string; shape: number[]; dtype: string }[] = [];
  const data = new Float32Array(layers * (n * n + n));
  let s = 12345;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = (s / 2 ** 32 - 0.5) * 0.1;
  }
  let input = "x";
  for (let l = 0; l < layers; l++) {
    const w = `dense_${l}/MatMul/ReadVariableOp`;
    const b = `dense_${l}/BiasAdd/ReadVariableOp`;
    weights.push({ name: w, shape: [n, n], dtype: "float32" }, {
      name: b,
      shape: [n],
      dtype: "float32",
    });
    nodes.push(
      { name: w, op: "Const", attr: { dtype: { type: "DT_FLOAT" } } },
      { name: b, op: "Const", attr: { dtype: { type: "DT_FLOAT" } } },
      {
        name: `dense_${l}/Relu`,
        op: "_FusedMatMul",
        input: [input, w, b],
        attr: { fused_ops: { list: { s: [btoa("BiasAdd"), btoa("Relu")] } }, num_args: { i: "1" } },
      },
    );
    input = `dense_${l}/Relu`;
  }
  const json = JSON.stringify({
    format: "graph-model",
    modelTopology: { node: nodes },
    weightsManifest: [{ paths: ["all.bin"], weights }],
  });
  const model = readTfjs(json, new Map([["all.bin", new Uint8Array(data.buffer)]]));
  const files = tfjsSaved(encodeTfjs(model, new Map()));
  return new Map(files.files);
}

function stored(files: Map<string, Uint8Array>, storage: TfjsStorage): Map<string, Uint8Array> {
  if (storage === "float32") return files;
  const model = readTfjs(files.get("model.json")!, files);
  const replacements = new Map(
    model.weights.map((w) => [
      w.spec.name,
      {
        values: new Float32Array(w.bytes.slice().buffer),
        storage,
      },
    ]),
  );
  return new Map(tfjsSaved(encodeTfjs(model, replacements)).files);
}

const time = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
  const t0 = performance.now();
  const r = await fn();
  return [r, Math.round(performance.now() - t0) / 1000];
};

await Deno.mkdir(root, { recursive: true });
const base = float32Model();
const rows = [];
try {
  for (const storage of ["float32", "float16", "uint8"] as const) {
    const files = stored(base, storage);
    const dir = `${root}/${storage}`;
    await Deno.mkdir(dir);
    await saveTfjsFiles(`${dir}/model.json`, files);
    const bytes = [...files.values()].reduce((n, b) => n + b.length, 0);
    const [model, readS] = await time(() => readModelFile(`${dir}/model.json`, () => {}));
    const [, valuesS] = await time(async () => {
      for (const m of model.graph.modules) for (const p of Object.values(m.params)) await p.data();
    });
    const [, roundTripS] = await time(async () => {
      const again = await readModelFile(`${dir}/model.json`, () => {});
      if (again.format !== "tfjs") throw new Error("not tfjs");
      await saveTfjsFiles(`${dir}/copy.json`, tfjsSaved(encodeTfjs(again.tfjs, new Map())).files);
    });
    const [pruned, pruneS] = await time(async () => {
      const again = await readModelFile(`${dir}/model.json`, () => {});
      const r = await compressModel(again, {
        mode: "pruning",
        configList: [{ op_types: ["Linear"], sparse_ratio: 0.5 }],
      });
      await saveTfjsFiles(`${dir}/pruned.json`, r.files!);
      return r;
    });
    rows.push({
      storage,
      fileBytes: bytes,
      shards: files.size - 1,
      readSeconds: readS,
      dequantizeAllSeconds: valuesS,
      readWriteSeconds: roundTripS,
      prune50ReadWriteSeconds: pruneS,
      prunedFileBytes: pruned.report.after.fileBytes,
    });
  }
} finally {
  await Deno.remove(root, { recursive: true });
}
const result = { bench: "tfjs_files", mb, cores: navigator.hardwareConcurrency, rows };
const text = JSON.stringify(result, null, 2);
console.log(text);
await writeFileAtomic(out, new TextEncoder().encode(text + "\n"));
