// GPTQ rounding of tfjs kernels on their per-tensor uint8 grid (`gptqTfjsKernel`,
// `TfjsLayerHessian`, `tfjsLayerHessians`, `gptqRounding`): the second moments checked against
// tfjs's own convolutions, the rounding against round-to-nearest on the layer's outputs, and the
// whole path on the test graph model.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadGraphModel } from "@tensorflow/tfjs-converter";
import {
  compareTfjsOutputs,
  type TfjsInputSet,
  tfjsLayerHessians,
  type TfjsRuntime,
} from "../../src/compress/compare_tfjs.ts";
import { compressModel } from "../../src/compress/compress_model.ts";
import { loadModel } from "../../src/compress/load_model.ts";
import { readTfjs, tfjsWeightValues } from "../../src/io/tfjs/read_tfjs.ts";
import { type TfjsBiasSite, tfjsBiasSites } from "../../src/quantization/bias_correct_tfjs.ts";
import {
  gptqTfjsKernel,
  type TfjsConvGeometry,
  tfjsConvGeometry,
  type TfjsGrid,
  TfjsLayerHessian,
} from "../../src/quantization/gptq_tfjs.ts";
import { gptqTfjsRounding } from "../../src/compress/_tfjs_gptq.ts";
import { quantize } from "../../src/quantization/quantize.ts";
import { quantizedTfjs, tfjsUint8Grids } from "../../src/quantization/quantized_tfjs.ts";
import { graphModelFiles, tf, values } from "./_models.ts";

const runtime: TfjsRuntime = { tf, loadGraphModel: (h) => loadGraphModel(h) };

/** A smooth image-like input `[n, h, w, c]` (neighbouring pixels close, channels correlated). */
function smooth(dims: readonly number[], seed: number): Float32Array {
  const [n, h, w, c] = dims;
  const base = values(n * c * 4, seed, 0, 1);
  const noise = values(n * h * w * c, seed + 1, -0.05, 0.05);
  const out = new Float32Array(n * h * w * c);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let k = 0; k < c; k++) {
          const i = ((b * h + y) * w + x) * c + k;
          const p = base.subarray((b * c + k) * 4, (b * c + k) * 4 + 4);
          out[i] = p[0] + p[1] * Math.sin(y / h * 3 + p[2]) + p[3] * Math.cos(x / w * 2) +
            noise[i];
        }
      }
    }
  }
  return out;
}

const site = (kind: TfjsBiasSite["kind"], transposeB = false): TfjsBiasSite => ({
  node: "layer",
  kind,
  kernel: "k",
  transposeB,
  input: "x",
  channels: 0,
});

/** `Σ over positions of out_i · out_j` from tfjs's own convolution of `x` with `kernel`. */
function tfGram(
  kind: "conv" | "depthwise",
  x: Float32Array,
  dims: readonly number[],
  kernel: Float32Array,
  shape: readonly number[],
  g: TfjsConvGeometry,
): Float64Array {
  const out = tf.tidy(() => {
    const input = tf.tensor4d(x, dims as [number, number, number, number]);
    const k = tf.tensor4d(kernel, shape as [number, number, number, number]);
    const pad = g.padding === "EXPLICIT"
      ? [[0, 0], [g.explicit![0], g.explicit![1]], [g.explicit![2], g.explicit![3]], [0, 0]]
      : g.padding.toLowerCase();
    const y = kind === "conv"
      ? tf.conv2d(
        input,
        k,
        g.strides as [number, number],
        pad as "same",
        "NHWC",
        g.dilations as [number, number],
      )
      : tf.depthwiseConv2d(
        input,
        k,
        g.strides as [number, number],
        pad as "same",
        "NHWC",
        g.dilations as [number, number],
      );
    const c = y.shape[3]!;
    const flat = tf.reshape(y, [-1, c]);
    return tf.matMul(flat, flat, true, false);
  });
  const data = Float64Array.from(out.dataSync());
  out.dispose();
  return data;
}

