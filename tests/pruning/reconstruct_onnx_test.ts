// Least-squares reconstruction on small ONNX graphs built by hand: a redundant channel whose
// pruning the refit undoes exactly, masks that stay zero, depthwise and grouped convs, biases
// added for constant channels, the kernels' solve against the reference, and bad calibration.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import { buildOnnx } from "../../src/io/onnx/build_onnx.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import type { NodeSpec } from "../../src/io/onnx/proto_writer.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { referenceKernels } from "../../src/kernels/reference.ts";
import { createWasmKernels } from "../../src/kernels/wasm.ts";
import { reconstructOnnx } from "../../src/pruning/reconstruct_onnx.ts";
import { ridgeSolve } from "../../src/pruning/ridge_solve.ts";

const SLOW = { timeout: 120_000 };
const f32 = (v: ArrayLike<number>) => new Uint8Array(Float32Array.from(v).buffer);
const ints = (name: string, v: number[]) => ({ name, ints: v });

interface Conv {
  name: string;
  input: string;
  output: string;
  weight: Float32Array;
  dims: [number, number, number, number];
  bias?: Float32Array;
  group?: number;
  pad?: number;
}

/** A chain of Convs with Relu after each but the last: x [n, c, 6, 6] → y. */
function chain(convs: readonly Conv[], channels: number) {
  const nodes: NodeSpec[] = [];
  const initializers = [];
  for (const [i, c] of convs.entries()) {
    const p = c.pad ?? 0;
    nodes.push({
      name: c.name,
      opType: "Conv",
      inputs: [c.input, `${c.name}.weight`, ...(c.bias ? [`${c.name}.bias`] : [])],
      outputs: [i === convs.length - 1 ? "y" : `${c.name}.out`],
      attributes: [
        ints("kernel_shape", [c.dims[2], c.dims[3]]),
        ints("pads", [p, p, p, p]),
        { name: "group", i: c.group ?? 1 },
      ],
    });
    initializers.push({ name: `${c.name}.weight`, dataType: 1, dims: c.dims, raw: f32(c.weight) });
    if (c.bias) {
      initializers.push({
        name: `${c.name}.bias`,
        dataType: 1,
        dims: [c.dims[0]],
        raw: f32(c.bias),
      });
    }
    if (i < convs.length - 1) {
      nodes.push({
        name: `${c.name}.relu`,
        opType: "Relu",
        inputs: [`${c.name}.out`],
        outputs: [convs[i + 1].input],
      });
    }
  }
  return buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes,
    initializers,
    inputs: [{ name: "x", type: { elemType: 1, dims: ["n", channels, 6, 6] } }],
    outputs: [{ name: "y", type: { elemType: 1, dims: ["n", convs.at(-1)!.dims[0], 6, 6] } }],
  });
}

const wave = (n: number, a: number, b = 0) =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(i * a + b));
const X = wave(4 * 2 * 36, 0.77, 0.3); // [4, 2, 6, 6]
const batches = [
  { x: { data: X.slice(0, 2 * 72), dims: [2, 2, 6, 6] } },
  { x: { data: X.slice(2 * 72), dims: [2, 2, 6, 6] } },
];

async function runModel(bytes: Uint8Array, x = X, dims = [4, 2, 6, 6]) {
  const s = await ort.InferenceSession.create(bytes);
  try {
    const out = await s.run({ x: new ort.Tensor("float32", x, dims) });
    return out.y.data as Float32Array;
  } finally {
    await s.release();
  }
}

function tensorValues(bytes: Uint8Array, name: string): Float32Array {
  const onnx = decodeOnnx(bytes);
  const t = onnx.graph.initializers.find((t) => t.name === name)!;
  assert.equal(t.storage.kind, "raw");
  const s = t.storage as { kind: "raw"; start: number; end: number };
  return new Float32Array(bytes.slice(s.start, s.end).buffer);
}

/** conv a (3x3, pad 1, 2 → 3 channels; channel 2 a copy of channel 0) → relu → conv b (1x1). */
function redundant(prunedA: boolean, bWeight = wave(2 * 3, 1.3, 0.2)) {
  const a = wave(3 * 2 * 9, 0.9, 0.1);
  const ab = Float32Array.from([0.1, -0.2, 0.1]);
  a.set(a.subarray(0, 18), 36); // channel 2 = channel 0
  if (prunedA) {
    a.fill(0, 36);
    ab[2] = 0;
  }
  return chain([
    { name: "a", input: "x", output: "a.out", weight: a, dims: [3, 2, 3, 3], bias: ab, pad: 1 },
    {
      name: "b",
      input: "a.relu",
      output: "y",
      weight: bWeight,
      dims: [2, 3, 1, 1],
      bias: Float32Array.from([0.3, -0.1]),
    },
  ], 2);
}

