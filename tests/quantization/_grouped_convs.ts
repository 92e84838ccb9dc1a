// Small graphs for the layer-by-layer drivers' tests: two MatMuls, and a grouped and a depthwise
// convolution with their im2col rows per group written out by hand.
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { attr, graph, model, node, tensor, valueInfo } from "../io/_onnx_builder.ts";

export function values(n: number, seed: number, scale = 1): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s / 2 ** 32 - 0.5) * scale;
  });
}

/**
 * x [2, 4, 6, 7] -> Conv "gconv" [6, 2, 3, 3] of 2 groups, pads 1 -> h [2, 6, 6, 7] -> Relu -> r
 * (also a graph output) -> Conv "dw" [6, 1, 3, 3] depthwise (6 groups), pads 1, strides 2 ->
 * y [2, 6, 3, 4].
 */
export function groupedConvs() {
  const wg = values(6 * 2 * 9, 31, 0.7);
  const wd = values(6 * 9, 32, 0.7);
  const bytes = model(graph({
    nodes: [
      node("Conv", ["x", "gconv.weight"], ["h"], "/gconv/Conv", [
        attr("kernel_shape", { ints: [3, 3] }),
        attr("pads", { ints: [1, 1, 1, 1] }),
        attr("group", { i: 2 }),
      ]),
      node("Relu", ["h"], ["r"], "/act/Relu"),
      node("Conv", ["r", "dw.weight"], ["y"], "/dw/Conv", [
        attr("kernel_shape", { ints: [3, 3] }),
        attr("pads", { ints: [1, 1, 1, 1] }),
        attr("strides", { ints: [2, 2] }),
        attr("group", { i: 6 }),
      ]),
    ],
    initializers: [
      tensor({ name: "gconv.weight", dims: [6, 2, 3, 3], raw: wg }),
      tensor({ name: "dw.weight", dims: [6, 1, 3, 3], raw: wd }),
    ],
    inputs: [valueInfo("x", [2, 4, 6, 7])],
    outputs: [valueInfo("y", [2, 6, 3, 4]), valueInfo("r", [2, 6, 6, 7])],
  }));
  const onnx = decodeOnnx(bytes);
  const xs = [0, 1, 2].map((b) => {
    const x = values(2 * 4 * 6 * 7, 40 + b, 3);
    // correlated channels 0 and 1, so error compensation has work to do
    for (let i = 0; i < 42; i++) x[42 + i] = 0.8 * x[i] + 0.2 * x[42 + i];
    return x;
  });
  return {
    bytes,
    onnx,
    wg,
    wd,
    xs,
    batches: xs.map((data) => ({ x: { data, dims: [2, 4, 6, 7] } })),
  };
}

/**
 * The im2col rows of image `n`, group `g` of a `[N, C, H, W]` input for a 3x3 kernel with pads
 * 1 and `stride`: per output position (row-major), the group's channels' 3x3 patches.
 */
export function patches(
  x: Float32Array,
  dims: readonly number[],
  groups: number,
  stride: number,
  n: number,
  g: number,
): Float32Array {
  const [, c, h, w] = dims;
  const per = c / groups;
  const oh = Math.floor((h + 2 - 3) / stride) + 1;
  const ow = Math.floor((w + 2 - 3) / stride) + 1;
  const rows: number[] = [];
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      for (let ch = g * per; ch < (g + 1) * per; ch++) {
        for (let i = 0; i < 3; i++) {
          for (let j = 0; j < 3; j++) {
            const yy = oy * stride - 1 + i;
            const xx = ox * stride - 1 + j;
            const inside = yy >= 0 && yy < h && xx >= 0 && xx < w;
            rows.push(inside ? x[((n * c + ch) * h + yy) * w + xx] : 0);
          }
        }
      }
    }
  }
  return Float32Array.from(rows);
}

/** x [n, 16] -> MatMul fc1 [16, 32] -> Relu -> MatMul fc2 [32, 8] -> y. */
export function twoLayers() {
  const w1 = values(16 * 32, 1, 0.5);
  const w2 = values(32 * 8, 2, 0.5);
  const onnx = decodeOnnx(model(graph({
    nodes: [
      node("MatMul", ["x", "fc1.weight"], ["h"], "/fc1/MatMul"),
      node("Relu", ["h"], ["r"], "/act/Relu"),
      node("MatMul", ["r", "fc2.weight"], ["y"], "/fc2/MatMul"),
    ],
    initializers: [
      tensor({ name: "fc1.weight", dims: [16, 32], raw: w1 }),
      tensor({ name: "fc2.weight", dims: [32, 8], raw: w2 }),
    ],
    inputs: [valueInfo("x", ["n", 16])],
    outputs: [valueInfo("y", ["n", 8])],
  })));
  const xs = [0, 1, 2].map((b) => {
    const x = values(40 * 16, 10 + b, 2);
    for (let r = 0; r < 40; r++) x[r * 16 + 3] = x[r * 16 + 1] * 0.9 + x[r * 16 + 3] * 0.1;
    return x;
  });
  return { onnx, xs, batches: xs.map((data) => ({ x: { data, dims: [40, 16] } })) };
}