/** `Kᵀ H K` from the accumulated moments (conv: kernel columns as output channels). */
function fromHessian(h: TfjsLayerHessian, kernel: Float32Array, shape: readonly number[]) {
  const d = h.dim;
  if (h.site.kind === "depthwise") {
    // One output channel per input channel (multiplier 1): the diagonal of the Gram matrix.
    const [, , cin] = shape;
    const diag = new Float64Array(cin);
    for (let c = 0; c < cin; c++) {
      const m = h.matrix(c);
      const w = Array.from({ length: d }, (_, t) => kernel[t * cin + c]);
      let s = 0;
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) s += w[i] * m[i * d + j] * w[j];
      diag[c] = s;
    }
    return diag;
  }
  const cout = shape[3];
  const m = h.matrix(0);
  const out = new Float64Array(cout * cout);
  for (let a = 0; a < cout; a++) {
    for (let b = 0; b < cout; b++) {
      let s = 0;
      for (let i = 0; i < d; i++) {
        for (let j = 0; j < d; j++) s += kernel[i * cout + a] * m[i * d + j] * kernel[j * cout + b];
      }
      out[a * cout + b] = s;
    }
  }
  return out;
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>, rel = 1e-4) => {
  assert.equal(a.length, b.length);
  let scale = 0;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) <= rel * scale, `${i}: ${a[i]} vs ${b[i]}`);
  }
};

const GEOMETRIES: [string, TfjsConvGeometry][] = [
  ["SAME stride 1", { strides: [1, 1], dilations: [1, 1], padding: "SAME" }],
  ["SAME stride 2 (odd size)", { strides: [2, 2], dilations: [1, 1], padding: "SAME" }],
  ["VALID stride [1, 2]", { strides: [1, 2], dilations: [1, 1], padding: "VALID" }],
  ["SAME dilation 2", { strides: [1, 1], dilations: [2, 2], padding: "SAME" }],
  ["EXPLICIT", { strides: [2, 1], dilations: [1, 1], padding: "EXPLICIT", explicit: [1, 0, 2, 1] }],
];

test("TfjsLayerHessian: conv patches as tfjs's conv2d walks them (padding, strides, dilations)", () => {
  // 8 rows at stride 2: padding 1, all of it at the bottom (SAME puts the odd one there).
  const dims = [2, 8, 9, 3];
  const x = smooth(dims, 3);
  const shape = [3, 3, 3, 4];
  const kernel = values(3 * 3 * 3 * 4, 11, -1, 1);
  for (const [, g] of GEOMETRIES) {
    const h = new TfjsLayerHessian(site("conv"), shape, g);
    h.add(x, dims);
    close(fromHessian(h, kernel, shape), tfGram("conv", x, dims, kernel, shape, g));
  }
});

test("TfjsLayerHessian: depthwise patches per channel as tfjs's depthwiseConv2d walks them", () => {
  const dims = [1, 8, 7, 5];
  const x = smooth(dims, 21);
  const shape = [3, 3, 5, 1];
  const kernel = values(45, 5, -1, 1);
  for (const [label, g] of GEOMETRIES) {
    // tfjs's depthwiseConv2d takes no explicit padding.
    if (label === "EXPLICIT") continue;
    const h = new TfjsLayerHessian(site("depthwise"), shape, g);
    h.add(x, dims);
    const gram = tfGram("depthwise", x, dims, kernel, shape, g);
    const diag = Float64Array.from({ length: 5 }, (_, c) => gram[c * 5 + c]);
    close(fromHessian(h, kernel, shape), diag);
  }
});

