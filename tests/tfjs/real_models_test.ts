// The tfjs graph models `@vladmandic/human` ships in its package (float32, float16 and uint8
// storage; _FusedConv2D, FusedDepthwiseConv2dNative, _FusedMatMul), read from node_modules:
// every weight read as tfjs reads it, written back unchanged, quantized to uint8 and float16 and
// pruned, then run by tfjs against the original. bench/tfjs_models_table.ts measures all of them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { loadGraphModel } from "@tensorflow/tfjs-converter";
import { compareTfjsOutputs, type TfjsRuntime } from "../../src/compress/compare_tfjs.ts";
import { compressModel } from "../../src/compress/compress_model.ts";
import { type LoadedModel } from "../../src/compress/load_model.ts";
import { readModelFile } from "../../src/compress/read_model_file.ts";
import { readTfjs, tfjsWeightValues } from "../../src/io/tfjs/read_tfjs.ts";
import { encodeTfjs, tfjsSaved } from "../../src/io/tfjs/write_tfjs.ts";
import { equalizeTfjs } from "../../src/quantization/equalize_tfjs.ts";
import { INT8_PER_CHANNEL, tf } from "./_models.ts";
import { humanInputs } from "./_photos.ts";
import { cli, tempDir } from "../cli/_run.ts";

const HUMAN = new URL("../../node_modules/@vladmandic/human/models/", import.meta.url).pathname;
const ALL = [
  "antispoof",
  "blazeface",
  "centernet",
  "emotion",
  "facemesh",
  "faceres",
  "handlandmark-lite",
  "handtrack",
  "iris",
  "liveness",
  "movenet-lightning",
];
const runtime: TfjsRuntime = { tf, loadGraphModel: (h) => loadGraphModel(h) };
const UINT8 = [{
  op_types: ["Conv2d", "Linear", "Module", "PReLU", "BatchNorm2d"],
  target_names: ["weight"],
  quant_dtype: "uint8",
  quant_scheme: "affine",
}];

async function load(name: string): Promise<Extract<LoadedModel, { format: "tfjs" }>> {
  const model = await readModelFile(`${HUMAN}${name}.json`, () => {});
  assert.equal(model.format, "tfjs");
  return model as Extract<LoadedModel, { format: "tfjs" }>;
}

/** Whether two typed arrays hold the same bytes (float32 compared bit for bit). */
function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

const shardBytes = (f: ReadonlyMap<string, Uint8Array>) =>
  [...f].filter(([k]) => k !== "model.json").reduce((n, [, b]) => n + b.length, 0);

test("every shipped model: weights read as tfjs reads them, and a round trip keeps every tensor", async () => {
  const seen = new Set<string>();
  for (const name of ALL) {
    const model = await load(name);
    const data = new Uint8Array(shardBytes(model.files));
    let at = 0;
    for (const [k, b] of model.files) {
      if (k === "model.json") continue;
      data.set(b, at);
      at += b.length;
    }
    const specs = model.tfjs.weights.map((w) => w.spec);
    const ref = tf.io.decodeWeights(data.buffer, specs as never);
    for (const w of model.tfjs.weights) {
      seen.add(w.spec.quantization?.dtype ?? w.spec.dtype);
      const theirs = ref[w.spec.name].dataSync();
      const mine = tfjsWeightValues(w);
      assert.equal(sameBytes(mine, theirs as ArrayBufferView), true, `${name} ${w.spec.name}`);
    }
    tf.dispose(Object.values(ref));
    const out = encodeTfjs(model.tfjs, new Map());
    const back = readTfjs(out.modelJson, out.shards);
    assert.deepEqual(back.weights.map((w) => w.spec), specs, name);
    back.weights.forEach((w, i) =>
      assert.deepEqual(w.bytes, model.tfjs.weights[i].bytes, `${name} ${w.spec.name}`)
    );
    assert.ok(model.graph.modules.some((m) => m.type === "Conv2d"), name);
  }
  assert.deepEqual([...seen].sort(), ["float16", "float32", "int32", "uint8"]);
});

