import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "../../src/io/fs.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { inspect } from "../../src/model/inspect.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { type RecurrentType, reorderGates } from "../../src/model/recurrent_gates.ts";
import { attr, f32s, graph, model, node, tensor, valueInfo } from "./_onnx_builder.ts";
import { loadOrt } from "./_ocr.ts";

/** Generous per-test limit: these tests run models and load the shared machine. */
const SLOW = { timeout: 120_000 };

const VAD = "node_modules/@ricky0123/vad-web/dist/";
const HIDDEN = 2;
const INPUT = 3;
const STEPS = 3;
const GATES = { LSTM: 4, GRU: 3, RNN: 1 } as const;

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** A one-node model with constant W, R, B (values from a fixed formula), output Y. */
function recurrentModel(
  type: RecurrentType,
): { bytes: Uint8Array; w: Float32Array; r: Float32Array; b: Float32Array } {
  const g = GATES[type];
  const w = f32s(g * HIDDEN * INPUT, (i) => Math.sin(i * 1.3) * 0.8);
  const r = f32s(g * HIDDEN * HIDDEN, (i) => Math.cos(i * 0.7) * 0.6);
  const b = f32s(2 * g * HIDDEN, (i) => Math.sin(i * 2.1) * 0.3);
  const bytes = model(graph({
    nodes: [
      node(type, ["x", "W", "R", "B"], ["Y"], `/enc/${type.toLowerCase()}/${type}`, [
        attr("hidden_size", { i: HIDDEN }),
        ...(type === "GRU" ? [attr("linear_before_reset", { i: 1 })] : []),
      ]),
    ],
    initializers: [
      tensor({ name: "W", dims: [1, g * HIDDEN, INPUT], raw: w }),
      tensor({ name: "R", dims: [1, g * HIDDEN, HIDDEN], raw: r }),
      tensor({ name: "B", dims: [1, 2 * g * HIDDEN], raw: b }),
    ],
    inputs: [valueInfo("x", [STEPS, 1, INPUT])],
    outputs: [valueInfo("Y", [STEPS, 1, 1, HIDDEN])],
  }));
  return { bytes, w, r, b };
}

/** PyTorch's LSTM/GRU/RNN equations on PyTorch-ordered weights (one direction, batch 1). */
function torchReference(
  type: RecurrentType,
  w: Float32Array,
  r: Float32Array,
  b: Float32Array,
  x: Float32Array,
): number[] {
  const g = GATES[type];
  let h = new Float32Array(HIDDEN);
  let c = new Float32Array(HIDDEN);
  const out: number[] = [];
  for (let t = 0; t < STEPS; t++) {
    const xi = (row: number) => {
      let s = b[row];
      for (let j = 0; j < INPUT; j++) s += w[row * INPUT + j] * x[t * INPUT + j];
      return s;
    };
    const hh = (row: number) => {
      let s = b[g * HIDDEN + row];
      for (let j = 0; j < HIDDEN; j++) s += r[row * HIDDEN + j] * h[j];
      return s;
    };
    const next = new Float32Array(HIDDEN);
    const nextC = new Float32Array(HIDDEN);
    for (let k = 0; k < HIDDEN; k++) {
      const gate = (n: number) => xi(n * HIDDEN + k) + hh(n * HIDDEN + k);
      if (type === "LSTM") {
        const [i, f, gg, o] = [
          sigmoid(gate(0)),
          sigmoid(gate(1)),
          Math.tanh(gate(2)),
          sigmoid(gate(3)),
        ];
        nextC[k] = f * c[k] + i * gg;
        next[k] = o * Math.tanh(nextC[k]);
      } else if (type === "GRU") {
        const reset = sigmoid(gate(0));
        const z = sigmoid(gate(1));
        const n = Math.tanh(xi(2 * HIDDEN + k) + reset * hh(2 * HIDDEN + k));
        next[k] = (1 - z) * n + z * h[k];
      } else next[k] = Math.tanh(gate(0));
    }
    h = next;
    c = nextC;
    out.push(...h);
  }
  return out;
}