test("TfjsLayerHessian: a MatMul's input rows; wrong channels are a RangeError", () => {
  const h = new TfjsLayerHessian(site("matmul"), [3, 2]);
  h.add(Float32Array.of(1, 2, 3, 0, -1, 2), [2, 3]);
  assert.equal(h.count, 2);
  assert.deepEqual([...h.matrix()], [1, 2, 3, 2, 5, 4, 3, 4, 13]);
  assert.throws(() => h.add(new Float32Array(4), [2, 2]), /has 2 features: the kernel reads 3/);
  const c = new TfjsLayerHessian(site("conv"), [1, 1, 3, 2], GEOMETRIES[0][1]);
  assert.throws(() => c.add(new Float32Array(8), [1, 2, 2, 2]), /NHWC with 3 channels/);
  assert.throws(() => new TfjsLayerHessian(site("conv"), [1, 1, 3, 2]), /needs its geometry/);
});

test("tfjsConvGeometry: reads strides, dilations and padding from the node", () => {
  const f = graphModelFiles();
  const model = readTfjs(f.get("model.json")!, f);
  const sites = tfjsBiasSites(model);
  for (const s of sites) {
    const g = tfjsConvGeometry(model, s);
    if (s.kind === "matmul") assert.equal(g, undefined);
    else {
      assert.ok(g !== undefined, s.node);
      assert.ok(g.padding === "SAME" || g.padding === "VALID");
      assert.equal(g.strides.length, 2);
    }
  }
});

/** A grid of `2^bits` levels over [lo, hi] as tfjs decodes it. */
function grid(lo: number, hi: number, bits = 8): TfjsGrid {
  const n = 2 ** bits;
  const scale = (hi - lo) / (n - 1);
  return {
    min: lo,
    scale,
    levels: Float32Array.from({ length: n }, (_, k) => k * scale + lo),
  };
}

/** `Σ δᵀ H δ` over output channels for a conv or MatMul kernel (`[D, out]`). */
function outputError(h: TfjsLayerHessian, kernel: Float32Array, q: Float32Array, out: number) {
  const d = h.dim;
  const m = h.matrix(0);
  let s = 0;
  for (let r = 0; r < out; r++) {
    for (let i = 0; i < d; i++) {
      const di = q[i * out + r] - kernel[i * out + r];
      for (let j = 0; j < d; j++) s += di * m[i * d + j] * (q[j * out + r] - kernel[j * out + r]);
    }
  }
  return s;
}

test("gptqTfjsKernel: on the grid, and a smaller output error than nearest rounding (conv, depthwise, MatMul)", () => {
  const dims = [2, 10, 10, 6];
  const x = smooth(dims, 7);
  const g = GEOMETRIES[0][1];
  // conv 3x3, 6 -> 8: a coarse 4-bit grid so the rounding matters.
  const shape = [3, 3, 6, 8];
  const kernel = values(3 * 3 * 6 * 8, 9, -0.5, 0.5);
  const h = new TfjsLayerHessian(site("conv"), shape, g);
  h.add(x, dims);
  const gr = grid(-0.5, 0.5, 4);
  const q = gptqTfjsKernel(h, kernel, gr);
  const levels = new Set(gr.levels);
  assert.ok(q.every((v) => levels.has(v)));
  const nearest = Float32Array.from(kernel, (v) => gr.levels[Math.round((v - gr.min) / gr.scale)]);
  const e = outputError(h, kernel, q, 8);
  const e0 = outputError(h, kernel, nearest, 8);
  assert.ok(e < 0.5 * e0, `${e} vs ${e0}`);

  // Depthwise 3x3 over 6 channels: each channel's output on the inputs moves less.
  const dshape = [3, 3, 6, 1];
  const dk = values(54, 13, -0.5, 0.5);
  const dh = new TfjsLayerHessian(site("depthwise"), dshape, g);
  dh.add(x, dims);
  const dq = gptqTfjsKernel(dh, dk, gr);
  assert.ok(dq.every((v) => levels.has(v)));
  const dn = Float32Array.from(dk, (v) => gr.levels[Math.round((v - gr.min) / gr.scale)]);
  const moved = (k: Float32Array) => {
    const gram = tfGram("depthwise", x, dims, Float32Array.from(k, (v, i) => v - dk[i]), dshape, g);
    return Array.from({ length: 6 }, (_, c) => gram[c * 6 + c]).reduce((a, b) => a + b, 0);
  };
  assert.ok(moved(dq) < 0.5 * moved(dn), `${moved(dq)} vs ${moved(dn)}`);

  // MatMul with transpose_b ([out, in]) and without ([in, out]): the same rounding.
  const rowsX = values(40 * 5, 17, 0, 1);
  for (let i = 0; i < 40; i++) rowsX[i * 5 + 1] = rowsX[i * 5] + 0.01 * rowsX[i * 5 + 2];
  const plain = new TfjsLayerHessian(site("matmul"), [5, 3]);
  plain.add(rowsX, [40, 5]);
  const wt = values(15, 19, -0.5, 0.5); // [in 5, out 3]
  const qa = gptqTfjsKernel(plain, wt, gr);
  const tb = new TfjsLayerHessian(site("matmul", true), [3, 5]);
  tb.add(rowsX, [40, 5]);
  const wtT = Float32Array.from({ length: 15 }, (_, i) => wt[(i % 5) * 3 + Math.floor(i / 5)]);
  const qb = gptqTfjsKernel(tb, wtT, gr);
  for (let i = 0; i < 15; i++) assert.equal(qb[i], qa[(i % 5) * 3 + Math.floor(i / 5)]);
});

