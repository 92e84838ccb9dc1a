// The channel-dependency graph and channel removal on small graphs built by hand: one graph per
// coupling rule (residual Add, Concat offsets, Split sizes, Slice bounds, depthwise convs,
// BatchNorm/InstanceNorm, squeeze-and-excitation Mul, Flatten→Gemm, Transpose→MatMul+Add,
// Reshape through Shape) and one per freeze reason. Each removal runs in onnxruntime-node
// against the model as built (it already holds the zeros a mask would write).
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildOnnx } from "../../src/io/onnx/build_onnx.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import type { Attr, NodeSpec, TensorSpec } from "../../src/io/onnx/proto_writer.ts";
import { channelGraph } from "../../src/pruning/channel_graph.ts";
import { removeChannels } from "../../src/pruning/remove_channels.ts";
import { loadOrt, run } from "../io/_ocr.ts";

const SLOW = { timeout: 120_000 };

/** A float tensor; `zero` lists the dim-0 slices (or dim `axis`) set to 0. */
function f(
  name: string,
  dims: number[],
  seed: number,
  zero: number[] = [],
  axis = 0,
): TensorSpec {
  const n = dims.reduce((a, b) => a * b, 1);
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const v = new Float32Array(n).map((_, i) => Math.sin(i * 1.3 + seed) * 0.8 + 0.1);
  for (let i = 0; i < n; i++) if (zero.includes(Math.floor(i / inner) % dims[axis])) v[i] = 0;
  return { name, dataType: 1, dims, raw: new Uint8Array(v.buffer) };
}
function c(name: string, values: number[]): TensorSpec {
  return {
    name,
    dataType: 1,
    dims: [values.length],
    raw: new Uint8Array(Float32Array.from(values).buffer),
  };
}
function i64(name: string, values: number[]): TensorSpec {
  const raw = new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer);
  return { name, dataType: 7, dims: [values.length], raw };
}
const n = (
  opType: string,
  inputs: string[],
  outputs: string[],
  attributes: Attr[] = [],
): NodeSpec => ({ name: outputs[0], opType, inputs, outputs, attributes });
const PAD = { name: "pads", ints: [1, 1, 1, 1] };

function build(nodes: NodeSpec[], initializers: TensorSpec[], input: number[], outputs = ["y"]) {
  return buildOnnx({
    opsets: [{ domain: "", version: 17 }],
    nodes,
    initializers,
    inputs: [{ name: "x", type: { elemType: 1, dims: input } }],
    outputs: outputs.map((name) => ({ name, type: { elemType: 1, dims: [] } })),
  });
}

/** Removes channels, runs both models, returns the written dims by tensor name. */
async function shrink(bytes: Uint8Array, input: number[]) {
  const out = await removeChannels(decodeOnnx(bytes));
  const ort = await loadOrt();
  const x = new Float32Array(input.reduce((a, b) => a * b, 1)).map((_, i) => Math.cos(i * 0.7));
  const a = await run(ort, bytes, x, input);
  const b = await run(ort, out.bytes, x, input);
  assert.deepEqual(b.dims, a.dims);
  const scale = Math.max(1e-6, ...a.data.map(Math.abs));
  a.data.forEach((v, i) =>
    assert.ok(Math.abs(v - b.data[i]) <= 1e-5 * scale, `output ${i}: ${v} vs ${b.data[i]}`)
  );
  const dims = new Map(decodeOnnx(out.bytes).tensors.map((t) => [t.name, t.dims]));
  return { out, dims };
}