test(
  "a pruned copy of a channel: the consumer's refit restores the outputs exactly",
  SLOW,
  async () => {
    const original = redundant(false);
    const pruned = redundant(true);
    const want = await runModel(original);
    const before = await runModel(pruned);
    const run = await reconstructOnnx(decodeOnnx(original), decodeOnnx(pruned), batches, {
      ort,
      damp: 1e-7,
    });
    assert.deepEqual(run.layers.map((l) => l.module), ["a", "b"]);
    const b = run.layers[1];
    assert.deepEqual(b.constantInputs, [2]); // channel 2 is 0 in the pruned model
    assert.ok(b.error.before > 1e-2, `before ${b.error.before}`);
    assert.ok(b.error.after < 1e-8, `after ${b.error.after}`);
    assert.equal(run.layers[0].rowsRefit, 2); // the pruned row of a stays as it is
    const got = await runModel(run.bytes);
    let err = 0;
    let errBefore = 0;
    let norm = 0;
    for (let i = 0; i < want.length; i++) {
      err = Math.max(err, Math.abs(got[i] - want[i]));
      errBefore = Math.max(errBefore, Math.abs(before[i] - want[i]));
      norm = Math.max(norm, Math.abs(want[i]));
    }
    assert.ok(errBefore > 0.05 * norm);
    assert.ok(err < 1e-4 * norm, `max |diff| ${err} of ${norm}`);
    // masked weights stay exactly 0: a's row 2 and bias 2, b's column 2
    const aw = tensorValues(run.bytes, "a.weight");
    assert.ok(aw.subarray(36).every((v) => v === 0));
    assert.equal(tensorValues(run.bytes, "a.bias")[2], 0);
    const bw = tensorValues(run.bytes, "b.weight");
    assert.equal(bw[2], 0);
    assert.equal(bw[5], 0);
  },
);

test("element-wise masks stay zero and untouched rows keep their values", SLOW, async () => {
  const bw = wave(2 * 3, 1.3, 0.2);
  const masked = bw.slice();
  masked[1] = 0; // one weight of row 0 masked
  const run = await reconstructOnnx(
    decodeOnnx(redundant(false, bw)),
    decodeOnnx(redundant(false, masked)),
    batches,
    { ort, modules: ["b"] },
  );
  const w = tensorValues(run.bytes, "b.weight");
  assert.equal(w[1], 0);
  assert.notEqual(w[0], masked[0]); // row 0 was refit around the masked weight
  assert.ok(run.layers[0].error.after < run.layers[0].error.before);
});

test(
  "depthwise and grouped convs are solved group by group; a bias is added for a constant channel",
  SLOW,
  async () => {
    // a: 2 → 4 (3x3, bias) → relu → p: 1x1, no bias → relu → d: depthwise 3x3 padded (group 4, no
    // bias) → relu → g: 1x1, group 2 → y
    const make = (pruned: boolean) => {
      const a = wave(4 * 2 * 9, 0.5, 0.4);
      const ab = Float32Array.from([0, 0.1, 0.2, 0.5]);
      if (pruned) a.fill(0, 54); // channel 3: weights 0, bias 0.5 kept → relu(0.5), a constant
      return chain([
        { name: "a", input: "x", output: "a.out", weight: a, dims: [4, 2, 3, 3], bias: ab, pad: 1 },
        {
          name: "p",
          input: "a.relu",
          output: "p.out",
          weight: wave(16, 0.8, 0.3),
          dims: [4, 4, 1, 1],
        },
        {
          name: "d",
          input: "p.relu",
          output: "d.out",
          weight: wave(4 * 9, 0.7, 1),
          dims: [4, 1, 3, 3],
          group: 4,
          pad: 1,
        },
        {
          name: "g",
          input: "d.relu",
          output: "y",
          weight: wave(4 * 2, 1.1),
          dims: [4, 2, 1, 1],
          group: 2,
        },
      ], 2);
    };
    const original = decodeOnnx(make(false));
    const pruned = decodeOnnx(make(true));
    const run = await reconstructOnnx(original, pruned, batches, { ort });
    assert.deepEqual(run.layers.map((l) => l.module), ["a", "p", "d", "g"]);
    const p = run.layers[1];
    assert.deepEqual(p.constantInputs, [3]);
    assert.equal(p.biasAdded, true); // p had no bias: it takes the constant channel 3
    for (const l of run.layers) {
      assert.ok(
        l.error.after <= l.error.before * (1 + 1e-5) + 1e-9,
        `${l.module}: ${JSON.stringify(l.error)}`,
      );
    }
    assert.ok(p.error.after < p.error.before * 0.9, JSON.stringify(p.error));
    const model = onnxModel(decodeOnnx(run.bytes));
    assert.ok(model.modules.find((m) => m.name === "p")?.params.bias !== undefined);
    const pw = tensorValues(run.bytes, "p.weight"); // [4 out, 4 in]: column 3 goes to 0
    assert.deepEqual([pw[3], pw[7], pw[11], pw[15]], [0, 0, 0, 0]);
    const aw = tensorValues(run.bytes, "a.weight");
    assert.ok(aw.subarray(54).every((v) => v === 0)); // a's pruned row stays 0
    const got = await runModel(run.bytes);
    assert.ok(got.every(Number.isFinite));
    // depthwise: false leaves d as pruned
    const without = await reconstructOnnx(original, pruned, batches, { ort, depthwise: false });
    assert.deepEqual(without.layers.map((l) => l.module), ["a", "p", "g"]);
  },
);