test("gptqTfjsKernel: inputs never seen leave nearest rounding; all-zero inputs too", () => {
  const h = new TfjsLayerHessian(site("matmul"), [3, 2]);
  h.add(new Float32Array(6), [2, 3]);
  const gr = grid(-1, 1, 3);
  const w = Float32Array.of(0.1, -0.3, 0.52, 0.9, -0.95, 0.2);
  const q = gptqTfjsKernel(h, w, gr);
  const nearest = Float32Array.from(w, (v) => gr.levels[Math.round((v - gr.min) / gr.scale)]);
  assert.deepEqual([...q], [...nearest]);
});

/** Input sets for the test graph model's `x` [n, 6, 6, 3]. */
function sets(count: number, seed: number): TfjsInputSet[] {
  return Array.from({ length: count }, (_, k) => [{
    data: smooth([4, 6, 6, 3], seed + k),
    dims: [4, 6, 6, 3],
  }]);
}

test("tfjsLayerHessians: every layer's input counted from tfjs runs of the model", async () => {
  const f = graphModelFiles();
  const model = readTfjs(f.get("model.json")!, f);
  const hs = tfjsBiasSites(model).map((s) =>
    new TfjsLayerHessian(
      s,
      model.weights.find((w) => w.spec.name === s.kernel)!.spec.shape,
      tfjsConvGeometry(model, s),
    )
  );
  await tfjsLayerHessians(runtime, f, sets(2, 5), hs);
  for (const h of hs) assert.ok(h.count > 0, h.site.node);
  // The first layer reads the model input itself: its moments are those of the inputs' patches.
  const first = hs.find((h) => h.site.input === "x")!;
  const direct = new TfjsLayerHessian(first.site, first.shape, first.geometry);
  for (const [s] of sets(2, 5)) direct.add(s.data as Float32Array, s.dims);
  close(first.matrix(), direct.matrix(), 1e-6);
  await assert.rejects(tfjsLayerHessians(runtime, f, [], hs), /at least one input set/);
});

