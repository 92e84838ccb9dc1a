// Gemm in every transA/transB/alpha/beta/bias form, and weights inside If branches, a Loop body
// and a Scan body: compressed with each storage by the library and the CLI, then run in
// onnxruntime against the original on the same inputs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compressModel } from "../../src/compress/compress_model.ts";
import { loadModel } from "../../src/compress/load_model.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import type { OnnxGraph } from "../../src/io/onnx/onnx_types.ts";
import { readOnnxTensor } from "../../src/io/onnx/read_onnx_tensor.ts";
import { writeSafetensors } from "../../src/io/safetensors/write_safetensors.ts";
import { cli, tempDir } from "../cli/_run.ts";
import {
  formName,
  GEMM_FORMS,
  gemmModel,
  ifModel,
  K,
  loopIfModel,
  loopModel,
  M,
  N,
  scanModel,
  sharedWeightIfModel,
  STEPS,
  T,
  weights,
} from "./_gemm_subgraph_models.ts";

/** Generous per-test limit: these tests run models and load the shared machine. */
const SLOW = { timeout: 300_000 };

const ort = await import("onnxruntime-node");
type Feeds = Record<string, unknown>;

const input = (dims: number[], seed: number) =>
  new ort.Tensor("float32", weights(dims.reduce((a, b) => a * b, 1), seed, 1), dims);

async function run(bytes: Uint8Array, feeds: Feeds): Promise<Float32Array[]> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  try {
    const out = await s.run(feeds as never);
    return s.outputNames.map((n: string) => out[n].data as Float32Array);
  } finally {
    await s.release();
  }
}

function cosine(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return d / Math.sqrt(na * nb);
}

/** The lowest cosine similarity of any output over the feeds, original against result. */
async function fidelity(original: Uint8Array, result: Uint8Array, feeds: Feeds[]) {
  let worst = 1;
  for (const f of feeds) {
    const [a, b] = [await run(original, f), await run(result, f)];
    a.forEach((v, i) => (worst = Math.min(worst, cosine(v, b[i]))));
  }
  return worst;
}

/** Every node of a graph and its subgraphs, with the name of the graph it sits in. */
function allOps(g: OnnxGraph, out: { op: string; graph: string }[] = []) {
  for (const n of g.nodes) {
    out.push({ op: n.opType, graph: g.name });
    for (const a of n.attributes) if (a.g) allOps(a.g, out);
  }
  return out;
}

const CASES: { name: string; bytes: Uint8Array; feeds: Feeds[] }[] = [
  ...GEMM_FORMS.map((f) => ({
    name: formName(f),
    bytes: gemmModel(f),
    feeds: [{ x: input(f.transA ? [K, M] : [M, K], 99) }],
  })),
  {
    name: "if",
    bytes: ifModel(),
    feeds: [true, false].map((c) => ({
      cond: new ort.Tensor("bool", [c], []),
      x: input([M, K], 98),
    })),
  },
  { name: "loop", bytes: loopModel(), feeds: [{ x: input([M, K], 97), h0: input([M, N], 96) }] },
  {
    name: "scan",
    bytes: scanModel(),
    feeds: [{ xs: input([T, 1, K], 95), h0: input([1, N], 94) }],
  },
];

const config = (dtype: string) => [{
  op_types: ["Linear"],
  target_names: ["weight"],
  quant_dtype: dtype,
  granularity: "per_channel",
}];

/** Storage, dtype, the largest size ratio and the lowest cosine similarity accepted. */
const STORAGES = [
  { storage: "int", dtype: "int8", size: 0.31, cosine: 0.999 },
  { storage: "int", dtype: "int4", size: 0.18, cosine: 0.97 },
  { storage: "nbits", dtype: "int4", size: 0.2, cosine: 0.97 },
  { storage: "nbits", dtype: "int8", size: 0.33, cosine: 0.999 },
  { storage: "float", dtype: "int8", size: 1, cosine: 0.999 },
] as const;

