// TensorFlow.js weights manifests alone (no topology), as face-api ships its seven networks
// (@vladmandic/face-api 1.7.15, read from node_modules): read as tfjs reads them, written back
// unchanged, quantized and pruned, then run by face-api itself against the original weights.
// bench/face_api_models.ts measures every network and run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { compressModel } from "../../src/compress/compress_model.ts";
import { type LoadedModel, loadModel } from "../../src/compress/load_model.ts";
import { readModelFile } from "../../src/compress/read_model_file.ts";
import { readTfjs, tfjsWeightValues } from "../../src/io/tfjs/read_tfjs.ts";
import { encodeTfjs, namedTfjsFiles } from "../../src/io/tfjs/write_tfjs.ts";
import { tfjsModel } from "../../src/model/tfjs_model.ts";
import { FACE_API_MODELS, FACE_API_NETS, runFaceApi } from "./_face_api.ts";
import { graphModelFiles } from "./_models.ts";
import { saveTfjsFiles } from "../../src/io/tfjs/save_tfjs.ts";
import { cli, ROOT, tempDir } from "../cli/_run.ts";
import { cosine } from "../models_shipped/_half_models.ts";

type TfjsLoaded = Extract<LoadedModel, { format: "tfjs" }>;

async function load(name: string): Promise<TfjsLoaded> {
  const model = await readModelFile(`${FACE_API_MODELS}${name}-weights_manifest.json`, () => {});
  assert.equal(model.format, "tfjs");
  return model as TfjsLoaded;
}

const lowest = (a: Float32Array[], b: Float32Array[]) => {
  assert.equal(a.length, b.length);
  return Math.min(...a.map((x, i) => cosine(x, b[i])));
};

const weightBytes = (files: ReadonlyMap<string, Uint8Array>) =>
  [...files].filter(([k]) => k !== "model.json").reduce((n, [, b]) => n + b.length, 0);

const UINT8 = [{
  op_types: ["Conv2d", "Linear", "BatchNorm2d", "Module"],
  target_names: ["weight"],
  quant_dtype: "uint8",
  quant_scheme: "affine",
}];

test("every face-api manifest: weights read as tfjs reads them, written back byte for byte", async () => {
  for (const name of Object.keys(FACE_API_NETS)) {
    const model = await load(name);
    assert.equal(model.tfjs.kind, "weights-manifest", name);
    assert.equal(model.graph.metadata?.tfjs_format, "weights-manifest");
    const groups = JSON.parse(new TextDecoder().decode(model.bytes));
    assert.ok(Array.isArray(groups), name);
    const data = Uint8Array.from(
      groups.flatMap((g: { paths: string[] }) => g.paths.flatMap((p) => [...model.files.get(p)!])),
    );
    const ref = tf.io.decodeWeights(data.buffer, groups.flatMap((g: { weights: [] }) => g.weights));
    for (const w of model.tfjs.weights) {
      const theirs = ref[w.spec.name].dataSync();
      const mine = tfjsWeightValues(w);
      assert.deepEqual([...mine], [...theirs], `${name} ${w.spec.name}`);
    }
    tf.dispose(Object.values(ref));
    const out = encodeTfjs(model.tfjs, new Map());
    // Written as read: a list of groups, no topology added.
    assert.ok(Array.isArray(JSON.parse(new TextDecoder().decode(out.modelJson))));
    const back = readTfjs(out.modelJson, out.shards);
    assert.equal(back.kind, "weights-manifest");
    assert.deepEqual(back.weights.map((w) => w.spec), model.tfjs.weights.map((w) => w.spec));
    back.weights.forEach((w, i) =>
      assert.deepEqual(w.bytes, model.tfjs.weights[i].bytes, `${name} ${w.spec.name}`)
    );
  }
});