test("compressModel gptqRounding: the same grids and sizes, other codes, outputs kept; needs inputs", async () => {
  const f = graphModelFiles();
  const load = () => loadModel(f.get("model.json")!, "model.json", f);
  const config = [{
    op_types: ["Conv2d", "Linear"],
    target_names: ["weight"],
    quant_dtype: "uint8",
    quant_scheme: "affine",
  }];
  const calibration = sets(3, 40);
  const base = await compressModel(load(), {
    mode: "quantization",
    configList: config,
    headroom: 0,
  });
  const r = await compressModel(load(), {
    mode: "quantization",
    configList: config,
    headroom: 0,
    tfjsRuntime: runtime,
    tfjsInputs: calibration,
    gptqRounding: true,
  });
  assert.match(
    r.report.warnings.join("\n"),
    /GPTQ rounding: [1-9]\d* uint8 kernel\(s\) rounded .* on 3 input set\(s\)/,
  );
  const json = (files: ReadonlyMap<string, Uint8Array>) =>
    JSON.parse(new TextDecoder().decode(files.get("model.json")!));
  // The manifests are the same: every grid (min, scale), dtype and size.
  assert.deepEqual(json(r.files!).weightsManifest, json(base.files!).weightsManifest);
  const a = readTfjs(r.files!.get("model.json")!, r.files!);
  const b = readTfjs(base.files!.get("model.json")!, base.files!);
  let differ = 0;
  for (const w of a.weights) {
    const x = tfjsWeightValues(w);
    const y = tfjsWeightValues(b.weights.find((v) => v.spec.name === w.spec.name)!);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) differ++;
  }
  assert.ok(differ > 0);
  const cmp = await compareTfjsOutputs(runtime, r.files!, f, { inputs: sets(2, 90) });
  for (const c of cmp) assert.ok(c.cosine > 0.99, `${c.name}: ${c.cosine}`);
  await assert.rejects(
    compressModel(load(), { mode: "quantization", configList: config, gptqRounding: true }),
    /"gptqRounding" needs "tfjsRuntime" and "tfjsInputs"/,
  );
  await assert.rejects(
    compressModel(load(), {
      mode: "pruning",
      configList: [{ op_types: ["Conv2d"], sparse_ratio: 0.5 }],
      gptqRounding: true,
    }),
    /"gptqRounding" rounds the kernels of quantized TensorFlow.js models/,
  );
});

/** The test graph model's view and its uint8 quantization (NNI's parameters). */
async function quantizedTestModel() {
  const f = graphModelFiles();
  const view = loadModel(f.get("model.json")!, "model.json", f);
  if (view.format !== "tfjs") throw new Error("a tfjs model");
  const result = await quantize(view.graph, [{
    op_types: ["Conv2d", "Linear"],
    target_names: ["weight"],
    quant_dtype: "uint8",
    quant_scheme: "affine",
  }]);
  return { view, result };
}

test("quantizedTfjs rounded: values on the target's grid are written as its codes; values off it are not used", async () => {
  const { view, result } = await quantizedTestModel();
  const grids = await tfjsUint8Grids(view.tfjs, view.graph, result.params);
  assert.ok(grids.size > 0);
  const [name, { grid, values: original }] = [...grids][0];
  // Every value one code up from nearest (clamped): on the grid, so written as these codes.
  const up = Float32Array.from(original, (v) => {
    const k = Math.min(grid.levels.length - 1, Math.round((v - grid.min) / grid.scale) + 1);
    return grid.levels[k];
  });
  const out = await quantizedTfjs(view.tfjs, view.graph, result.params, {
    rounded: new Map([[name, up]]),
  });
  assert.deepEqual(out.gptqRounded, [name]);
  const read = readTfjs(out.modelJson, out.shards);
  assert.deepEqual([...tfjsWeightValues(read.weights.find((w) => w.spec.name === name)!)], [...up]);
  // Off the grid: nearest rounding as without.
  const off = Float32Array.from(up, (v) => v + grid.scale / 3);
  const plain = await quantizedTfjs(view.tfjs, view.graph, result.params);
  const ignored = await quantizedTfjs(view.tfjs, view.graph, result.params, {
    rounded: new Map([[name, off]]),
  });
  assert.deepEqual(ignored.gptqRounded, []);
  assert.deepEqual([...ignored.shards.values()], [...plain.shards.values()]);
});