test("uint8 storage: <= 27% of a float32 model's weight bytes, <= 52% of a float16 model's", async () => {
  for (
    const [name, limit] of [["emotion", 0.27], ["iris", 0.27], ["blazeface", 0.27], [
      "antispoof",
      0.52,
    ], ["facemesh", 0.52]] as const
  ) {
    const model = await load(name);
    const q = await compressModel(model, { mode: "quantization", configList: UINT8 });
    const ratio = shardBytes(q.files!) / shardBytes(model.files);
    assert.ok(ratio <= limit, `${name}: ${ratio}`);
    assert.equal(q.report.storage, "int");
  }
});

test("uint8 and float16 storage keep the outputs (cosine >= 0.99) where tfjs's per-tensor uint8 can", async () => {
  for (const name of ["emotion", "iris", "antispoof", "liveness"]) {
    const model = await load(name);
    for (const storage of ["int", "float16"] as const) {
      const q = await compressModel(model, { mode: "quantization", configList: UINT8, storage });
      for (const c of await compareTfjsOutputs(runtime, q.files!, model.files)) {
        assert.ok(c.cosine >= 0.99, `${name} ${storage} ${c.name}: cosine ${c.cosine}`);
      }
    }
  }
});

test("handtrack, stored as uint8: quantized to uint8 it is written back byte for byte", async () => {
  // Its Reshape constant and NMS score thresholds re-quantized on NNI's grid moved by 1e-3 and
  // 1e-8, which changed the boxes non-max suppression kept: cosine 0.82 instead of 1.
  const model = await load("handtrack");
  const q = await compressModel(model, { mode: "quantization", configList: UINT8 });
  const back = readTfjs(q.files!.get("model.json")!, q.files!);
  assert.deepEqual(back.weights.map((w) => w.spec), model.tfjs.weights.map((w) => w.spec));
  back.weights.forEach((w, i) =>
    assert.deepEqual(w.bytes, model.tfjs.weights[i].bytes, w.spec.name)
  );
  for (const c of await compareTfjsOutputs(runtime, q.files!, model.files)) {
    assert.equal(c.maxAbsDiff, 0, c.name);
  }
});

test("uint8 headroom: the channels most damaged by one grid per tensor stored at 16 bits, within 52%", async () => {
  const model = await load("movenet-lightning");
  const cosine = async (headroom?: number) => {
    const q = await compressModel(model, { mode: "quantization", configList: UINT8, headroom });
    const cmp = await compareTfjsOutputs(runtime, q.files!, model.files);
    // The keypoints (after an ArgMax), not the heatmaps and offsets they are picked from.
    const outputs = cmp.filter((c) => c.beforeSelection === undefined);
    return { q, cos: Math.min(...outputs.map((c) => c.cosine)) };
  };
  const plain = await cosine(0);
  const wide = await cosine();
  // Measured: 0.9026 with one uint8 grid per tensor, 0.9974 with the default 2% headroom.
  assert.ok(plain.cos < 0.95, `headroom 0: cosine ${plain.cos}`);
  assert.ok(wide.cos >= 0.99, `headroom 0.02: cosine ${wide.cos}`);
  assert.ok(shardBytes(wide.q.files!) <= 0.52 * shardBytes(model.files));
  assert.ok(shardBytes(wide.q.files!) > shardBytes(plain.q.files!));
  const note = wide.q.report.warnings.find((w) => w.includes("stored at 16 bits"));
  assert.match(note ?? "", /within the 2\.0% headroom: .*\((float16|uint16)\)/);
  const back = readTfjs(wide.q.files!.get("model.json")!, wide.q.files!);
  const kinds = new Set(back.weights.map((w) => w.spec.quantization?.dtype ?? w.spec.dtype));
  assert.ok(kinds.has("uint8") && (kinds.has("float16") || kinds.has("uint16")), [...kinds].join());
});