test(
  "select held-out: a layer whose inputs did not change is left, the consumer of the pruned channel is refit",
  SLOW,
  async () => {
    const original = redundant(false);
    const pruned = redundant(true);
    const run = await reconstructOnnx(decodeOnnx(original), decodeOnnx(pruned), batches, {
      ort,
      damp: 1e-7,
      select: "held-out",
    });
    // a reads the graph input: the refit cannot do better than its pruned weights on batch 1
    assert.deepEqual(run.left.map((l) => l.module), ["a"]);
    assert.deepEqual(run.layers.map((l) => l.module), ["b"]);
    const b = run.layers[0];
    assert.ok(b.heldOut !== undefined && b.heldOut.refit < b.heldOut.pruned * 0.01);
    assert.ok(b.error.after < 1e-8, `after ${b.error.after}`);
    // a keeps its pruned bytes exactly; the model's outputs are restored
    assert.deepEqual(tensorValues(run.bytes, "a.weight"), tensorValues(pruned, "a.weight"));
    const want = await runModel(original);
    const got = await runModel(run.bytes);
    let err = 0;
    let norm = 0;
    for (let i = 0; i < want.length; i++) {
      err = Math.max(err, Math.abs(got[i] - want[i]));
      norm = Math.max(norm, Math.abs(want[i]));
    }
    assert.ok(err < 1e-4 * norm, `max |diff| ${err} of ${norm}`);
    await assert.rejects(
      reconstructOnnx(decodeOnnx(original), decodeOnnx(pruned), batches.slice(0, 1), {
        ort,
        select: "held-out",
      }),
      /"select": "held-out" needs at least two calibration batches .*: 1 given/,
    );
    await assert.rejects(
      reconstructOnnx(decodeOnnx(original), decodeOnnx(pruned), batches, {
        ort,
        select: "some" as "all",
      }),
      /"select" must be "all" or "held-out": current value is some/,
    );
  },
);

test("minRowsPerColumn leaves a layer with too few calibration rows as pruned", SLOW, async () => {
  const original = decodeOnnx(redundant(false));
  const pruned = decodeOnnx(redundant(true));
  // a: 3x3 over 2 channels and a bias, 19 columns; b: 3 channels and a bias, 4 columns; both
  // 2 batches × 2 images × 36 positions = 144 rows
  const run = await reconstructOnnx(original, pruned, batches, {
    ort,
    damp: 1e-7,
    minRowsPerColumn: 10,
  });
  assert.deepEqual(run.left, [{ module: "a", rows: 144, columns: 19 }]);
  assert.deepEqual(run.layers.map((l) => l.module), ["b"]);
  assert.ok(run.layers[0].error.after < 1e-8);
  await assert.rejects(
    reconstructOnnx(original, pruned, batches, { ort, minRowsPerColumn: -1 }),
    /"minRowsPerColumn" must be a finite number >= 0: current value is -1/,
  );
});