for (const c of CASES) {
  test(
    `${c.name}: every storage runs in onnxruntime and stays close to the original`,
    SLOW,
    async () => {
      const model = loadModel(c.bytes, `${c.name}.onnx`);
      const linear = model.graph.modules.filter((m) => m.type === "Linear");
      assert.ok(linear.length >= 2, `${c.name}: ${linear.map((m) => m.name)}`);
      for (const s of STORAGES) {
        const r = await compressModel(model, {
          mode: "quantization",
          configList: config(s.dtype),
          storage: s.storage,
        });
        const at = `${c.name} ${s.storage} ${s.dtype}`;
        assert.equal(r.report.layers.length, linear.length, at);
        assert.equal(r.report.after.fileBytes, r.bytes.length, at);
        assert.ok(r.bytes.length <= c.bytes.length * s.size, `${at}: ${r.bytes.length} bytes`);
        const worst = await fidelity(c.bytes, r.bytes, c.feeds);
        assert.ok(worst >= s.cosine, `${at}: cosine ${worst}`);
        const ops = allOps(decodeOnnx(r.bytes).graph);
        if (s.storage === "nbits") {
          assert.equal(ops.filter((o) => o.op === "MatMulNBits").length, linear.length, at);
          assert.ok(!ops.some((o) => o.op === "Gemm" || o.op === "MatMul"), at);
        }
        if (s.storage === "int") {
          assert.equal(ops.filter((o) => o.op === "DequantizeLinear").length, linear.length, at);
        }
      }
    },
  );
}

test("QDQ and MatMulNBits nodes go where the weight is: a branch initializer or Constant in its branch, an outer-scope initializer in the main graph", async () => {
  const model = loadModel(ifModel(), "if.onnx");
  assert.deepEqual(
    model.graph.modules.filter((m) => m.type === "Linear").map((m) => [m.name, m.subgraph]),
    [
      ["then.fc", "graph.node[0].attribute[0].g"],
      ["then.proj", "graph.node[0].attribute[0].g"],
      ["else.fc", "graph.node[0].attribute[1].g"],
      ["else.proj", "graph.node[0].attribute[1].g"],
    ],
  );
  const int = await compressModel(model, {
    mode: "quantization",
    configList: config("int8"),
    storage: "int",
  });
  const where = (bytes: Uint8Array, op: string) =>
    allOps(decodeOnnx(bytes).graph).filter((o) => o.op === op).map((o) => o.graph);
  assert.deepEqual(where(int.bytes, "DequantizeLinear").sort(), [
    "graph",
    "graph",
    "then_branch",
    "then_branch",
  ]);
  // The original weights are gone from every graph; the codes are 8-bit.
  const out = decodeOnnx(int.bytes);
  const names = out.tensors.map((t) => t.name);
  for (const w of ["then.fc.weight", "then.proj.weight", "else.fc.weight", "else.proj.weight"]) {
    assert.ok(!names.includes(w), w);
    assert.ok(names.includes(`${w}_quantized`), w);
  }
  const nbits = await compressModel(model, {
    mode: "quantization",
    configList: config("int4"),
    storage: "nbits",
  });
  assert.deepEqual(where(nbits.bytes, "MatMulNBits").sort(), [
    "else_branch",
    "else_branch",
    "then_branch",
    "then_branch",
  ]);
  // else.proj is a Gemm with alpha 0.5 and a bias: a Mul and an Add follow its MatMulNBits.
  const elseOps = decodeOnnx(nbits.bytes).graph.nodes[0].attributes[1].g!.nodes.map((n) =>
    n.opType
  );
  assert.deepEqual(elseOps, ["MatMulNBits", "Tanh", "MatMulNBits", "Mul", "Add"]);
});

test(
  "a weight both If branches read is stored once, as int8 QDQ or as int4 MatMulNBits",
  SLOW,
  async () => {
    const bytes = sharedWeightIfModel();
    const model = loadModel(bytes, "shared.onnx");
    assert.deepEqual(model.graph.modules.map((m) => m.name), ["then.fc", "else.fc"]);
    const feeds = [true, false].map((c) => ({
      cond: new ort.Tensor("bool", [c], []),
      x: input([M, K], 98),
    }));
    for (
      const [storage, dtype, floor] of [["int", "int8", 0.999], ["nbits", "int4", 0.97]] as const
    ) {
      const r = await compressModel(model, {
        mode: "quantization",
        configList: config(dtype),
        storage,
      });
      assert.equal(r.report.layers.length, 2);
      const out = decodeOnnx(r.bytes);
      const names = out.tensors.map((t) => t.name);
      assert.ok(!names.includes("shared.weight"), storage);
      assert.equal(
        names.filter((n) => n.startsWith("shared.weight_")).length,
        storage === "int" ? 3 : 2,
      );
      assert.ok(r.bytes.length < bytes.length * 0.35, `${storage}: ${r.bytes.length} bytes`);
      const worst = await fidelity(bytes, r.bytes, feeds);
      assert.ok(worst >= floor, `${storage}: cosine ${worst}`);
    }
  },
);