test("gptqTfjsRounding: kernels with more inputs per output than the cap are left to nearest rounding and named", async () => {
  const { view, result } = await quantizedTestModel();
  const targets = await tfjsUint8Grids(view.tfjs, view.graph, result.params);
  const all = await gptqTfjsRounding(runtime, view.tfjs, graphModelFiles(), targets, sets(2, 3));
  assert.deepEqual(all.tooWide, []);
  assert.ok(all.rounded.size > 1);
  const inputsPerOutput = (s: TfjsBiasSite) => {
    const shape = view.tfjs.weights.find((w) => w.spec.name === s.kernel)!.spec.shape;
    return s.kind === "matmul"
      ? shape[s.transposeB ? 1 : 0]
      : s.kind === "depthwise"
      ? shape[0] * shape[1]
      : shape[0] * shape[1] * shape[2];
  };
  const sites = tfjsBiasSites(view.tfjs).filter((s) => all.rounded.has(s.kernel));
  const cap = Math.min(...sites.map(inputsPerOutput));
  const capped = await gptqTfjsRounding(
    runtime,
    view.tfjs,
    graphModelFiles(),
    targets,
    sets(2, 3),
    cap,
  );
  const wide = sites.filter((s) => inputsPerOutput(s) > cap).map((s) => s.kernel);
  assert.ok(wide.length > 0);
  assert.deepEqual(capped.tooWide, wide);
  assert.deepEqual(
    [...capped.rounded.keys()],
    sites.filter((s) => !wide.includes(s.kernel)).map((s) => s.kernel),
  );
});

test("TfjsLayerHessian: an unbatched [h, w, c] input counts as one image", () => {
  const g: TfjsConvGeometry = { strides: [1, 1], dilations: [1, 1], padding: "SAME" };
  const x = smooth([1, 5, 5, 2], 8);
  const a = new TfjsLayerHessian(site("conv"), [3, 3, 2, 1], g);
  const b = new TfjsLayerHessian(site("conv"), [3, 3, 2, 1], g);
  a.add(x, [1, 5, 5, 2]);
  b.add(x, [5, 5, 2]);
  assert.deepEqual([...b.matrix()], [...a.matrix()]);
  assert.equal(b.count, 25);
});

test("gptqTfjsKernel with channel scales: the rounding of the kernel divided by them, times them (conv, depthwise, MatMul)", () => {
  const dims = [2, 8, 8, 4];
  const x = smooth(dims, 21);
  const g = GEOMETRIES[0][1];
  const levels = Float32Array.from({ length: 15 }, (_, k) => k - 7);
  const base: TfjsGrid = { min: -7, scale: 1, levels };
  const cases: [TfjsBiasSite, number[], number][] = [
    [site("conv"), [3, 3, 4, 6], 6],
    [site("depthwise"), [3, 3, 4, 2], 8],
    [site("matmul", true), [6, 4], 6],
  ];
  for (const [s, shape, channels] of cases) {
    const h = new TfjsLayerHessian(s, shape, s.kind === "matmul" ? undefined : g);
    if (s.kind === "matmul") h.add(values(30 * 4, 23, 0, 1), [30, 4]);
    else h.add(x, dims);
    const n = shape.reduce((a, b) => a * b, 1);
    const scales = values(channels, 29, 0.01, 0.05);
    const kernel = values(n, 31, -0.3, 0.3);
    const at = (i: number) => s.kind === "matmul" ? Math.floor(i / (n / channels)) : i % channels;
    const scaled = gptqTfjsKernel(h, kernel, { ...base, channelScales: scales });
    const divided = gptqTfjsKernel(h, kernel.map((v, i) => v / scales[at(i)]), base);
    for (let i = 0; i < n; i++) {
      assert.equal(scaled[i], Math.fround(divided[i] * scales[at(i)]), `${s.kind}[${i}]`);
    }
    // Not every weight went to its nearest level: the rounding carried errors.
    const nearest = kernel.map((v, i) =>
      Math.max(-7, Math.min(7, Math.round(v / scales[at(i)]))) * scales[at(i)]
    );
    assert.ok(scaled.some((v, i) => v !== nearest[i]), s.kind);
  }
});