test(
  "a residual Add couples two convs; a channel goes when both are empty, its constant folded",
  SLOW,
  async () => {
    const bytes = build([
      n("Conv", ["x", "a.weight", "a.bias"], ["a"]),
      n("Conv", ["x", "b.weight", "b.bias"], ["b"]),
      n("Add", ["a", "b"], ["s"]),
      n("Relu", ["s"], ["r"]),
      n("Conv", ["r", "c.weight", "c.bias"], ["y"]),
    ], [
      f("a.weight", [4, 2, 1, 1], 1, [1, 2]),
      c("a.bias", [0.1, 0.5, 0.2, 0.3]),
      f("b.weight", [4, 2, 1, 1], 2, [1]),
      c("b.bias", [0, -0.2, 0, 0]),
      f("c.weight", [3, 4, 1, 1], 3),
      c("c.bias", [1, 2, 3]),
    ], [1, 2, 3, 3]);
    const g = channelGraph(decodeOnnx(bytes));
    const [a, b] = [g.values.get("a")!, g.values.get("b")!];
    assert.equal(g.find(a.elements[1]), g.find(b.elements[1]));
    assert.match(g.reasons(a.elements[1])[0], /Add node "s"/);
    const { out, dims } = await shrink(bytes, [1, 2, 3, 3]);
    // channel 2 is empty in a only: kept (a channel goes only when every coupled producer drops it)
    assert.deepEqual(out.producers.map((p) => [p.producer, p.removed, p.consumers]), [
      ["a", [1], ["c"]],
      ["b", [1], ["c"]],
    ]);
    assert.deepEqual([dims.get("a.weight"), dims.get("b.bias"), dims.get("c.weight")], [
      [3, 2, 1, 1],
      [3],
      [3, 3, 1, 1],
    ]);
  },
);

test("Concat offsets, Split sizes and Slice bounds follow the removed channels", SLOW, async () => {
  const bytes = build([
    n("Conv", ["x", "a.weight"], ["a"]),
    n("Conv", ["x", "b.weight"], ["b"]),
    n("Concat", ["a", "b"], ["cat"], [{ name: "axis", i: 1 }]),
    n("Split", ["cat", "sizes"], ["s0", "s1"], [{ name: "axis", i: 1 }]),
    n("Slice", ["cat", "starts", "ends", "axes"], ["sl"]),
    n("Conv", ["s0", "c0.weight"], ["y0"]),
    n("Conv", ["s1", "c1.weight"], ["y1"]),
    n("Conv", ["sl", "c2.weight"], ["y2"]),
    n("Add", ["y0", "y1"], ["y01"]),
    n("Add", ["y01", "y2"], ["y"]),
  ], [
    f("a.weight", [4, 2, 1, 1], 1, [1]),
    f("b.weight", [3, 2, 1, 1], 2, [0, 2]),
    i64("sizes", [2, 5]),
    i64("starts", [4]),
    i64("ends", [7]),
    i64("axes", [1]),
    f("c0.weight", [2, 2, 1, 1], 3),
    f("c1.weight", [2, 5, 1, 1], 4),
    f("c2.weight", [2, 3, 1, 1], 5),
  ], [1, 2, 3, 3]);
  const g = channelGraph(decodeOnnx(bytes));
  assert.deepEqual(g.values.get("s1")!.elements, g.values.get("cat")!.elements.slice(2));
  assert.deepEqual(g.values.get("sl")!.elements, g.values.get("b")!.elements);
  const { dims } = await shrink(bytes, [1, 2, 3, 3]);
  assert.deepEqual(dims.get("sizes"), [2]);
  assert.deepEqual(
    [dims.get("a.weight"), dims.get("b.weight"), dims.get("c0.weight"), dims.get("c1.weight")],
    [[3, 2, 1, 1], [1, 2, 1, 1], [2, 1, 1, 1], [2, 3, 1, 1]],
  );
  assert.deepEqual(dims.get("c2.weight"), [2, 1, 1, 1]);
});

