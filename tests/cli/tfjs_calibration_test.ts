// `quantize model.json --bias-correction --calibration <file>`: TensorFlow.js calibration inputs
// from the same files as ONNX calibration (safetensors, .npy), run by tfjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadGraphModel } from "@tensorflow/tfjs-converter";
import { compareTfjsOutputs } from "../../src/compress/compare_tfjs.ts";
import { readTfjsFiles, saveTfjsFiles } from "../../src/io/tfjs/save_tfjs.ts";
import { writeSafetensors } from "../../src/io/safetensors/write_safetensors.ts";
import { functionalModelFiles, graphModelFiles, storedAs, tf, tfl } from "../tfjs/_models.ts";
import { cli, tempDir } from "./_run.ts";

const QUANT = [{
  op_types: ["Conv2d", "Linear"],
  target_names: ["weight"],
  quant_dtype: "uint8",
  quant_scheme: "affine",
}];

/** Rows like images (in [0, 1)) for the test graph model's input `x` [n, 6, 6, 3]. */
function rows(n: number): Float32Array {
  return Float32Array.from({ length: n * 108 }, (_, i) => (Math.sin(i * 12.9898) + 1) / 2);
}

/** A `.npy` file (version 1.0, little-endian float32). */
function npy(data: Float32Array, shape: number[]): Uint8Array {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(", ")}), }`;
  header += " ".repeat(63 - ((10 + header.length) % 64)) + "\n";
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, ..."NUMPY".split("").map((c) => c.charCodeAt(0)), 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer), 10 + header.length);
  return out;
}

/** The test graph model and a config in a new folder. */
async function setup(): Promise<string> {
  const dir = tempDir();
  await saveTfjsFiles(`${dir}/model.json`, graphModelFiles());
  writeFileSync(`${dir}/q.json`, JSON.stringify(QUANT));
  return dir;
}

/** `<command> model.json -c q.json --bias-correction -o <out>` and more arguments. */
const run = (command: string, dir: string, ...more: string[]) =>
  cli(command, `${dir}/model.json`, "-c", `${dir}/q.json`, "--bias-correction", ...more);

test("CLI: quantize model.json --equalize --bias-correction --calibration inputs.safetensors", async () => {
  const dir = await setup();
  const x = rows(6);
  writeFileSync(
    `${dir}/inputs.safetensors`,
    writeSafetensors([{ name: "x", dtype: "F32", shape: [6, 6, 6, 3], data: x }]),
  );
  mkdirSync(`${dir}/out`);
  const r = await run(
    "quantize",
    dir,
    "--equalize",
    "--calibration",
    `${dir}/inputs.safetensors`,
    "--batch-size",
    "4",
    "-o",
    `${dir}/out/model.json`,
    "--json",
  );
  assert.equal(r.code, 0, r.stderr);
  const warnings: string[] = JSON.parse(r.stdout).report.warnings;
  const bias = warnings.find((w) => w.startsWith("bias correction"))!;
  // 6 rows in sets of 4: two input sets.
  assert.match(bias, /shift of 5 layer\(s\) taken out of their biases .* on 2 input set\(s\)/);
  assert.match(
    bias,
    /1 of them had no bias and were given one \(fused BiasAdd\): model\/fc2\/MatMul/,
  );
  // ReLU6 equalization used the same inputs.
  assert.match(warnings.join("\n"), /through a ReLU6/);
  const json = JSON.parse(readFileSync(`${dir}/out/model.json`, "utf8"));
  const fc2 = json.modelTopology.node.find((n: { name: string }) => n.name === "model/fc2/MatMul");
  assert.equal(fc2.op, "_FusedMatMul");
  // tfjs loads and runs the result; its outputs stay close to the original's on the inputs.
  const read = await readTfjsFiles(`${dir}/out/model.json`);
  const out = new Map([["model.json", read.modelJson], ...read.shards]);
  const cmp = await compareTfjsOutputs(
    { tf, loadGraphModel: (h) => loadGraphModel(h) },
    out,
    graphModelFiles(),
    { inputs: [[{ data: x, dims: [6, 6, 6, 3] }]] },
  );
  assert.ok(cmp[0].cosine > 0.99, `${cmp[0].cosine}`);
});

test("CLI: a .npy file calibrates a one-input tfjs model; so does a file with one tensor of another name", async () => {
  const dir = await setup();
  writeFileSync(`${dir}/x.npy`, npy(rows(3), [3, 6, 6, 3]));
  const out = ["-o", `${dir}/q8.json`];
  const r = await run("quantize", dir, ...out, "--calibration", `${dir}/x.npy`);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout + r.stderr,
    /bias correction: the expected output shift of 5 layer\(s\).* on 1 input set\(s\)/,
  );
  const data = rows(2);
  const file = `${dir}/x0.safetensors`;
  writeFileSync(
    file,
    writeSafetensors([
      { name: "x:0", dtype: "F32", shape: [2, 6, 6, 3], data },
      { name: "extra", dtype: "F32", shape: [2], data: Float32Array.of(1, 2) },
    ]),
  );
  // Every tensor must name an input.
  const s = await run("quantize", dir, ...out, "--calibration", file);
  assert.equal(s.code, 1, s.stderr);
  assert.match(s.stderr, /names no input of the model/);
  writeFileSync(file, writeSafetensors([{ name: "x:0", dtype: "F32", shape: [2, 6, 6, 3], data }]));
  const t = await run("quantize", dir, ...out, "--calibration", file);
  assert.equal(t.code, 0, t.stderr);
});

test("CLI: --bias-correction needs --calibration, a tfjs model and quantize", async () => {
  const dir = await setup();
  const r = await run("quantize", dir, "-o", `${dir}/q8.json`);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--bias-correction needs --calibration <inputs\.safetensors or \.npy>/);
  const p = await run("prune", dir, "-o", `${dir}/p.json`);
  assert.equal(p.code, 2);
  assert.match(p.stderr, /--bias-correction goes with quantize/);
});

test("CLI: --equalize-float16 rescales float16 weights too; it goes with --equalize", async () => {
  const dir = tempDir();
  await saveTfjsFiles(`${dir}/model.json`, storedAs(graphModelFiles(), "float16"));
  writeFileSync(`${dir}/q.json`, JSON.stringify(QUANT));
  const quantize = (...more: string[]) =>
    cli("quantize", `${dir}/model.json`, "-c", `${dir}/q.json`, "-o", `${dir}/out.json`, ...more);
  const pairs = async (...more: string[]) => {
    const r = await quantize("--equalize", "--json", ...more);
    assert.equal(r.code, 0, r.stderr);
    const warnings: string[] = JSON.parse(r.stdout).report.warnings;
    const w = warnings.find((x) => x.startsWith("equalize:"));
    return Number(/^equalize: (\d+) pair/.exec(w ?? "equalize: 0 pair")![1]);
  };
  // Every weight is float16: no pair without the flag, some with it.
  assert.equal(await pairs(), 0);
  assert.ok(await pairs("--equalize-float16") > 0);
  const r = await quantize("--equalize-float16");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--equalize-float16 goes with --equalize/);
});

test("CLI: --gptq-rounding rounds the kernels on the calibration inputs; needs --calibration, a tfjs model and quantize", async () => {
  const dir = await setup();
  writeFileSync(`${dir}/x.npy`, npy(rows(4), [4, 6, 6, 3]));
  const quantize = (...more: string[]) =>
    cli("quantize", `${dir}/model.json`, "-c", `${dir}/q.json`, "-o", `${dir}/g.json`, ...more);
  const r = await quantize("--gptq-rounding", "--calibration", `${dir}/x.npy`, "--json");
  assert.equal(r.code, 0, r.stderr);
  const warnings: string[] = JSON.parse(r.stdout).report.warnings;
  assert.match(
    warnings.join("\n"),
    /GPTQ rounding: [1-9]\d* uint8 kernel\(s\) .* on 1 input set\(s\)/,
  );
  const read = await readTfjsFiles(`${dir}/g.json`);
  const cmp = await compareTfjsOutputs(
    { tf, loadGraphModel: (h) => loadGraphModel(h) },
    new Map([["model.json", read.modelJson], ...read.shards]),
    graphModelFiles(),
  );
  assert.ok(cmp[0].cosine > 0.99, `${cmp[0].cosine}`);
  const bare = await quantize("--gptq-rounding");
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /--gptq-rounding needs --calibration/);
  const p = await cli(
    "prune",
    `${dir}/model.json`,
    "-c",
    `${dir}/q.json`,
    "--gptq-rounding",
    "-o",
    `${dir}/p.json`,
  );
  assert.equal(p.code, 2);
  assert.match(p.stderr, /--gptq-rounding goes with quantize/);
});

test("CLI: --channel-scales stores per-channel int8 kernels as uint8 codes; a tfjs model and quantize only", async () => {
  const dir = await setup();
  writeFileSync(
    `${dir}/pc.json`,
    JSON.stringify([{
      ...QUANT[0],
      quant_dtype: "int8",
      quant_scheme: "symmetric",
      granularity: "per_channel",
    }]),
  );
  const quantize = (...more: string[]) =>
    cli("quantize", `${dir}/model.json`, "-c", `${dir}/pc.json`, "-o", `${dir}/s.json`, ...more);
  // This small model's scales need more than the default 2% headroom.
  const r = await quantize("--channel-scales", "--headroom", "0.1", "--json");
  assert.equal(r.code, 0, r.stderr);
  const warnings: string[] = JSON.parse(r.stdout).report.warnings;
  assert.match(warnings.join("\n"), /channel scales: 5 kernel\(s\) quantized per channel/);
  const read = await readTfjsFiles(`${dir}/s.json`);
  const json = JSON.parse(new TextDecoder().decode(read.modelJson));
  const stored = json.weightsManifest[0].weights
    .filter((w: { quantization?: { dtype: string } }) => w.quantization?.dtype === "uint8");
  assert.equal(stored.length, 5);
  const cmp = await compareTfjsOutputs(
    { tf, loadGraphModel: (h) => loadGraphModel(h) },
    new Map([["model.json", read.modelJson], ...read.shards]),
    graphModelFiles(),
  );
  assert.ok(cmp[0].cosine > 0.99, `${cmp[0].cosine}`);
  // At the default headroom they do not fit: the kernels are quantized per tensor, and said so.
  const tight = await quantize("--channel-scales", "--json");
  assert.equal(tight.code, 0, tight.stderr);
  assert.match(
    JSON.parse(tight.stdout).report.warnings.join("\n"),
    /channel scales: 0 kernel\(s\) .*; 5 kernel\(s\) whose scales did not fit the size budget \(2\.0% headroom/,
  );
  const p = await cli(
    "prune",
    `${dir}/model.json`,
    "-c",
    `${dir}/q.json`,
    "--channel-scales",
    "-o",
    `${dir}/p.json`,
  );
  assert.equal(p.code, 2);
  assert.match(p.stderr, /--channel-scales goes with quantize/);
});

test("CLI: --channel-scales on a layers model: 1x1 DepthwiseConv2D layers carry the scales, tfjs loads it", async () => {
  const dir = tempDir();
  await saveTfjsFiles(`${dir}/model.json`, await functionalModelFiles());
  writeFileSync(
    `${dir}/pc.json`,
    JSON.stringify([{
      op_types: ["Conv2d"],
      target_names: ["weight"],
      quant_dtype: "int8",
      quant_scheme: "symmetric",
      granularity: "per_channel",
    }]),
  );
  const r = await cli(
    "quantize",
    `${dir}/model.json`,
    "-c",
    `${dir}/pc.json`,
    "-o",
    `${dir}/s.json`,
    "--channel-scales",
    // No size budget (only the kernels are quantized: the float32 rest is above any).
    "--headroom",
    "0",
    "--json",
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    JSON.parse(r.stdout).report.warnings.join("\n"),
    /channel scales: 5 kernel\(s\) .*applied after the layer \(a 1x1 DepthwiseConv2D or a BatchNormalization layer\)/,
  );
  const read = await readTfjsFiles(`${dir}/s.json`);
  const json = JSON.parse(new TextDecoder().decode(read.modelJson));
  const names = json.modelTopology.config.layers.map((l: { name: string }) => l.name);
  assert.ok(names.includes("head_channel_scale"), names.join(" "));
  const cmp = await compareTfjsOutputs(
    { tf, loadLayersModel: (h) => tfl.loadLayersModel(h) },
    new Map([["model.json", read.modelJson], ...read.shards]),
    await functionalModelFiles(),
  );
  for (const c of cmp) assert.ok(c.cosine > 0.99, `${c.name}: ${c.cosine}`);
});
