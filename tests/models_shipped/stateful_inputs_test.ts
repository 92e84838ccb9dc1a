// Per-input specs on a stateful multi-input model (x [batch, 576], state [2, batch, 128], an int64
// sample rate) and a segmentation-shaped output: eval --reference, --eval, calibration, through
// the CLI and the library, checked against onnxruntime-node run by hand.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { readOnnxValues } from "../../src/io/onnx/read_onnx_values.ts";
import { writeSafetensors } from "../../src/io/safetensors/write_safetensors.ts";
import { compareOutputs } from "../../src/compress/compare_outputs.ts";
import { compressModel } from "../../src/compress/compress_model.ts";
import { loadModel } from "../../src/compress/load_model.ts";
import type { CalibrationTensor } from "../../src/quantization/calibrate_onnx.ts";
import { cli, ROOT, tempDir } from "../cli/_run.ts";
import { segmentationModel, statefulModel, typedInputsModel } from "./_stateful_model.ts";

const CONFIG = '[{"op_names":["W2"],"target_names":["_input_0","weight"],"quant_dtype":"int8"}]';
const PRUNE = '[{"op_types":["Linear"],"target_names":["weight"],"sparse_ratio":0.2}]';

/** A `.npy` file (version 1, little-endian float32 or int64). */
function npy(data: Float32Array | BigInt64Array, dims: readonly number[]): Uint8Array {
  const descr = data instanceof Float32Array ? "<f4" : "<i8";
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(", ")})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  header = header.padEnd(Math.ceil((header.length + 11) / 64) * 64 - 11) + "\n";
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([
    0x93,
    ...new TextEncoder().encode("NUMPY"),
    1,
    0,
    header.length & 255,
    header.length >> 8,
  ]);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

const rows = (n: number, seed: number) =>
  new Float32Array(n * 576).map((_, i) => Math.sin(i * 0.013 + seed) * 0.8);

type Feeds = Record<string, ort.Tensor>;

async function run(model: Uint8Array, feeds: Feeds): Promise<Record<string, ort.Tensor>> {
  const s = await ort.InferenceSession.create(model);
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

/** max |a − b| and ‖a − b‖ / ‖b‖, computed here. */
function diff(a: ort.Tensor, b: ort.Tensor) {
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  let max = 0;
  let d2 = 0;
  let b2 = 0;
  for (let i = 0; i < y.length; i++) {
    max = Math.max(max, Math.abs(x[i] - y[i]));
    d2 += (x[i] - y[i]) ** 2;
    b2 += y[i] ** 2;
  }
  return { max, rel: Math.sqrt(d2 / b2) };
}

function setup() {
  const dir = tempDir();
  const model = join(dir, "vad.onnx");
  writeFileSync(model, statefulModel());
  return { dir, model };
}

test("eval --reference binds batch by name (x=1,576 sizes state) and feeds the int64 sample rate given", async () => {
  const { dir, model } = setup();
  const pruned = join(dir, "vad.pruned.onnx");
  assert.equal((await cli("prune", model, "-c", PRUNE, "-o", pruned)).code, 0);
  const x = rows(1, 0);
  writeFileSync(join(dir, "x.npy"), npy(x, [1, 576]));
  const evalWith = (sr: string) =>
    cli(
      "eval",
      pruned,
      "--reference",
      model,
      "--input",
      `x=${join(dir, "x.npy")}`,
      "--input",
      "state=zeros",
      "--input",
      `sr=${sr}`,
      "--json",
    );
  const r = await evalWith("16000:int64");
  assert.equal(r.code, 0, r.stderr);
  const outputs = JSON.parse(r.stdout).outputs;
  assert.deepEqual(outputs.map((o: { dims: number[] }) => o.dims), [[1, 1], [2, 1, 128]]);
  // the same run by hand in onnxruntime
  const feeds = (sr: bigint): Feeds => ({
    x: new ort.Tensor("float32", x, [1, 576]),
    state: new ort.Tensor("float32", new Float32Array(256), [2, 1, 128]),
    sr: new ort.Tensor("int64", BigInt64Array.of(sr), []),
  });
  const a = await run(readFileSync(pruned), feeds(16000n));
  const b = await run(readFileSync(model), feeds(16000n));
  for (const [k, name] of ["y", "stateN"].entries()) {
    const want = diff(a[name], b[name]);
    assert.ok(Math.abs(outputs[k].maxAbsDiff - want.max) < 1e-7, `${name} max`);
    assert.ok(Math.abs(outputs[k].relativeError - want.rel) < 1e-6, `${name} relative`);
  }
  // another sample rate changes y: the value given is the value fed
  const r8 = await evalWith("8000");
  assert.equal(r8.code, 0, r8.stderr);
  const y8 = diff(
    (await run(readFileSync(pruned), feeds(8000n))).y,
    (await run(readFileSync(model), feeds(8000n))).y,
  );
  assert.ok(Math.abs(JSON.parse(r8.stdout).outputs[0].maxAbsDiff - y8.max) < 1e-7);
  assert.notEqual(y8.max.toFixed(6), diff(a.y, b.y).max.toFixed(6));
  // --shape gives the first input; state follows by name
  const s = await cli(
    "eval",
    pruned,
    "--reference",
    model,
    "--shape",
    "3,576",
    "--input",
    "sr=16000",
    "--json",
  );
  assert.equal(s.code, 0, s.stderr);
  assert.deepEqual(JSON.parse(s.stdout).outputs[1].dims, [2, 3, 128]);
});

test("eval refuses random values for an int64 scalar and dims that disagree by name", async () => {
  const { model } = setup();
  const none = await cli("eval", model, "--reference", model);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /input "sr" is an int64 scalar/);
  assert.match(none.stderr, /--input sr=16000:int64/);
  const clash = await cli(
    "eval",
    model,
    "--reference",
    model,
    "--input",
    "x=1,576",
    "--input",
    "state=2,4,128",
    "--input",
    "sr=16000",
  );
  assert.equal(clash.code, 1);
  assert.match(clash.stderr, /dim "batch" is 1 from input "x" and 4 from input "state"/);
  const asked = await cli("eval", model, "--reference", model, "--input", "sr=random", "--json");
  assert.equal(asked.code, 0, asked.stderr);
  assert.equal(JSON.parse(asked.stdout).outputs[0].maxAbsDiff, 0);
  const bad = await cli("eval", model, "--reference", model, "--input", "sr");
  assert.equal(bad.code, 2);
  const wrongType = await cli("eval", model, "--reference", model, "--input", "sr=16000:int32");
  assert.equal(wrongType.code, 1);
  assert.match(wrongType.stderr, /"sr" is int64 in the model: current value is int32/);
});