test("a depthwise conv joins its channels to its parent's; group shrinks", SLOW, async () => {
  const bytes = build([
    n("Conv", ["x", "a.weight", "a.bias"], ["a"]),
    n("HardSwish", ["a"], ["h"]),
    n("Conv", ["h", "dw.weight", "dw.bias"], ["d"], [{ name: "group", i: 4 }, PAD]),
    n("BatchNormalization", ["d", "bn.s", "bn.b", "bn.m", "bn.v"], ["bn"]),
    n("Clip", ["bn", "lo", "hi"], ["r"]),
    n("Conv", ["r", "c.weight", "c.bias"], ["y"]),
  ], [
    f("a.weight", [4, 2, 1, 1], 1, [0, 3]),
    c("a.bias", [0, 0.1, 0.2, 0.7]),
    f("dw.weight", [4, 1, 3, 3], 2, [0]),
    c("dw.bias", [0.5, 0.1, 0.2, 0.3]),
    c("bn.s", [1, 2, 3, 4]),
    c("bn.b", [0.1, 0.2, 0.3, 0.4]),
    c("bn.m", [0, 0.1, 0, 0.1]),
    c("bn.v", [1, 2, 1, 2]),
    { name: "lo", dataType: 1, dims: [], raw: new Uint8Array(new Float32Array([0]).buffer) },
    { name: "hi", dataType: 1, dims: [], raw: new Uint8Array(new Float32Array([6]).buffer) },
    f("c.weight", [2, 4, 1, 1], 3),
    c("c.bias", [0, 1]),
  ], [1, 2, 4, 4]);
  const g = channelGraph(decodeOnnx(bytes));
  assert.equal(g.find(g.values.get("a")!.elements[2]), g.find(g.values.get("d")!.elements[2]));
  const { out, dims } = await shrink(bytes, [1, 2, 4, 4]);
  // channel 0: the dw row is empty, so the dw output is its bias through the BatchNorm: folded.
  // channel 3: a's row is empty but its constant 0.7 meets a padded dw: kept.
  assert.deepEqual(out.producers.map((p) => [p.producer, p.removed]), [["a", [0]], ["dw", [0]]]);
  assert.deepEqual([dims.get("dw.weight"), dims.get("bn.v"), dims.get("c.weight")], [
    [3, 1, 3, 3],
    [3],
    [2, 3, 1, 1],
  ]);
  const dw = decodeOnnx(out.bytes).graph.nodes.find((x) => x.outputs[0] === "d")!;
  assert.equal(dw.attributes.find((a) => a.name === "group")!.i, 3);
});

test(
  "squeeze-and-excitation: the gate's conv is coupled by the Mul; InstanceNorm passes channels",
  SLOW,
  async () => {
    const bytes = build([
      n("Conv", ["x", "a.weight", "a.bias"], ["a"]),
      n("InstanceNormalization", ["a", "in.s", "in.b"], ["i"]),
      n("GlobalAveragePool", ["i"], ["p"]),
      n("Conv", ["p", "s1.weight", "s1.bias"], ["s1"]),
      n("Relu", ["s1"], ["s1r"]),
      n("Conv", ["s1r", "s2.weight", "s2.bias"], ["s2"]),
      n("HardSigmoid", ["s2"], ["gate"]),
      n("Mul", ["i", "gate"], ["m"]),
      n("Conv", ["m", "c.weight", "c.bias"], ["y"]),
    ], [
      f("a.weight", [4, 2, 1, 1], 1, [2]),
      c("a.bias", [0, 0.1, 0.4, 0.2]),
      c("in.s", [1, 2, 3, 4]),
      c("in.b", [0.5, 0, 0.25, 0]),
      f("s1.weight", [2, 4, 1, 1], 2),
      c("s1.bias", [0.1, 0.1]),
      f("s2.weight", [4, 2, 1, 1], 3, [2]),
      c("s2.bias", [0, 0, 0.3, 0]),
      f("c.weight", [2, 4, 1, 1], 4),
      c("c.bias", [0, 0]),
    ], [1, 2, 3, 3]);
    const g = channelGraph(decodeOnnx(bytes));
    assert.equal(g.find(g.values.get("a")!.elements[2]), g.find(g.values.get("s2")!.elements[2]));
    const { out, dims } = await shrink(bytes, [1, 2, 3, 3]);
    assert.deepEqual(out.producers.map((p) => [p.producer, p.removed]), [["a", [2]], ["s2", [2]]]);
    assert.deepEqual([dims.get("in.b"), dims.get("s1.weight"), dims.get("c.weight")], [
      [3],
      [2, 3, 1, 1],
      [2, 3, 1, 1],
    ]);
  },
);