test("module view of a manifest: kernels by name and rank, separable convs split, batch norms", async () => {
  const byName = async (name: string) =>
    new Map((await load(name)).graph.modules.map((m) => [m.name, m]));
  const ageGender = await byName("age_gender_model");
  const sep = "entry_flow.reduction_block_0.separable_conv0";
  const dw = ageGender.get(`${sep}.depthwise`)!;
  assert.equal(dw.type, "Conv2d");
  // [3, 3, 32, 1] depthwise -> [32, 1, 3, 3]; the bias follows the pointwise kernel.
  assert.deepEqual(dw.params.weight.shape, [32, 1, 3, 3]);
  assert.deepEqual(Object.keys(dw.params), ["weight"]);
  const pw = ageGender.get(`${sep}.pointwise`)!;
  assert.deepEqual(pw.params.weight.shape, [64, 32, 1, 1]);
  assert.deepEqual(pw.params.bias.shape, [64]);
  assert.equal(ageGender.get("fc.age")!.type, "Linear");
  assert.deepEqual(ageGender.get("fc.age")!.params.weight.shape, [1, 512]);
  const ssd = await byName("ssd_mobilenetv1_model");
  const bn = ssd.get("MobilenetV1.Conv2d_1_depthwise.BatchNorm")!;
  assert.equal(bn.type, "BatchNorm2d");
  assert.deepEqual(Object.keys(bn.params), ["weight", "bias", "running_mean", "running_var"]);
  // A folded batch norm's offset is the convolution's bias.
  const conv = ssd.get("MobilenetV1.Conv2d_0_pointwise")!;
  assert.deepEqual(Object.keys(conv.params), ["weight", "bias"]);
  assert.equal(conv.params.bias.name, "MobilenetV1/Conv2d_0_pointwise/convolution_bn_offset");
  // Anchors are no kernel (their name says so): a module of their own, in tfjs layout.
  assert.equal(ssd.get("Output.extra_dim")!.type, "Module");
  assert.deepEqual(ssd.get("Output.extra_dim")!.params.weight.shape, [1, 5118, 4]);
  // A kernel without a scope (`fc`, [256, 128]) is a dense layer, seen as [out, in].
  const rec = await byName("face_recognition_model");
  assert.equal(rec.get("fc")!.type, "Linear");
  assert.deepEqual(rec.get("fc")!.params.weight.shape, [128, 256]);
  assert.equal(rec.get("conv32_down.scale")!.type, "Module");
});

test("module view of a manifest: names no rule knows, a name repeated, a scope with kernels", () => {
  const spec = (name: string, shape: number[]) => ({ name, shape, dtype: "float32" });
  const weights = [
    spec("a/filters", [1, 1, 2, 3]),
    spec("a/bias", [3]),
    spec("a/extra", [3]),
    spec("b/w", [4, 2]),
    spec("b/kernel", [3, 3, 2]),
    spec("loose", [5]),
    spec("loose", [1]),
    spec("c/scale", [2]),
    { name: "c/n", shape: [1], dtype: "int32" },
    // Not modules, as a graph model's constants: an empty one, and a -inf sentinel.
    spec("d/empty", [0, 3]),
    spec("d/floor", [1]),
    spec("e/constructor", [1]),
  ];
  const sizes = weights.map((w) => w.shape.reduce((a, b) => a * b, 1) * 4);
  const data = new Uint8Array(sizes.reduce((a, b) => a + b, 0));
  // d/floor holds -inf.
  new DataView(data.buffer).setFloat32(data.length - 8, -Infinity, true);
  const model = readTfjs(
    JSON.stringify([{ paths: ["w.bin"], weights }]),
    new Map([["w.bin", data]]),
  );
  const view = tfjsModel(model);
  const summary = view.modules.map((m) =>
    `${m.name}:${m.type}:${
      Object.entries(m.params).map(([k, p]) => `${k}${JSON.stringify(p.shape)}`).join(",")
    }`
  );
  assert.deepEqual(summary, [
    "a:Conv2d:weight[3,2,1,1],bias[3]",
    // Left over in a scope that has a kernel: a module of its own.
    "a.extra:Module:weight[3]",
    // Two kernels in one scope: one module each, after their names; the second is a Conv1d.
    "b.w:Linear:weight[2,4]",
    "b.kernel:Conv1d:weight[2,3,3]",
    "loose:Module:weight[5]",
    // A weight name repeated: the module names stay unique.
    "loose_2:Module:weight[1]",
    // Names no rule knows: a module each, as a graph model's constants.
    "c.scale:Module:weight[2]",
    "c.n:Module:weight[1]",
    // A name an object's prototype holds is a name like any other.
    "e.constructor:Module:weight[1]",
  ]);
});