test("compareOutputs runs a stateful model step by step, each model carrying its own state", async () => {
  const { dir, model } = setup();
  const pruned = join(dir, "vad.pruned.onnx");
  assert.equal((await cli("prune", model, "-c", PRUNE, "-o", pruned)).code, 0);
  const x = rows(8, 1); // 4 steps of 2 rows
  const [out] = await compareOutputs(ort, readFileSync(pruned), readFileSync(model), {
    inputs: {
      x: { data: x, dims: [8, 576] },
      state: { fill: "zeros" },
      sr: { data: BigInt64Array.of(16000n), dims: [] },
    },
    steps: 4,
    state: { stateN: "state" },
  });
  assert.equal(out.steps, 4);
  assert.deepEqual(out.dims, [2, 1]);
  // by hand: 4 steps, each model feeding its own stateN back
  let max = 0;
  const carry = async (bytes: Uint8Array) => {
    let state: Float32Array = new Float32Array(2 * 2 * 128);
    const ys: Float32Array[] = [];
    for (let s = 0; s < 4; s++) {
      const o = await run(bytes, {
        x: new ort.Tensor("float32", x.slice(s * 2 * 576, (s + 1) * 2 * 576), [2, 576]),
        state: new ort.Tensor("float32", state, [2, 2, 128]),
        sr: new ort.Tensor("int64", BigInt64Array.of(16000n), []),
      });
      state = o.stateN.data as Float32Array;
      ys.push(o.y.data as Float32Array);
    }
    return ys;
  };
  const ya = await carry(readFileSync(pruned));
  const yb = await carry(readFileSync(model));
  ya.forEach((v, s) => v.forEach((e, i) => (max = Math.max(max, Math.abs(e - yb[s][i])))));
  assert.ok(Math.abs(out.maxAbsDiff - max) < 1e-7, `${out.maxAbsDiff} vs ${max}`);
  // without the state pairs every step starts from zeros: another figure
  const [flat] = await compareOutputs(ort, readFileSync(pruned), readFileSync(model), {
    inputs: {
      x: { data: x, dims: [8, 576] },
      state: { fill: "zeros" },
      sr: { fill: 16000 },
    },
    steps: 4,
  });
  assert.notEqual(flat.meanAbsDiff, out.meanAbsDiff);
});