test("ridgeSolve: the WASM kernels agree with the reference kernels", () => {
  const wasm = createWasmKernels();
  const n = 37;
  const rows = 200;
  const x = wave(rows * n, 0.37, 0.5);
  const gram = new Float32Array(n * n);
  referenceKernels.hessianAccumulate(gram, x, n, 1, 1);
  const cross = new Float32Array(5 * n).map((_, i) => Math.cos(i * 0.3) * 10);
  const a = ridgeSolve(gram, cross, n, { kernels: referenceKernels, damp: 1e-3 });
  const b = ridgeSolve(gram, cross, n, { kernels: wasm, damp: 1e-3 });
  assert.equal(a.lambda, b.lambda);
  let scale = 0;
  for (const v of a.weight) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < a.weight.length; i++) {
    assert.ok(
      Math.abs(a.weight[i] - b.weight[i]) <= 1e-4 * scale,
      `${i}: ${a.weight[i]} vs ${b.weight[i]}`,
    );
  }
  // and the solution satisfies W (G + λI) = C
  for (let r = 0; r < 5; r++) {
    for (let j = 0; j < n; j++) {
      let s = a.lambda * a.weight[r * n + j];
      for (let i = 0; i < n; i++) s += a.weight[r * n + i] * gram[i * n + j];
      assert.ok(
        Math.abs(s - cross[r * n + j]) < 1e-2 * Math.max(1, Math.abs(cross[r * n + j])),
        `${r},${j}`,
      );
    }
  }
  assert.throws(
    () => ridgeSolve(gram, cross, n, { damp: -1 }),
    /"damp" must be a finite number >= 0: current value is -1/,
  );
  assert.throws(
    () => ridgeSolve(gram, new Float32Array(3), n),
    /"cross" must be a Float32Array of whole rows of 37 values: current length is 3/,
  );
});

test("bad calibration input is named", async () => {
  const o = decodeOnnx(redundant(false));
  const p = decodeOnnx(redundant(true));
  await assert.rejects(
    reconstructOnnx(o, p, [], { ort }),
    /"batches" must hold at least one calibration batch/,
  );
  await assert.rejects(
    reconstructOnnx(o, p, [{ input: batches[0].x }], { ort }),
    /"batches\[0\]" has no tensor for the model input "x": its keys are input/,
  );
  await assert.rejects(
    reconstructOnnx(o, p, [{ x: { data: new Float32Array(5), dims: [1, 2, 6, 6] } }], { ort }),
    /"batches\[0\].x" has 5 values for dims \[1,2,6,6\] \(72 expected\)/,
  );
  const nan = X.slice(0, 72);
  nan[3] = NaN;
  await assert.rejects(
    reconstructOnnx(o, p, [{ x: { data: nan, dims: [1, 2, 6, 6] } }], { ort }),
    /must hold finite values: element 3 is NaN/,
  );
  await assert.rejects(
    reconstructOnnx(o, p, batches, { ort, modules: ["a.relu"] }),
    /"modules": "a.relu" cannot be refit/,
  );
});