test(
  "GlobalAveragePool → Flatten → Gemm, Transpose → MatMul + Add, and Reshape through Shape",
  SLOW,
  async () => {
    const bytes = build(
      [
        n("Conv", ["x", "a.weight", "a.bias"], ["a"]),
        n("GlobalAveragePool", ["a"], ["p"]),
        n("Flatten", ["p"], ["fl"]),
        n("Gemm", ["fl", "g.weight", "g.bias"], ["y0"], [{ name: "transB", i: 1 }]),
        n("Conv", ["x", "b.weight", "b.bias"], ["b"]),
        n("Transpose", ["b"], ["t"], [{ name: "perm", ints: [0, 2, 3, 1] }]),
        n("MatMul", ["t", "m.weight"], ["mm"]),
        n("Add", ["mm", "m.bias"], ["y1"]),
        n("Shape", ["a"], ["shape"]),
        n("Slice", ["shape", "s0", "s2", "ax0"], ["nc"]),
        n("Concat", ["nc", "minus1"], ["target"], [{ name: "axis", i: 0 }]),
        n("Reshape", ["a", "target"], ["rs"]),
        n("ReduceMean", ["rs"], ["y2"], [{ name: "axes", ints: [2] }]),
      ],
      [
        f("a.weight", [4, 2, 1, 1], 1, [1]),
        c("a.bias", [0.1, 0.6, 0.2, 0.3]),
        f("g.weight", [3, 4], 2),
        c("g.bias", [1, 2, 3]),
        f("b.weight", [5, 2, 1, 1], 3, [0, 4]),
        c("b.bias", [0.2, 0.1, 0, 0.4, 0]),
        f("m.weight", [5, 2], 4),
        c("m.bias", [0, 1]),
        i64("s0", [0]),
        i64("s2", [2]),
        i64("ax0", [0]),
        i64("minus1", [-1]),
      ],
      [1, 2, 3, 3],
      ["y0", "y1", "y2"],
    );
    const { dims } = await shrink(bytes, [1, 2, 3, 3]);
    // a's channel 1 reaches the graph output y2 through the Reshape: frozen
    assert.deepEqual(dims.get("a.weight"), [4, 2, 1, 1]);
    assert.deepEqual([dims.get("b.weight"), dims.get("m.weight")], [[3, 2, 1, 1], [3, 2]]);
    const g = channelGraph(decodeOnnx(bytes));
    assert.equal(g.values.get("rs")!.fromEnd, 1);
    assert.match(g.frozen(g.values.get("a")!.elements[1])!, /graph output "y2"/);
  },
);

test(
  "a Gemm after a global pool takes a removed channel's constant into its bias",
  SLOW,
  async () => {
    const bytes = build([
      n("Conv", ["x", "a.weight", "a.bias"], ["a"]),
      n("GlobalAveragePool", ["a"], ["p"]),
      n("Flatten", ["p"], ["fl"]),
      n("Gemm", ["fl", "g.weight", "g.bias"], ["y"], [{ name: "transB", i: 1 }]),
    ], [
      f("a.weight", [4, 2, 3, 3], 1, [1, 3]),
      c("a.bias", [0.1, 0.6, 0.2, 0]),
      f("g.weight", [3, 4], 2),
      c("g.bias", [1, 2, 3]),
    ], [1, 2, 5, 5]);
    const { dims } = await shrink(bytes, [1, 2, 5, 5]);
    assert.deepEqual([dims.get("a.weight"), dims.get("g.weight")], [[2, 2, 3, 3], [3, 2]]);
  },
);