test("quantize --calibration with --input and --state equals calibration on batches carried by hand", async () => {
  const { dir, model } = setup();
  const x = rows(8, 2);
  const cal = join(dir, "cal.safetensors");
  writeFileSync(cal, writeSafetensors([{ name: "x", dtype: "F32", shape: [8, 576], data: x }]));
  const out = join(dir, "vad.q.onnx");
  const r = await cli(
    "quantize",
    model,
    "-c",
    CONFIG,
    "-o",
    out,
    "--calibration",
    cal,
    "--input",
    "sr=16000:int64",
    "--input",
    "state=zeros",
    "--state",
    "stateN=state",
    "--batch-size",
    "2",
    "--json",
  );
  assert.equal(r.code, 0, r.stderr);
  // the same steps, the state carried here and given in every batch
  const batches: Record<string, CalibrationTensor>[] = [];
  let state: Float32Array = new Float32Array(2 * 2 * 128);
  for (let s = 0; s < 4; s++) {
    const xs = x.slice(s * 2 * 576, (s + 1) * 2 * 576);
    const sr = BigInt64Array.of(16000n);
    batches.push({
      x: { data: xs, dims: [2, 576] },
      state: { data: state, dims: [2, 2, 128] },
      sr: { data: sr, dims: [] },
    });
    const o = await run(statefulModel(), {
      x: new ort.Tensor("float32", xs, [2, 576]),
      state: new ort.Tensor("float32", state, [2, 2, 128]),
      sr: new ort.Tensor("int64", sr, []),
    });
    state = o.stateN.data as Float32Array;
  }
  const configList = JSON.parse(CONFIG);
  const lib = await compressModel(loadModel(statefulModel(), "vad.onnx"), {
    mode: "quantization",
    configList,
    calibration: { batches, ort },
  });
  assert.deepEqual(readFileSync(out), Buffer.from(lib.bytes));
  // without --state every batch starts from zeros: other activation ranges, other bytes
  const flat = join(dir, "vad.flat.onnx");
  const f = await cli(
    "quantize",
    model,
    "-c",
    CONFIG,
    "-o",
    flat,
    "--calibration",
    cal,
    "--input",
    "sr=16000:int64",
    "--input",
    "state=zeros",
    "--batch-size",
    "2",
  );
  assert.equal(f.code, 0, f.stderr);
  assert.notDeepEqual(readFileSync(flat), readFileSync(out));
  // the library's own state option gives the CLI's bytes
  const carried = await compressModel(loadModel(statefulModel(), "vad.onnx"), {
    mode: "quantization",
    configList,
    calibration: {
      batches: batches.map((b, i) => i === 0 ? b : { x: b.x, sr: b.sr }),
      ort,
      state: { stateN: "state" },
    },
  });
  assert.deepEqual(Buffer.from(carried.bytes), readFileSync(out));
});

test("a calibration file may hold scalars of any dtype; missing inputs and uneven steps are refused", async () => {
  const { dir, model } = setup();
  const x = rows(6, 3);
  const both = join(dir, "both.safetensors");
  writeFileSync(
    both,
    writeSafetensors([
      { name: "x", dtype: "F32", shape: [6, 576], data: x },
      {
        name: "sr",
        dtype: "I64",
        shape: [],
        data: new Uint8Array(BigInt64Array.of(16000n).buffer),
      },
    ]),
  );
  const a = join(dir, "a.onnx");
  const ra = await cli(
    "quantize",
    model,
    "-c",
    CONFIG,
    "-o",
    a,
    "--calibration",
    both,
    "--input",
    "state=zeros",
    "--batch-size",
    "4",
  );
  assert.equal(ra.code, 0, ra.stderr);
  // the same data as a .npy file for x and the sample rate given on the command line
  writeFileSync(join(dir, "x.npy"), npy(x, [6, 576]));
  const b = join(dir, "b.onnx");
  const rb = await cli(
    "quantize",
    model,
    "-c",
    CONFIG,
    "-o",
    b,
    "--calibration",
    join(dir, "x.npy"),
    "--input",
    "state=zeros",
    "--input",
    "sr=16000:int64",
    "--batch-size",
    "4",
  );
  assert.equal(rb.code, 0, rb.stderr);
  assert.deepEqual(readFileSync(a), readFileSync(b));
  const missing = await cli(
    "quantize",
    model,
    "-c",
    CONFIG,
    "-o",
    join(dir, "c.onnx"),
    "--calibration",
    both,
  );
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /calibration needs data for input "state"/);
  const uneven = await cli(
    "quantize",
    model,
    "-c",
    CONFIG,
    "-o",
    join(dir, "d.onnx"),
    "--calibration",
    both,
    "--input",
    "state=zeros",
    "--state",
    "stateN=state",
    "--batch-size",
    "4",
  );
  assert.equal(uneven.code, 2);
  assert.match(uneven.stderr, /6 rows are not a multiple of it/);
});