test(
  "the cut path (sub-graphs from the live values) gives the refit of the full-model path",
  SLOW,
  async () => {
    // a: 2 → 4 (3x3) → relu = r1; p: 1x1 4 → 4, no bias, its weight a Constant node → relu;
    // d: depthwise 3x3 → Add r1 (residual) → Concat with r1 → g: 1x1 8 → 3 → y
    const make = (pruned: boolean) => {
      const a = wave(4 * 2 * 9, 0.5, 0.4);
      const ab = Float32Array.from([0, 0.1, 0.2, 0.5]);
      if (pruned) a.fill(0, 54); // channel 3 becomes the constant relu(0.5): p gets a bias
      const conv = (name: string, inputs: string[], output: string, k: number, group = 1) => ({
        name,
        opType: "Conv",
        inputs,
        outputs: [output],
        attributes: [
          ints("kernel_shape", [k, k]),
          ints("pads", k === 3 ? [1, 1, 1, 1] : [0, 0, 0, 0]),
          { name: "group", i: group },
        ],
      });
      const tensor = (name: string, dims: number[], v: Float32Array) => ({
        name,
        dataType: 1,
        dims,
        raw: f32(v),
      });
      return buildOnnx({
        opsets: [{ domain: "", version: 13 }],
        nodes: [
          conv("a", ["x", "a.weight", "a.bias"], "a.out", 3),
          { name: "a.relu", opType: "Relu", inputs: ["a.out"], outputs: ["r1"] },
          {
            name: "p.const",
            opType: "Constant",
            inputs: [],
            outputs: ["p.weight"],
            attributes: [{
              name: "value",
              t: tensor("p.weight", [4, 4, 1, 1], wave(16, 0.8, 0.3)),
            }],
          },
          conv("p", ["r1", "p.weight"], "p.out", 1),
          { name: "p.relu", opType: "Relu", inputs: ["p.out"], outputs: ["r2"] },
          conv("d", ["r2", "d.weight", "d.bias"], "d.out", 3, 4),
          { name: "res", opType: "Add", inputs: ["d.out", "r1"], outputs: ["sum"] },
          {
            name: "cat",
            opType: "Concat",
            inputs: ["sum", "r1"],
            outputs: ["cat"],
            attributes: [{ name: "axis", i: 1 }],
          },
          conv("g", ["cat", "g.weight", "g.bias"], "y", 1),
        ],
        initializers: [
          tensor("a.weight", [4, 2, 3, 3], a),
          tensor("a.bias", [4], ab),
          tensor("d.weight", [4, 1, 3, 3], wave(36, 0.7, 1)),
          tensor("d.bias", [4], Float32Array.from([0.1, 0, -0.1, 0.2])),
          tensor("g.weight", [3, 8, 1, 1], wave(24, 1.1)),
          tensor("g.bias", [3], Float32Array.from([0.3, -0.1, 0])),
        ],
        inputs: [{ name: "x", type: { elemType: 1, dims: ["n", 2, 6, 6] } }],
        outputs: [{ name: "y", type: { elemType: 1, dims: ["n", 3, 6, 6] } }],
      });
    };
    const original = decodeOnnx(make(false));
    const pruned = decodeOnnx(make(true));
    const three = [...batches, { x: { data: X.slice(0, 72), dims: [1, 2, 6, 6] } }];
    const cut = await reconstructOnnx(original, pruned, three, { ort });
    const full = await reconstructOnnx(original, pruned, three, { ort, path: "full" });
    assert.equal(cut.path, "cut");
    assert.equal(full.path, "full");
    assert.deepEqual(cut.layers.map((l) => l.module), ["a", "p", "d", "g"]);
    assert.deepEqual(full.layers.map((l) => l.module), ["a", "p", "d", "g"]);
    assert.equal(cut.layers[1].biasAdded, true);
    for (const [i, l] of cut.layers.entries()) {
      const f = full.layers[i];
      assert.ok(Math.abs(l.error.after - f.error.after) <= 1e-5 * (f.error.before + 1e-9));
      assert.ok(l.error.after < l.error.before, `${l.module}: ${JSON.stringify(l.error)}`);
    }
    const values = (bytes: Uint8Array) => {
      const model = onnxModel(decodeOnnx(bytes));
      return Promise.all(
        model.modules.flatMap((m) => Object.values(m.params)).map(async (r) => ({
          name: r.name,
          data: await r.data(),
        })),
      );
    };
    const got = await values(cut.bytes);
    const want = await values(full.bytes);
    assert.deepEqual(got.map((t) => t.name), want.map((t) => t.name));
    assert.ok(got.some((t) => t.name.includes("reconstructed_bias")));
    for (const [i, t] of got.entries()) {
      const w = want[i].data;
      const scale = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0) || 1;
      for (let j = 0; j < w.length; j++) {
        assert.ok(
          Math.abs(t.data[j] - w[j]) <= 1e-4 * scale,
          `${t.name}[${j}]: ${t.data[j]} vs ${w[j]}`,
        );
      }
    }
    // and the refit changed something: the pruned p weights are not the result
    const before = await values(pruned.bytes);
    const p = got.find((t) => t.name === "p.weight")!.data;
    const p0 = before.find((t) => t.name === "p.weight")!.data;
    assert.ok(p.some((v, j) => Math.abs(v - p0[j]) > 1e-3));
  },
);

test("rowsPerColumn samples the positions of convs with many rows per column", SLOW, async () => {
  const original = decodeOnnx(redundant(false));
  const pruned = decodeOnnx(redundant(true));
  const all = await reconstructOnnx(original, pruned, batches, { ort, rowsPerColumn: Infinity });
  assert.deepEqual(all.layers.map((l) => l.samples), [144, 144]); // 4 images × 36 positions
  // 2 rows per column: a has 2·9 + 1 = 19 columns → every ⌊144 / 38⌋ = 3rd position; b has
  // 3 + 1 = 4 → every 18th, 2 per image
  const some = await reconstructOnnx(original, pruned, batches, { ort, rowsPerColumn: 2 });
  assert.deepEqual(some.layers.map((l) => l.samples), [48, 8]);
  for (const l of some.layers) assert.ok(l.error.after <= l.error.before, l.module);
  await assert.rejects(
    reconstructOnnx(original, pruned, batches, { ort, rowsPerColumn: 0 }),
    /"rowsPerColumn" must be at least 1/,
  );
});