test("face-api runs the compressed weights: uint8, pruned, and unchanged when written back", async () => {
  // face_recognition: 109 weights already uint8, its dense kernel and scales float32.
  const rec = await load("face_recognition_model");
  const ref = await runFaceApi("face_recognition_model", rec.bytes, rec.files);
  const q = await compressModel(rec, { mode: "quantization", configList: UINT8 });
  const qFiles = q.files!;
  assert.ok(weightBytes(qFiles) < 0.9 * weightBytes(rec.files));
  const qOut = await runFaceApi("face_recognition_model", qFiles.get("model.json")!, qFiles);
  assert.ok(lowest(qOut, ref) >= 0.999, `${lowest(qOut, ref)}`);
  // Pruned 30%: the storage (uint8) kept, face-api runs it, descriptors close.
  const tiny = await load("face_landmark_68_tiny_model");
  const tinyRef = await runFaceApi("face_landmark_68_tiny_model", tiny.bytes, tiny.files);
  const p = await compressModel(tiny, {
    mode: "pruning",
    configList: [{ op_types: ["Conv2d", "Linear"], sparse_ratio: 0.3 }],
  });
  const pFiles = p.files!;
  const pruned = readTfjs(pFiles.get("model.json")!, pFiles);
  assert.ok(pruned.weights.every((w) => w.spec.quantization?.dtype === "uint8"));
  const pOut = await runFaceApi("face_landmark_68_tiny_model", pFiles.get("model.json")!, pFiles);
  const c = lowest(pOut, tinyRef);
  assert.ok(c >= 0.99 && c < 1, `${c}`);
  // Written back unchanged: the same outputs, bit for bit.
  const back = encodeTfjs(tiny.tfjs, new Map());
  const same = await runFaceApi("face_landmark_68_tiny_model", back.modelJson, back.shards);
  assert.deepEqual(same, tinyRef);
});

test("CLI: a manifest quantized keeps its name, face-api loads it; runs that need a topology are refused", async () => {
  const dir = tempDir();
  const config = `${dir}/q.json`;
  writeFileSync(config, JSON.stringify(UINT8));
  const source = `${FACE_API_MODELS}face_recognition_model-weights_manifest.json`;
  const target = `${dir}/face_recognition_model-weights_manifest.json`;
  const q = await cli("quantize", source, "-c", config, "-o", target);
  assert.equal(q.code, 0, q.stderr);
  const json = readFileSync(target);
  const groups = JSON.parse(new TextDecoder().decode(json));
  assert.ok(Array.isArray(groups));
  // 5.6 MB: two shards of at most 4 MiB, named after the manifest.
  assert.deepEqual(groups[0].paths, [
    "face_recognition_model-shard1of2.bin",
    "face_recognition_model-shard2of2.bin",
  ]);
  const shards = new Map<string, Uint8Array>(
    groups[0].paths.map((p: string) => [p, new Uint8Array(readFileSync(`${dir}/${p}`))]),
  );
  const model = loadModel(new Uint8Array(json), "face_recognition_model-weights_manifest.json", {
    shards,
  });
  assert.equal(model.format === "tfjs" && model.tfjs.kind, "weights-manifest");
  const rec = await load("face_recognition_model");
  const ref = await runFaceApi("face_recognition_model", rec.bytes, rec.files);
  const out = await runFaceApi("face_recognition_model", new Uint8Array(json), shards);
  assert.ok(lowest(out, ref) >= 0.999, `${lowest(out, ref)}`);

  const inspect = await cli("inspect", source);
  assert.equal(inspect.code, 0, inspect.stderr);
  assert.match(inspect.stdout, /conv32_down\.conv +Conv2d/);
  const e = await cli("eval", target, "--reference", source);
  assert.notEqual(e.code, 0);
  assert.match(e.stderr, /weights manifest alone .* has no topology: tfjs cannot run it/);
  assert.match(e.stderr, /hint: give --runner <module\.js>/);
  const cal = await cli(
    "quantize",
    source,
    "-c",
    config,
    "--calibration",
    `${ROOT}tests/fixtures/photos`,
    "--bias-correction",
    "-o",
    `${dir}/b.json`,
  );
  assert.notEqual(cal.code, 0);
  assert.match(cal.stderr, /weights manifest alone/);
});