test("a [1, C, H, W] output gets top-1 only along the class axis named; --iou compares label maps", async () => {
  const dir = tempDir();
  const model = join(dir, "seg.onnx");
  writeFileSync(model, segmentationModel());
  const pruned = join(dir, "seg.pruned.onnx");
  const cfg = '[{"op_types":["Conv2d"],"target_names":["weight"],"sparse_ratio":0.2}]';
  assert.equal((await cli("prune", model, "-c", cfg, "-o", pruned)).code, 0);
  const x = new Float32Array(3 * 8 * 8).map((_, i) => Math.sin(i * 12.9898 + 1) * 2);
  writeFileSync(join(dir, "x.npy"), npy(x, [1, 3, 8, 8]));
  const args = [
    "eval",
    pruned,
    "--reference",
    model,
    "--input",
    `x=${join(dir, "x.npy")}`,
    "--json",
  ];
  const plain = await cli(...args);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(JSON.parse(plain.stdout).outputs[0].argmax, undefined, "no axis along image rows");
  const named = await cli(...args, "--class-axis", "1", "--iou");
  assert.equal(named.code, 0, named.stderr);
  const [o] = JSON.parse(named.stdout).outputs;
  // by hand: per pixel argmax over the 4 classes, and the mean IoU of the label maps
  const feeds = { x: new ort.Tensor("float32", x, [1, 3, 8, 8]) };
  const la = (await run(readFileSync(pruned), feeds)).logits.data as Float32Array;
  const lb = (await run(readFileSync(model), feeds)).logits.data as Float32Array;
  const label = (v: Float32Array, p: number) => {
    let best = 0;
    for (let c = 1; c < 4; c++) if (v[c * 64 + p] > v[best * 64 + p]) best = c;
    return best;
  };
  let same = 0;
  const inter = [0, 0, 0, 0];
  const union = [0, 0, 0, 0];
  for (let p = 0; p < 64; p++) {
    const [ca, cb] = [label(la, p), label(lb, p)];
    if (ca === cb) same++, inter[ca]++, union[ca]++;
    else union[ca]++, union[cb]++;
  }
  const present = union.map((u, c) => [u, c]).filter(([u]) => u > 0);
  const iou = present.reduce((s, [u, c]) => s + inter[c] / u, 0) / present.length;
  assert.deepEqual(o.argmax, { axis: 1, same, total: 64 });
  assert.ok(Math.abs(o.iou - iou) < 1e-12);
  assert.ok(same < 64, "20% of the 1x1 conv pruned moves some pixels");
  const bad = await cli(...args, "--class-axis", "logits=5");
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /class axis of output "logits" must be a dim/);
});

test("--eval on a model that is not PP-OCR compares the result with the original", async () => {
  const dir = tempDir();
  const model = join(dir, "seg.onnx");
  writeFileSync(model, segmentationModel());
  const out = join(dir, "seg.pruned.onnx");
  const cfg = '[{"op_types":["Conv2d"],"target_names":["weight"],"sparse_ratio":0.2}]';
  const r = await cli(
    "prune",
    model,
    "-c",
    cfg,
    "-o",
    out,
    "--eval",
    "--class-axis",
    "1",
    "--json",
  );
  assert.equal(r.code, 0, r.stderr);
  const { comparison, report } = JSON.parse(r.stdout);
  assert.equal(comparison[0].name, "logits");
  assert.equal(comparison[0].argmax.total, 256);
  assert.equal(report.evaluation[0].total, 256);
  const { model: vad, dir: d2 } = setup();
  const q = await cli("prune", vad, "-c", PRUNE, "-o", join(d2, "p.onnx"), "--eval");
  assert.equal(q.code, 1, "the sample rate must be given");
  assert.match(q.stderr, /"sr" is an int64 scalar/);
  const ok = await cli(
    "prune",
    vad,
    "-c",
    PRUNE,
    "-o",
    join(d2, "p.onnx"),
    "--eval",
    "--input",
    "sr=16000:int64",
  );
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /against the original/);
  const stray = await cli("prune", vad, "-c", PRUNE, "-o", join(d2, "s.onnx"), "--iou");
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /--iou goes with --eval/);
});