test("pruning a Gemm zeroes whole output channels along the axis transB gives", SLOW, async () => {
  for (const transB of [0, 1] as const) {
    const bytes = gemmModel({ transA: 0, transB, alpha: 1, beta: 1, bias: true });
    const r = await compressModel(loadModel(bytes, "gemm.onnx"), {
      mode: "pruning",
      configList: [{ op_names: ["fc1"], target_names: ["weight"], sparse_ratio: 0.5 }],
      algorithm: "L1NormPruner",
    });
    const onnx = decodeOnnx(r.bytes);
    const t = onnx.tensors.find((x) => x.name === "fc1.weight")!;
    const w = new Float32Array((await readOnnxTensor(onnx, t)).slice().buffer);
    // Output channel o is row o of [N, K] (transB 1) or column o of [K, N] (transB 0).
    const at = (o: number, k: number) => (transB ? w[o * K + k] : w[k * N + o]);
    let zeroChannels = 0;
    for (let o = 0; o < N; o++) {
      let zeros = 0;
      for (let k = 0; k < K; k++) if (at(o, k) === 0) zeros++;
      assert.ok(zeros === 0 || zeros === K, `transB ${transB}: channel ${o} has ${zeros} zeros`);
      if (zeros === K) zeroChannels++;
    }
    assert.equal(zeroChannels, N / 2, `transB ${transB}`);
    // The pruned channels' outputs are the bias alone.
    const [y] = await run(r.bytes, { x: input([M, K], 99) });
    assert.equal(y.length, M * N);
  }
});

test("pruning runs on weights inside If branches, a Loop body and a Scan body", SLOW, async () => {
  for (const c of CASES.filter((x) => ["if", "loop", "scan"].includes(x.name))) {
    const r = await compressModel(loadModel(c.bytes, `${c.name}.onnx`), {
      mode: "pruning",
      configList: [{ op_types: ["Linear"], target_names: ["weight"], sparse_ratio: 0.25 }],
      algorithm: "LevelPruner",
    });
    assert.ok(r.report.layers.length >= 2, c.name);
    for (const l of r.report.layers) assert.ok(Math.abs(l.sparsity - 0.25) < 0.01, l.module);
    const worst = await fidelity(c.bytes, r.bytes, c.feeds);
    assert.ok(worst > 0.8 && worst < 0.9999, `${c.name}: cosine ${worst}`);
  }
});

type Batch = Record<string, { data: Float32Array; dims: number[] }>;

const ACTIVATIONS = [{
  op_types: ["Linear"],
  target_names: ["weight", "_input_0", "_output_0"],
  quant_dtype: "int8",
}];

