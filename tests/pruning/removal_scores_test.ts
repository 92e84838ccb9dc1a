// channelRemovalScores on small graphs built by hand: the variance of the reading layer's input
// channel times the squared weights that read it, through a depthwise conv and BatchNorm, and
// the graphs it refuses.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import { buildOnnx } from "../../src/io/onnx/build_onnx.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import type { NodeSpec } from "../../src/io/onnx/proto_writer.ts";
import { channelRemovalScores } from "../../src/pruning/removal_scores.ts";

const f32 = (v: ArrayLike<number>) => new Uint8Array(Float32Array.from(v).buffer);
const ints = (name: string, v: number[]) => ({ name, ints: v });
const wave = (n: number, a: number, b = 0) =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(i * a + b));

/** p: 1x1 2 → 3, Relu, d: depthwise 3x3 (group 3, no padding), then `tail` nodes reading "d.out". */
function model(tail: NodeSpec[], tailInits: { name: string; dims: number[]; v: Float32Array }[]) {
  const q = [
    { name: "p.weight", dims: [3, 2, 1, 1], v: wave(6, 0.9, 0.2) },
    { name: "d.weight", dims: [3, 1, 3, 3], v: wave(27, 0.7, 1) },
    ...tailInits,
  ];
  return decodeOnnx(buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes: [
      {
        name: "p",
        opType: "Conv",
        inputs: ["x", "p.weight"],
        outputs: ["p.out"],
        attributes: [ints("kernel_shape", [1, 1])],
      },
      { name: "p.relu", opType: "Relu", inputs: ["p.out"], outputs: ["p.act"] },
      {
        name: "d",
        opType: "Conv",
        inputs: ["p.act", "d.weight"],
        outputs: ["d.out"],
        attributes: [ints("kernel_shape", [3, 3]), { name: "group", i: 3 }],
      },
      ...tail,
    ],
    initializers: q.map((t) => ({ name: t.name, dataType: 1, dims: t.dims, raw: f32(t.v) })),
    inputs: [{ name: "x", type: { elemType: 1, dims: ["n", 2, 6, 6] } }],
    outputs: [{ name: "y", type: { elemType: 1, dims: ["n", "c", "h", "w"] } }],
  }));
}

const x = wave(2 * 2 * 36, 0.61, 0.4);
const batches = [{ x: { data: x, dims: [2, 2, 6, 6] } }];

test("the score is the reading layer's input variance times its squared weights", async () => {
  const qw = Float32Array.from([1, 0, 2, 0.5, 0, -1]); // [2 out, 3 in]
  const onnx = model([
    {
      name: "q",
      opType: "Conv",
      inputs: ["d.out", "q.weight"],
      outputs: ["y"],
      attributes: [ints("kernel_shape", [1, 1])],
    },
  ], [{ name: "q.weight", dims: [2, 3, 1, 1], v: qw }]);
  const scores = await channelRemovalScores(onnx, batches, { ort, modules: ["p"] });
  // the same by hand: run to d.out and take each channel's variance
  const probe = model([{ name: "id", opType: "Identity", inputs: ["d.out"], outputs: ["y"] }], []);
  const s = await ort.InferenceSession.create(probe.bytes);
  const d = (await s.run({ x: new ort.Tensor("float32", x, [2, 2, 6, 6]) })).y.data as Float32Array;
  await s.release();
  const per = 16; // 4x4 positions
  const want = [0, 1, 2].map((c) => {
    const v: number[] = [];
    for (let n = 0; n < 2; n++) for (let k = 0; k < per; k++) v.push(d[(n * 3 + c) * per + k]);
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
    return variance * (qw[c] ** 2 + qw[3 + c] ** 2);
  });
  assert.equal(scores.p.length, 3);
  for (let c = 0; c < 3; c++) {
    assert.ok(Math.abs(scores.p[c] - want[c]) <= 1e-4 * Math.max(...want), `${c}`);
  }
  assert.ok(scores.p[1] < scores.p[0]); // q reads channel 1 with weights 0 and 0.5 only
});

test("channels that reach an op the scores do not follow, or a graph output, are refused", async () => {
  const concat = model([
    {
      name: "cat",
      opType: "Concat",
      inputs: ["d.out", "d.out"],
      outputs: ["y"],
      attributes: [{ name: "axis", i: 1 }],
    },
  ], []);
  await assert.rejects(
    channelRemovalScores(concat, batches, { ort, modules: ["p"] }),
    /p: its channels reach the Concat node "cat", which the scores do not follow/,
  );
  const open = model([{ name: "r", opType: "Relu", inputs: ["d.out"], outputs: ["y"] }], []);
  await assert.rejects(
    channelRemovalScores(open, batches, { ort, modules: ["p"] }),
    /p: its channels reach the graph output "y" before a weighted layer/,
  );
  await assert.rejects(
    channelRemovalScores(open, batches, { ort, modules: ["nope"] }),
    /"modules": "nope" is not a Conv, Gemm or MatMul module of the main graph/,
  );
  await assert.rejects(
    channelRemovalScores(open, [], { ort, modules: ["p"] }),
    /"batches" must hold at least one calibration batch/,
  );
});
