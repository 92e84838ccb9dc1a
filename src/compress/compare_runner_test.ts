import { test } from "node:test";
import assert from "node:assert/strict";
import { compareRunnerOutputs, type RunnerWeight, tfjsRunnerWeights } from "./compare_runner.ts";
import { readTfjs } from "../io/tfjs/read_tfjs.ts";

const weightsOf = (w: number[]) =>
  new Map<string, RunnerWeight>([
    ["w", { dtype: "float32", shape: [w.length], values: new Float32Array(w) }],
  ]);
const W = weightsOf([1, 2]);
const V = weightsOf([1, 2.5]);

test("compareRunnerOutputs: every form of output, named in order, measured against the reference", async () => {
  // One output per form; each depends on w[1], so the compressed run differs from the original.
  const run = (weights: ReadonlyMap<string, RunnerWeight>) => {
    const w = weights.get("w")!.values;
    const v = [w[0] + w[1], w[0] - w[1], 3 * w[1], 1, 2, w[1]];
    return new Map<string, unknown>([
      ["typed", Float64Array.from(v)],
      ["plain", v],
      ["dims", { dims: [2, 3], data: v }],
      ["shape", { shape: [3, 2], data: new Float32Array(v) }],
      ["tensor", { shape: [6], dataSync: () => Int32Array.from(v.map(Math.round)) }],
    ]);
  };
  const out = await compareRunnerOutputs(run, V, W);
  assert.deepEqual(out.map((o) => o.name), ["typed", "plain", "dims", "shape", "tensor"]);
  assert.deepEqual(out.map((o) => o.dims), [[6], [6], [2, 3], [3, 2], [6]]);
  // The values as computed by hand: reference [3, -1, 6, 1, 2, 2], model [3.5, -1.5, 7.5, 1, 2, 2.5].
  const typed = out[0];
  assert.equal(typed.maxAbsDiff, 1.5);
  assert.equal(typed.meanAbsDiff, 3 / 6);
  const ref = [3, -1, 6, 1, 2, 2];
  const model = [3.5, -1.5, 7.5, 1, 2, 2.5];
  const dot = ref.reduce((s, r, i) => s + r * model[i], 0);
  const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(typed.cosine - dot / (norm(ref) * norm(model))) < 1e-6);
  assert.deepEqual(out[1], { ...typed, name: "plain" });
  // [2, 3]: two rows; the first keeps its argmax (2), the second moves from 1 (a tie with 2,
  // the lower wins) to 2.
  assert.deepEqual(out[2].argmax, { axis: 1, same: 1, total: 2 });
  // The same weights: identical outputs.
  const same = await compareRunnerOutputs(run, W, W);
  assert.ok(same.every((o) => o.maxAbsDiff === 0 && o.cosine === 1));
});

test("compareRunnerOutputs: a single output, a list, an async runner; weights passed as given", async () => {
  const seen: ReadonlyMap<string, RunnerWeight>[] = [];
  const one = await compareRunnerOutputs(
    (w) => {
      seen.push(w);
      return new Float32Array([w.get("w")!.values[1], 1]);
    },
    V,
    W,
  );
  assert.deepEqual(one.map((o) => [o.name, o.maxAbsDiff]), [["output", 0.5]]);
  // The reference runs first, then the compressed weights.
  assert.deepEqual(seen, [W, V]);
  const list = await compareRunnerOutputs(
    async (w) => {
      await Promise.resolve();
      return [[w.get("w")!.values[0]], { dims: [1, 2], data: [0, w.get("w")!.values[1]] }];
    },
    V,
    W,
  );
  assert.deepEqual(list.map((o) => o.name), ["output_0", "output_1"]);
  assert.deepEqual(list.map((o) => o.maxAbsDiff), [0, 0.5]);
});

test("compareRunnerOutputs: runs that differ, fail or return no outputs are errors that say so", async () => {
  await assert.rejects(
    compareRunnerOutputs((w) => (w === W ? { a: [1] } : { b: [1] }), V, W),
    /other outputs on the compressed weights \(b\) than on the original ones \(a\)/,
  );
  await assert.rejects(
    compareRunnerOutputs((w) => ({ y: w === W ? [1, 2] : [1] }), V, W),
    /output "y" has 1 values on the compressed weights and 2 on the original ones/,
  );
  await assert.rejects(
    compareRunnerOutputs(
      (w) => {
        if (w === V) throw new Error("no such layer");
        return [1];
      },
      V,
      W,
    ),
    /the runner failed on the compressed weights: no such layer/,
  );
  await assert.rejects(compareRunnerOutputs(() => null, V, W), /returned null/);
  await assert.rejects(compareRunnerOutputs(() => 3, V, W), /returned number/);
  await assert.rejects(compareRunnerOutputs(() => ({}), V, W), /returned no outputs/);
  await assert.rejects(
    compareRunnerOutputs(() => ({ y: "text" }), V, W),
    /output "y" of the runner on the original weights is not an array of numbers/,
  );
  await assert.rejects(
    compareRunnerOutputs(() => ({ y: { dims: [2, 2], data: [1, 2, 3] } }), V, W),
    /output "y" .*dims \[2, 2\] hold 4 values but it has 3/,
  );
});

test("tfjsRunnerWeights: values as tfjs decodes them, uint8 codes dequantized to float32", () => {
  const manifest = [{
    paths: ["g.bin"],
    weights: [
      { name: "a/kernel", shape: [2, 2], dtype: "float32" },
      {
        name: "b/kernel",
        shape: [3],
        dtype: "float32",
        quantization: { dtype: "uint8", min: -1, scale: 0.5, original_dtype: "float32" },
      },
      { name: "c/ids", shape: [2], dtype: "int32" },
    ],
  }];
  const bytes = new Uint8Array(16 + 3 + 8);
  bytes.set(new Uint8Array(new Float32Array([1, -2, 3.5, 0]).buffer), 0);
  bytes.set([0, 2, 5], 16);
  // Int32 values from byte 19: tfjs packs weights back to back, at any offset.
  new DataView(bytes.buffer).setInt32(19, 7, true);
  new DataView(bytes.buffer).setInt32(23, -3, true);
  const model = readTfjs(JSON.stringify(manifest), new Map([["g.bin", bytes]]));
  const w = tfjsRunnerWeights(model);
  assert.deepEqual([...w.keys()], ["a/kernel", "b/kernel", "c/ids"]);
  assert.deepEqual(w.get("a/kernel"), {
    dtype: "float32",
    shape: [2, 2],
    values: new Float32Array([1, -2, 3.5, 0]),
  });
  assert.deepEqual(w.get("b/kernel"), {
    dtype: "float32",
    shape: [3],
    values: new Float32Array([-1, 0, 1.5]),
  });
  assert.deepEqual(w.get("c/ids"), { dtype: "int32", shape: [2], values: new Int32Array([7, -3]) });
});