test(
  "calibration observes inputs and outputs inside a Loop and a Scan body, stacked over iterations",
  SLOW,
  async () => {
    const cases: { bytes: Uint8Array; batch: (i: number) => Batch; shapes: object }[] = [
      {
        bytes: loopModel(),
        batch: (i: number) => ({
          x: { data: weights(M * K, 50 + i, 1), dims: [M, K] },
          h0: { data: weights(M * N, 60 + i, 1), dims: [M, N] },
        }),
        // Loop body modules see 3 iterations of 4 rows; the head runs once.
        shapes: { "body.fc": [STEPS * M, N], "body.in": [M, K], head: [M, N] },
      },
      {
        bytes: scanModel(),
        batch: (i: number) => ({
          xs: { data: weights(T * K, 50 + i, 1), dims: [T, 1, K] },
          h0: { data: weights(N, 60 + i, 1), dims: [1, N] },
        }),
        shapes: { "scan.in": [T, K], "scan.rec": [T, N] },
      },
    ];
    for (const c of cases) {
      const batches = [0, 1].map(c.batch);
      const r = await compressModel(loadModel(c.bytes, "m.onnx"), {
        mode: "quantization",
        configList: ACTIVATIONS,
        storage: "int",
        calibration: { ort, batches },
      });
      assert.deepEqual(r.report.warnings, []);
      const inputs = r.report.layers.filter((l) => l.target === "_input_0");
      assert.deepEqual(Object.fromEntries(inputs.map((l) => [l.module, l.shape])), c.shapes);
      // Every module's input and output gets a Q/DQ pair, inside the body for body modules.
      const ops = allOps(decodeOnnx(r.bytes).graph);
      const modules = Object.keys(c.shapes).length;
      assert.equal(ops.filter((o) => o.op === "QuantizeLinear").length, 2 * modules);
      const body = ops.filter((o) => o.graph !== "graph" && o.op === "QuantizeLinear");
      assert.ok(body.length >= 3, `${body.length} pairs in the body`);
      const feeds = Object.fromEntries(
        Object.entries(batches[0]).map(([k, t]) => [k, new ort.Tensor("float32", t.data, t.dims)]),
      );
      const worst = await fidelity(c.bytes, r.bytes, [feeds]);
      assert.ok(worst >= 0.999, `cosine ${worst}`);
    }
  },
);

test(
  "calibration observes both If branches; a branch no batch takes stays float with a warning per target",
  SLOW,
  async () => {
    const bytes = ifModel(true);
    const batch = (s: number, i: number) => ({
      s: { data: Float32Array.of(s), dims: [1] },
      x: { data: weights(M * K, 80 + i, 1), dims: [M, K] },
    });
    const feeds = [1, -1].map((s) => ({
      s: new ort.Tensor("float32", Float32Array.of(s), [1]),
      x: input([M, K], 98),
    }));
    const both = await compressModel(loadModel(bytes, "if.onnx"), {
      mode: "quantization",
      configList: ACTIVATIONS,
      storage: "int",
      calibration: { ort, batches: [batch(1, 0), batch(-1, 1)] },
    });
    assert.deepEqual(both.report.warnings, []);
    assert.equal(both.report.layers.filter((l) => l.target.startsWith("_")).length, 8);
    const worst = await fidelity(bytes, both.bytes, feeds);
    assert.ok(worst >= 0.99, `cosine ${worst}`);
    const then = await compressModel(loadModel(bytes, "if.onnx"), {
      mode: "quantization",
      configList: ACTIVATIONS,
      storage: "int",
      calibration: { ort, batches: [batch(1, 0), batch(2, 1)] },
    });
    // else.fc reads the main-graph input x, which every batch gives; the rest of else is unseen.
    const unseen = [["else.fc", "_output_0"], ["else.proj", "_input_0"], [
      "else.proj",
      "_output_0",
    ]];
    assert.deepEqual(
      then.report.warnings,
      unseen.map(([m, t]) =>
        `[0]: module "${m}" target "${t}" stays float: no calibration batch computed it: the else_branch of If node "If_0" never ran or its branch was not taken`
      ),
    );
    const unseenWorst = await fidelity(bytes, then.bytes, feeds);
    assert.ok(unseenWorst >= 0.99, `cosine ${unseenWorst}`);
  },
);

test(
  "calibration observes a Scan body that lists scan_output_axes (one more axis per observed value)",
  SLOW,
  async () => {
    const bytes = scanModel(true);
    const r = await compressModel(loadModel(bytes, "scan.onnx"), {
      mode: "quantization",
      configList: ACTIVATIONS,
      storage: "int",
      calibration: {
        ort,
        batches: [{
          xs: { data: weights(T * K, 50, 1), dims: [T, 1, K] },
          h0: { data: weights(N, 60, 1), dims: [1, N] },
        }],
      },
    });
    assert.deepEqual(r.report.warnings, []);
    const body = decodeOnnx(r.bytes).graph.nodes.find((n) => n.opType === "Scan")!.attributes[0].g!;
    assert.equal(body.nodes.filter((n) => n.opType === "QuantizeLinear").length, 4);
    const feeds = { xs: input([T, 1, K], 95), h0: input([1, N], 94) };
    const worst = await fidelity(bytes, r.bytes, [feeds]);
    assert.ok(worst >= 0.99, `cosine ${worst}`);
  },
);