test("LSTM, GRU and RNN nodes are modules with weight_ih, weight_hh and bias in ONNX layout", () => {
  for (const type of ["LSTM", "GRU", "RNN"] as const) {
    const m = onnxModel(decodeOnnx(recurrentModel(type).bytes));
    const g = GATES[type];
    assert.deepEqual(m.modules.map((x) => [x.name, x.type, x.opType]), [[
      `enc.${type.toLowerCase()}`,
      type,
      type,
    ]]);
    const p = m.modules[0].params;
    assert.deepEqual(Object.keys(p), ["weight_ih", "weight_hh", "bias"]);
    assert.deepEqual(p.weight_ih.shape, [1, g * HIDDEN, INPUT]);
    assert.deepEqual(p.weight_hh.shape, [1, g * HIDDEN, HIDDEN]);
    assert.deepEqual(p.bias.shape, [1, 2 * g * HIDDEN]);
    assert.equal(p.weight_ih.transpose, undefined);
  }
});

test(
  "reorderGates() gives PyTorch's gate order: onnxruntime agrees with PyTorch's equations",
  SLOW,
  async () => {
    const ort = await loadOrt();
    const x = f32s(STEPS * INPUT, (i) => Math.cos(i * 0.9));
    for (const type of ["LSTM", "GRU", "RNN"] as const) {
      const { bytes, w, r, b } = recurrentModel(type);
      const g = GATES[type];
      const session = await ort.InferenceSession.create(bytes);
      const y = (await session.run({ x: new ort.Tensor("float32", x, [STEPS, 1, INPUT]) })).Y;
      const expected = torchReference(
        type,
        reorderGates(type, w, [1, g * HIDDEN, INPUT]),
        reorderGates(type, r, [1, g * HIDDEN, HIDDEN]),
        reorderGates(type, b, [1, 2 * g * HIDDEN]),
        x,
      );
      const got = [...y.data as Float32Array];
      assert.equal(got.length, expected.length);
      got.forEach((v, i) =>
        assert.ok(Math.abs(v - expected[i]) < 1e-5, `${type}[${i}]: ${v} vs ${expected[i]}`)
      );
    }
  },
);

test("reorderGates() inverts with toOnnx, per direction, and rejects other shapes", () => {
  const w = f32s(2 * 4 * 2 * 3, (i) => i);
  const torch = reorderGates("LSTM", w, [2, 8, 3]);
  // Direction 1, PyTorch gate f (block 1) is ONNX gate f (block 2).
  assert.deepEqual([...torch.subarray(48 / 2 + 6, 48 / 2 + 12)], [...w.subarray(24 + 12, 24 + 18)]);
  assert.deepEqual(reorderGates("LSTM", torch, [2, 8, 3], { toOnnx: true }), w);
  const gru = reorderGates("GRU", f32s(6, (i) => i), [1, 6]);
  assert.deepEqual([...gru], [1, 0, 2, 4, 3, 5]);
  assert.throws(() => reorderGates("GRU", new Float32Array(8), [1, 8]), RangeError);
});

test("the Silero VAD LSTMs are listed with their parameters and sensible names", SLOW, async () => {
  const legacy = onnxModel(decodeOnnx(await readFile(`${VAD}silero_vad_legacy.onnx`)));
  const lstms = legacy.modules.filter((m) => m.type === "LSTM");
  assert.equal(lstms.length, 8); // 2 layers in each of 4 branches (8 / 16 kHz, first call or not)
  assert.ok(lstms.every((m) => /^LSTM_\d+$/.test(m.name)));
  assert.deepEqual(lstms[0].params.weight_ih.shape, [1, 256, 64]);
  assert.deepEqual(lstms[0].params.bias.shape, [1, 512]);
  const v5 = onnxModel(decodeOnnx(await readFile(`${VAD}silero_vad_v5.onnx`)));
  const rnn = v5.modules.find((m) => m.name === "If_0_else_branch__Inline_0__decoder.rnn")!;
  assert.equal(rnn.type, "LSTM");
  assert.deepEqual(
    Object.entries(rnn.params).map(([k, v]) => [k, v.name, v.shape]),
    ["weight_ih", "weight_hh", "bias_ih", "bias_hh"].map((k) => [
      k,
      `If_0_else_branch__Inline_0__decoder.rnn.${k}`,
      k.startsWith("weight") ? [512, 128] : [512],
    ]),
  );
  assert.equal(v5.modules.filter((m) => m.type === "LSTM").length, 4);
  assert.match(inspect(v5).text, /If_0_then_branch__Inline_0__decoder\.rnn +LSTM/);
});