test("every freeze reason of the channel graph", () => {
  const g = channelGraph(decodeOnnx(build(
    [
      n("Conv", ["x", "a.weight"], ["a"]),
      n("Softmax", ["a"], ["sm"], [{ name: "axis", i: 1 }]),
      n("Conv", ["x", "b.weight"], ["b"]),
      n("LayerNormalization", ["b", "ln.s"], ["ln"], [{ name: "axis", i: 1 }]),
      n("Conv", ["x", "c.weight"], ["c"]),
      n("Conv", ["c", "gc.weight"], ["gc"], [{ name: "group", i: 2 }]),
      n("Conv", ["x", "d.weight"], ["d"]),
      n("Hardmax", ["d"], ["hm"]),
      n("Conv", ["x", "e.weight"], ["e"]),
      n("ReduceMean", ["e"], ["re"], [{ name: "axes", ints: [1] }]),
      n("Conv", ["x", "f.weight"], ["f"]),
      n("Reshape", ["f", "flat"], ["rf"]),
      n("Conv", ["x", "h.weight"], ["h"]),
      n("Add", ["h", "h.const"], ["ha"]),
      n("Conv", ["x", "k.weight"], ["k"]),
      n("Add", ["k", "x"], ["kx"]),
      n("Conv", ["x", "l.weight"], ["l"]),
      n("Shape", ["l"], ["ls"]),
      n("Gather", ["ls", "one"], ["lc"]),
      n("Cast", ["lc"], ["lf"], [{ name: "to", i: 1 }]),
      n("Conv", ["x", "o.weight"], ["y"]),
    ],
    [
      f("a.weight", [4, 2, 1, 1], 1),
      f("b.weight", [4, 2, 1, 1], 1),
      f("ln.s", [4, 3, 3], 1),
      f("c.weight", [4, 2, 1, 1], 1),
      f("gc.weight", [4, 2, 1, 1], 1),
      f("d.weight", [4, 2, 1, 1], 1),
      f("e.weight", [4, 2, 1, 1], 1),
      f("f.weight", [4, 2, 1, 1], 1),
      i64("flat", [0, -1]),
      f("h.weight", [4, 2, 1, 1], 1),
      f("h.const", [3, 1, 1], 1),
      f("k.weight", [4, 2, 1, 1], 1),
      f("l.weight", [4, 2, 1, 1], 1),
      { name: "one", dataType: 7, dims: [], raw: new Uint8Array(new BigInt64Array([1n]).buffer) },
      f("o.weight", [4, 2, 1, 1], 1),
    ],
    [1, 2, 3, 3],
    ["y", "sm", "ln", "gc", "hm", "re", "rf", "ha", "kx", "lf"],
  )));
  const why = (v: string) => g.frozen(g.values.get(v)!.elements[0]);
  assert.match(why("a")!, /Softmax node "sm" normalizes over the channel axis/);
  assert.match(why("b")!, /LayerNormalization node "ln" normalizes over the channel axis/);
  assert.match(why("c")!, /group 2: removing channels would need the same count removed/);
  assert.match(why("d")!, /Hardmax node "hm" is not analysed/);
  assert.match(why("e")!, /ReduceMean node "re" reduces over the channel axis/);
  assert.match(why("f")!, /Reshape node "rf" merges the channel axis with other dims/);
  assert.match(why("h")!, /constant of dims \[3,1,1\] does not broadcast on the channels/);
  assert.match(why("k")!, /meets a value whose shape the analysis does not know/);
  assert.match(why("l")!, /its channel count is read by the graph output "lf"/);
  assert.match(why("y")!, /reaches the graph output "y"/);
});

test(
  "channelMultiple keeps channel counts multiples of 8 by keeping some empty channels",
  SLOW,
  async () => {
    const zero = [0, 1, 2, 3, 5, 7, 9, 11, 13];
    const bytes = build(
      [
        n("Conv", ["x", "a.weight"], ["a"]),
        n("Relu", ["a"], ["r"]),
        n("Conv", ["r", "c.weight"], ["y"]),
      ],
      [f("a.weight", [16, 2, 1, 1], 1, zero), f("c.weight", [3, 16, 1, 1], 2)],
      [1, 2, 3, 3],
    );
    const exact = await removeChannels(decodeOnnx(bytes));
    assert.equal(exact.producers[0].removed.length, 9);
    const out = await removeChannels(decodeOnnx(bytes), undefined, { channelMultiple: 8 });
    assert.deepEqual(out.producers[0].removed, [0, 1, 2, 3, 5, 7, 9, 11]);
    assert.deepEqual(decodeOnnx(out.bytes).tensors.map((t) => t.dims), [[8, 2, 1, 1], [
      3,
      8,
      1,
      1,
    ]]);
    await assert.rejects(
      removeChannels(decodeOnnx(bytes), undefined, { channelMultiple: 0 }),
      /"channelMultiple" must be a positive integer: current value is 0/,
    );
  },
);