test("CLI eval --runner: a manifest's weights run in code, compressed against original", async () => {
  const dir = tempDir();
  const config = `${dir}/q.json`;
  writeFileSync(config, JSON.stringify(UINT8));
  const name = "face_recognition_model-weights_manifest.json";
  const source = `${FACE_API_MODELS}${name}`;
  const target = `${dir}/${name}`;
  assert.equal((await cli("quantize", source, "-c", config, "-o", target)).code, 0);
  const runner = `${ROOT}examples/face_api/runner.mjs`;
  const saved = process.env.FACE_API_NET;
  process.env.FACE_API_NET = "FaceRecognitionNet";
  try {
    const e = await cli("eval", target, "--reference", source, "--runner", runner, "--json");
    assert.equal(e.code, 0, e.stderr);
    const { outputs } = JSON.parse(e.stdout);
    // Six face tiles, one 128-value descriptor each: the same as face-api's own run of the
    // same files (runFaceApi), the dense kernel's uint8 storage below 1 but close.
    assert.deepEqual(
      outputs.map((o: { name: string; dims: number[] }) => [o.name, o.dims]),
      [0, 1, 2, 3, 4, 5].map((k) => [`output_${k}`, [1, 128]]),
    );
    const rec = await load("face_recognition_model");
    const ref = await runFaceApi("face_recognition_model", rec.bytes, rec.files);
    const groups = JSON.parse(readFileSync(target, "utf8"));
    const shards = new Map<string, Uint8Array>(
      groups[0].paths.map((p: string) => [p, new Uint8Array(readFileSync(`${dir}/${p}`))]),
    );
    const out = await runFaceApi(
      "face_recognition_model",
      new Uint8Array(readFileSync(target)),
      shards,
    );
    outputs.forEach((o: { cosine: number }, k: number) => {
      assert.ok(Math.abs(o.cosine - cosine(out[k], ref[k])) < 1e-6, `${o.cosine}`);
      assert.ok(o.cosine >= 0.999 && o.cosine < 1, `${o.cosine}`);
    });
    // The original against itself: identical.
    const same = await cli("eval", source, "--reference", source, "--runner", runner, "--json");
    assert.ok(
      JSON.parse(same.stdout).outputs.every((o: { maxAbsDiff: number }) => o.maxAbsDiff === 0),
    );
    // A runner for another network fails on the weights, and says so.
    process.env.FACE_API_NET = "TinyFaceDetector";
    const wrong = await cli("eval", target, "--reference", source, "--runner", runner);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /--runner .*runner\.mjs: the runner failed on the original weights/);
  } finally {
    if (saved === undefined) delete process.env.FACE_API_NET;
    else process.env.FACE_API_NET = saved;
  }
  // Flags the runner makes moot, a module with no function, and a model tfjs runs itself.
  const shape = await cli(
    "eval",
    target,
    "--reference",
    source,
    "--runner",
    runner,
    "--shape",
    "1,2",
  );
  assert.equal(shape.code, 2);
  assert.match(shape.stderr, /--shape does not go with --runner/);
  const runs = await cli("eval", target, "--reference", source, "--runner", runner, "--runs", "3");
  assert.match(runs.stderr, /--runs does not go with --runner/);
  const empty = `${dir}/empty.mjs`;
  writeFileSync(empty, "export const x = 1;\n");
  const none = await cli("eval", target, "--reference", source, "--runner", empty);
  assert.match(none.stderr, /--runner .*empty\.mjs exports no function/);
  const graph = `${dir}/graph/model.json`;
  mkdirSync(`${dir}/graph`);
  await saveTfjsFiles(graph, graphModelFiles());
  const g = await cli("eval", graph, "--reference", graph, "--runner", runner);
  assert.equal(g.code, 2);
  assert.match(g.stderr, /--runner runs a weights manifest alone; .* is a tfjs graph-model/);
});

test("namedTfjsFiles: a plain model.json keeps its shard names, any other name renames them", () => {
  const files = new Map([
    [
      "model.json",
      new TextEncoder().encode(JSON.stringify({ weightsManifest: [{ paths: ["g.bin"] }] })),
    ],
    ["g.bin", new Uint8Array(1)],
  ]);
  assert.deepEqual([...namedTfjsFiles("model.json", files).keys()], ["model.json", "g.bin"]);
  const small = namedTfjsFiles("small.json", files);
  assert.deepEqual([...small.keys()], ["small.json", "small-shard1of1.bin"]);
  const json = JSON.parse(new TextDecoder().decode(small.get("small.json")));
  assert.deepEqual(json.weightsManifest[0].paths, ["small-shard1of1.bin"]);
  assert.throws(() => namedTfjsFiles("x.json", new Map()), /must hold model\.json/);
});