test("every ONNX input type is fed: compareOutputs and calibration with float16, int64, int32, uint8 and bool", async () => {
  const model = typedInputsModel();
  const outs = await compareOutputs(ort, model, model, {
    inputs: { i64: { fill: 3 }, b: { fill: "ones" }, f: { dims: [5, 4] } },
  });
  assert.equal(outs.length, 1);
  assert.deepEqual(outs[0].dims, [5, 4]);
  assert.equal(outs[0].maxAbsDiff, 0);
  assert.deepEqual(outs[0].argmax, { axis: 1, same: 5, total: 5 });
  // calibration batches of every type reach the Linear's input
  const batch = (k: number): Record<string, CalibrationTensor> => ({
    h: { data: new Uint16Array(8).fill(0x3c00), dims: [2, 4], type: "float16" }, // 1.0
    i64: { data: new BigInt64Array(8).fill(BigInt(k)), dims: [2, 4] },
    i32: { data: new Int32Array(8).fill(2), dims: [2, 4] },
    u8: { data: new Uint8Array(8).fill(200), dims: [2, 4] },
    b: { data: new Uint8Array(8).fill(1), dims: [2, 4], type: "bool" },
    f: { data: new Float32Array(8).fill(-0.5), dims: [2, 4] },
  });
  const configList = [{ op_types: ["Linear"], target_names: ["_input_0"], quant_dtype: "uint8" }];
  const { bytes } = await compressModel(loadModel(model, "typed.onnx"), {
    mode: "quantization",
    configList,
    calibration: { batches: [batch(0), batch(10)], ort },
  });
  // the Linear's input is 1 + k + 2 + 200 + 1 - 0.5: at most 213.5 over both batches; NNI's
  // default scheme spans [-213.5, 213.5] in 255 steps
  const out = decodeOnnx(bytes);
  const scalars = out.tensors.filter((t) => t.dataType === 1 && t.dims.length === 0);
  const values = await Promise.all(scalars.map((t) => readOnnxValues(out, t)));
  assert.ok(
    values.some((v) => Math.abs(Number(v[0]) - (2 * 213.5) / 255) < 1e-6),
    `scales ${values.map((v) => v[0]).join(", ")}`,
  );
});

test("silero VAD v5 (npm @ricky0123/vad-web): eval with the chunk shape and sample rate alone, then step by step", async () => {
  const V = `${ROOT}node_modules/@ricky0123/vad-web/dist/silero_vad_v5.onnx`;
  const dir = tempDir();
  const pruned = join(dir, "vad.pruned.onnx");
  const cfg = '[{"op_types":["Conv1d"],"target_names":["weight"],"sparse_ratio":0.2}]';
  assert.equal((await cli("prune", V, "-c", cfg, "-o", pruned)).code, 0);
  // input [?, ?] given as 1,512; state [2, ?, 128] has one unnamed dynamic dim: the batch
  const r = await cli(
    "eval",
    pruned,
    "--reference",
    V,
    "--input",
    "input=1,512",
    "--input",
    "sr=16000:int64",
    "--json",
  );
  assert.equal(r.code, 0, r.stderr);
  const [output, stateN] = JSON.parse(r.stdout).outputs;
  assert.deepEqual([output.dims, stateN.dims], [[1, 1], [2, 1, 128]]);
  const steps = await cli(
    "eval",
    pruned,
    "--reference",
    V,
    "--input",
    "input=1,512",
    "--input",
    "sr=16000:int64",
    "--input",
    "state=zeros",
    "--steps",
    "4",
    "--state",
    "stateN=state",
    "--json",
  );
  assert.equal(steps.code, 0, steps.stderr);
  const [o] = JSON.parse(steps.stdout).outputs;
  assert.equal(o.steps, 4);
  assert.ok(o.cosine > 0.95 && o.relativeError < 0.5, steps.stdout);
});