test(
  "an If inside a Loop body: weights are quantized in the nested branch; a branch output stays float, naming why",
  SLOW,
  async () => {
    const bytes = loopIfModel();
    const model = loadModel(bytes, "loop_if.onnx");
    assert.deepEqual(
      model.graph.modules.filter((m) => m.type === "Linear").map((m) => [m.name, m.subgraph]),
      [["loop.if.fc", "graph.node[0].attribute[0].g.node[0].attribute[0].g"]],
    );
    const feeds = [{ h0: input([M, N], 93) }];
    for (const [storage, dtype] of [["int", "int8"], ["nbits", "int4"]] as const) {
      const r = await compressModel(model, {
        mode: "quantization",
        configList: config(dtype),
        storage,
      });
      const worst = await fidelity(bytes, r.bytes, feeds);
      assert.ok(worst >= (dtype === "int8" ? 0.999 : 0.97), `${storage}: cosine ${worst}`);
    }
    const r = await compressModel(model, {
      mode: "quantization",
      configList: ACTIVATIONS,
      storage: "int",
      calibration: { ort, batches: [{ h0: { data: weights(M * N, 64, 1), dims: [M, N] } }] },
    });
    assert.deepEqual(
      r.report.warnings,
      ["_output_0"].map((t) =>
        `[0]: module "loop.if.fc" target "${t}" stays float: it is computed in the then_branch of If node "If_inner" in the body of Loop node "Loop_0", and a Loop body stacks values over iterations, which may take different branches`
      ),
    );
    assert.ok((await fidelity(bytes, r.bytes, feeds)) >= 0.999);
  },
);

test(
  "the CLI quantizes and prunes Gemm forms and subgraph weights with each storage",
  SLOW,
  async () => {
    const dir = tempDir();
    const cases = [CASES[3], ...CASES.filter((c) => ["if", "loop"].includes(c.name))];
    for (const c of cases) {
      const path = join(dir, `${c.name}.onnx`);
      writeFileSync(path, c.bytes);
      for (const [storage, dtype] of [["int", "int8"], ["nbits", "int4"], ["float", "int8"]]) {
        const out = join(dir, `${c.name}.${storage}.onnx`);
        const args = ["-c", JSON.stringify(config(dtype)), "--storage", storage, "-o", out];
        const r = await cli("quantize", path, ...args, "--json");
        assert.equal(r.code, 0, `${c.name} ${storage}: ${r.stderr}`);
        const { report } = JSON.parse(r.stdout);
        assert.equal(report.storage, storage === "int" ? "qdq" : storage);
        assert.equal(report.after.fileBytes, readFileSync(out).length);
        const worst = await fidelity(c.bytes, readFileSync(out), c.feeds);
        assert.ok(worst >= (dtype === "int8" ? 0.999 : 0.97), `${c.name} ${storage}: ${worst}`);
      }
      const out = join(dir, `${c.name}.pruned.onnx`);
      const p = await cli(
        "prune",
        path,
        "-c",
        '[{"op_types":["Linear"],"sparse_ratio":0.5}]',
        "-o",
        out,
        "--json",
      );
      assert.equal(p.code, 0, `${c.name} prune: ${p.stderr}`);
      await run(readFileSync(out), c.feeds[0]);
    }
    // Calibration through the CLI: a safetensors file of the Loop model's two inputs.
    const calib = join(dir, "calib.safetensors");
    writeFileSync(
      calib,
      writeSafetensors([
        { name: "x", dtype: "F32", shape: [2 * M, K], data: weights(2 * M * K, 70, 1) },
        { name: "h0", dtype: "F32", shape: [2 * M, N], data: weights(2 * M * N, 71, 1) },
      ]),
    );
    const cfg = JSON.stringify([{
      op_types: ["Linear"],
      target_names: ["weight", "_input_0"],
      quant_dtype: "int8",
    }]);
    const r = await cli(
      "quantize",
      join(dir, "loop.onnx"),
      "-c",
      cfg,
      "--storage",
      "int",
      "--calibration",
      calib,
      "--batch-size",
      String(M),
      "-o",
      join(dir, "loop.calibrated.onnx"),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr + r.stdout, /stays float/);
    const loop = decodeOnnx(readFileSync(join(dir, "loop.calibrated.onnx"))).graph.nodes.find((
      n,
    ) => n.opType === "Loop")!;
    const body = loop.attributes[0].g!;
    assert.equal(body.nodes.filter((n) => n.opType === "QuantizeLinear").length, 2);
  },
);