test("channel scales: handlandmark-lite int8 per channel within 52%, every output >= 0.99 on photos", async () => {
  const model = await load("handlandmark-lite");
  const q = await compressModel(model, {
    mode: "quantization",
    configList: INT8_PER_CHANNEL,
    channelScales: true,
    tfjsRuntime: runtime,
    tfjsInputs: humanInputs("handlandmark-lite", "calibrate"),
    biasCorrection: true,
    gptqRounding: true,
  });
  assert.match(q.report.warnings.join("\n"), /channel scales: 49 kernel\(s\)/);
  // Measured: 51.8% of the weight bytes; lowest output 0.9936 on the scoring photos (0.9707 with
  // one uint8 grid per tensor, ReLU6 equalization, bias correction and GPTQ rounding).
  assert.ok(shardBytes(q.files!) <= 0.52 * shardBytes(model.files));
  const cmp = await compareTfjsOutputs(runtime, q.files!, model.files, {
    inputs: humanInputs("handlandmark-lite", "score"),
  });
  for (const c of cmp) assert.ok(c.cosine >= 0.99, `${c.name}: ${c.cosine}`);
});

test("channel scales within the budget: blazeface's float32 scales stored as float16 to fit 27%", async () => {
  const model = await load("blazeface");
  const q = await compressModel(model, {
    mode: "quantization",
    configList: INT8_PER_CHANNEL,
    channelScales: true,
  });
  // Its float32 scales take 2.45% of the weight bytes (28.5% in all); as float16 they fit.
  const text = q.report.warnings.join("\n");
  assert.match(text, /channel scales: \d+ kernel\(s\)/);
  assert.match(text, /\(scales float16\)/);
  assert.ok(shardBytes(q.files!) <= 0.27 * shardBytes(model.files));
  // Measured: 27.0%, lowest output cosine 0.9948 on the random inputs.
  const cmp = await compareTfjsOutputs(runtime, q.files!, model.files);
  for (const c of cmp) assert.ok(c.cosine >= 0.99, `${c.name}: ${c.cosine}`);
  // With no headroom there is no budget: the float32 scales, NNI's values bit for bit.
  const exact = await compressModel(model, {
    mode: "quantization",
    configList: INT8_PER_CHANNEL,
    channelScales: true,
    headroom: 0,
  });
  assert.doesNotMatch(exact.report.warnings.join("\n"), /\(scales float16\)/);
  assert.ok(shardBytes(exact.files!) > 0.27 * shardBytes(model.files));
});

test("equalize: float outputs unchanged within 1e-4 (relative) before quantization; uint8 blazeface 0.84 -> 0.98", async () => {
  for (const [name, least] of [["blazeface", 30], ["iris", 20], ["emotion", 1]] as const) {
    const model = await load(name);
    const eq = equalizeTfjs(model.tfjs);
    assert.ok(eq.pairs.length >= least, `${name}: ${eq.pairs.length} pairs`);
    const changed = eq.model.weights.filter((w, i) =>
      !sameBytes(w.bytes, model.tfjs.weights[i].bytes)
    );
    assert.ok(changed.length >= 2 * least, name);
    // Stored as before: float32 stays float32, the manifest keeps every spec.
    assert.deepEqual(eq.model.weights.map((w) => w.spec), model.tfjs.weights.map((w) => w.spec));
    const files = tfjsSaved(encodeTfjs(eq.model, new Map())).files;
    for (const c of await compareTfjsOutputs(runtime, files, model.files)) {
      assert.ok(c.relativeError <= 1e-4, `${name} ${c.name}: relative error ${c.relativeError}`);
    }
  }
  // Float16 weights are not rescaled (they would be rounded again): facemesh has none to pair.
  const facemesh = await load("facemesh");
  assert.deepEqual(equalizeTfjs(facemesh.tfjs).pairs, []);
  const blazeface = await load("blazeface");
  const minCos = async (equalize: boolean) => {
    const q = await compressModel(blazeface, {
      mode: "quantization",
      configList: UINT8,
      headroom: 0,
      equalize,
    });
    if (equalize) assert.ok(q.report.warnings.some((w) => /^equalize: 32 pair/.test(w)));
    const cmp = await compareTfjsOutputs(runtime, q.files!, blazeface.files);
    return { cos: Math.min(...cmp.map((c) => c.cosine)), bytes: shardBytes(q.files!) };
  };
  const plain = await minCos(false);
  const eq = await minCos(true);
  // Measured: 0.8390 per tensor, 0.9816 after equalization, at the same size (26.0%).
  assert.ok(plain.cos < 0.9, String(plain.cos));
  assert.ok(eq.cos > 0.97, String(eq.cos));
  assert.equal(eq.bytes, plain.bytes);
  await assert.rejects(
    compressModel(blazeface, { mode: "pruning", configList: UINT8, equalize: true }),
    /"equalize" rescales the weights of TensorFlow\.js models before quantization: the model is tfjs, the mode pruning/,
  );
});

test("prune 30% and 50% of a shipped uint8 model and a float32 one: storage kept, tfjs runs them", async () => {
  for (const [name, ratio] of [["handtrack", 0.3], ["emotion", 0.5]] as const) {
    const model = await load(name);
    {
      const p = await compressModel(model, {
        mode: "pruning",
        configList: [{ op_types: ["Conv2d", "Linear"], sparse_ratio: ratio }],
      });
      const back = readTfjs(p.files!.get("model.json")!, p.files!);
      back.weights.forEach((w, i) => {
        assert.deepEqual(
          w.spec.quantization?.dtype,
          model.tfjs.weights[i].spec.quantization?.dtype,
        );
      });
      const sparsity = p.report.layers.filter((l) => l.target === "weight");
      assert.ok(sparsity.every((l) => l.sparsity >= ratio - 0.01), name);
      // Pruned weights keep their size: tfjs stores dense tensors.
      assert.equal(shardBytes(p.files!), shardBytes(model.files), name);
      const cmp = await compareTfjsOutputs(runtime, p.files!, model.files);
      assert.ok(cmp.every((c) => Number.isFinite(c.maxAbsDiff)), name);
    }
  }
});

test("CLI: quantize --headroom, then eval --reference on tfjs's CPU and WebAssembly backends", async () => {
  const dir = tempDir();
  const config = `${dir}/q.json`;
  writeFileSync(config, JSON.stringify(UINT8));
  for (const h of ["0", "0.02"]) {
    const q = await cli(
      "quantize",
      `${HUMAN}facemesh.json`,
      "-c",
      config,
      "--headroom",
      h,
      "-o",
      `${dir}/h${h}.json`,
    );
    assert.equal(q.code, 0, q.stderr);
  }
  const e = await cli(
    "eval",
    `${dir}/h0.02.json`,
    "--reference",
    `${HUMAN}facemesh.json`,
    "--backend",
    "both",
    "--json",
  );
  assert.equal(e.code, 0, e.stderr);
  const out = JSON.parse(e.stdout) as {
    outputs: { name: string; cosine: number }[];
    backends: { backend: string; outputs: { name: string; cosine: number }[] }[];
  };
  assert.deepEqual(out.backends.map((b) => b.backend), ["tfjs-cpu", "tfjs-wasm"]);
  // The two backends run different kernels: the figures agree closely, not bit for bit.
  const [cpu, wasm] = out.backends.map((b) => b.outputs);
  cpu.forEach((c, i) => {
    assert.equal(c.name, wasm[i].name);
    assert.ok(
      c.cosine >= 0.99 && wasm[i].cosine >= 0.99,
      `${c.name}: ${c.cosine} ${wasm[i].cosine}`,
    );
    assert.ok(Math.abs(c.cosine - wasm[i].cosine) < 1e-3, c.name);
  });
  // Headroom 0 is the plain per-tensor uint8: lower on facemesh's mesh output (0.9909 vs 0.9995).
  const plain = await cli(
    "eval",
    `${dir}/h0.json`,
    "--reference",
    `${HUMAN}facemesh.json`,
    "--backend",
    "wasm",
    "--json",
  );
  assert.equal(plain.code, 0, plain.stderr);
  const p = JSON.parse(plain.stdout) as { outputs: { cosine: number }[] };
  assert.ok(Math.min(...p.outputs.map((o) => o.cosine)) < Math.min(...wasm.map((o) => o.cosine)));
  const bad = await cli(
    "eval",
    `${dir}/h0.json`,
    "--reference",
    `${HUMAN}facemesh.json`,
    "--backend",
    "gpu",
  );
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(
    bad.stderr,
    /--backend must be cpu, wasm or both for a TensorFlow\.js model: current value is gpu/,
  );
});