const VAD = "node_modules/@ricky0123/vad-web/dist/";
const WAKE = "node_modules/openwakeword-js/models/hello_deepa.onnx";

/** The first value of the first output. */
async function first(bytes: Uint8Array, feeds: Feeds): Promise<number> {
  return (await run(bytes, feeds))[0][0]!;
}

function audio(n: number): Float32Array {
  return new Float32Array(n).map((_, i) =>
    0.3 * Math.sin(i * 0.05) * Math.sin(i * 0.0031) + 0.01 * Math.cos(i * 1.7)
  );
}

/** Feeds of a Silero VAD model at both sample rates (one If branch each). */
function vadFeeds(legacy: boolean): Feeds[] {
  return [16000n, 8000n].map((sr) => {
    const n = (legacy ? 1536 : 512) / (sr === 16000n ? 1 : 2);
    const sample = new ort.Tensor("float32", audio(n), [1, n]);
    const rate = new ort.Tensor("int64", BigInt64Array.from([sr]), []);
    const zeros = (dims: number[]) =>
      new ort.Tensor("float32", new Float32Array(dims.reduce((a, b) => a * b)), dims);
    return legacy
      ? { input: sample, sr: rate, h: zeros([2, 1, 64]), c: zeros([2, 1, 64]) }
      : { input: sample, state: zeros([2, 1, 128]), sr: rate };
  });
}

test(
  "Silero VAD: int8 QDQ of the Conv1d weights inside If branches computes what the fake-quantized model does",
  SLOW,
  async () => {
    // v5 holds its weights as Constant nodes inside both If branches; the legacy model reads
    // main-graph initializers from its branches and has initializers in nested Ifs.
    for (const legacy of [false, true]) {
      const path = `${VAD}silero_vad_${legacy ? "legacy" : "v5"}.onnx`;
      const bytes = readFileSync(path);
      const model = loadModel(bytes, path);
      const configList = [{
        op_types: ["Conv1d"],
        target_names: ["weight"],
        quant_dtype: "int8",
        granularity: "per_channel",
      }];
      const int = await compressModel(model, { mode: "quantization", configList, storage: "int" });
      const float = await compressModel(model, {
        mode: "quantization",
        configList,
        storage: "float",
      });
      assert.equal(int.report.storage, "qdq", path);
      assert.equal(int.report.layers.length, legacy ? 36 : 12, path);
      assert.ok(int.bytes.length < bytes.length * 0.85, `${path}: ${int.bytes.length} bytes`);
      for (const f of vadFeeds(legacy)) {
        const p0 = await first(bytes, f);
        const p1 = await first(int.bytes, f);
        const p2 = await first(float.bytes, f);
        assert.ok(Math.abs(p1 - p2) < 1e-4, `${path}: ${p1} vs ${p2}`);
        assert.ok(Math.abs(p0 - p1) < 0.02, `${path}: ${p0} vs ${p1}`);
      }
    }
  },
);

test("openWakeWord: its Gemm layers become int4 MatMulNBits and keep the score", SLOW, async () => {
  const bytes = readFileSync(WAKE);
  const r = await compressModel(loadModel(bytes, WAKE), {
    mode: "quantization",
    configList: config("int4"),
    storage: "nbits",
  });
  assert.equal(r.report.layers.length, 3);
  assert.ok(r.bytes.length < bytes.length * 0.2, `${r.bytes.length} bytes`);
  const feeds = { "onnx::Flatten_0": new ort.Tensor("float32", audio(2400), [1, 25, 96]) };
  const [a, b] = [await first(bytes, feeds), await first(r.bytes, feeds)];
  assert.ok(Math.abs(a - b) < 0.01, `${a} vs ${b}`);
});
