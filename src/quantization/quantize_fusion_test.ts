import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../config/config_error.ts";
import { resolveTargetSettings } from "../config/resolve_target_settings.ts";
import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
import { safetensorsModel } from "../model/safetensors_model.ts";
import { fakeQuantize } from "./fake_quantize.ts";
import { foldBatchNorm } from "./fold_batch_norm.ts";
import { quantize } from "./quantize.ts";
import { readQuantizedSafetensors } from "./quantized_safetensors.ts";

const W = Float32Array.of(0.5, -1, 0.25, 2, -0.75, 1.5);
const BN = {
  gamma: Float32Array.of(1.5, -0.5),
  beta: Float32Array.of(0.1, 0.2),
  mean: Float32Array.of(0.3, -0.4),
  variance: Float32Array.of(0.8, 2),
};

/** conv [2, 3, 1, 1] without bias → bn (with num_batches_tracked) → fc. */
function file() {
  const f32 = (name: string, shape: number[], data: Float32Array) => ({
    name,
    dtype: "F32" as const,
    shape,
    data,
  });
  return readSafetensors(writeSafetensors([
    f32("conv.weight", [2, 3, 1, 1], W),
    f32("bn.weight", [2], BN.gamma),
    f32("bn.bias", [2], BN.beta),
    f32("bn.running_mean", [2], BN.mean),
    f32("bn.running_var", [2], BN.variance),
    { name: "bn.num_batches_tracked", dtype: "I64", shape: [], data: new BigInt64Array(1) },
    f32("fc.weight", [1, 2], Float32Array.of(1, 2)),
  ], { metadata: { source: "test" } }));
}

const CONFIG = [{
  op_types: ["Conv2d"],
  target_names: ["weight", "bias"],
  quant_dtype: "int8",
  granularity: "out_channel",
  fuse_names: [["conv", "bn"]],
}];

test("quantize folds a BatchNorm into a safetensors conv and quantizes the folded weight", async () => {
  const source = file();
  const result = await quantize(safetensorsModel(source), CONFIG);
  const folded = foldBatchNorm(W, [2, 3, 1, 1], undefined, { ...BN, eps: 1e-5 });
  const weight = result.params.find((p) => p.target === "weight")!;
  assert.deepEqual(
    [...weight.trackedMax],
    [0.5, 2].map((_, c) => Math.max(0, ...folded.weight.slice(3 * c, 3 * c + 3))),
  );
  assert.deepEqual(result.report.fused, [{
    path: "[0].fuse_names[0]",
    modules: ["conv", "bn"],
    folded: true,
  }]);
  assert.deepEqual([...result.report.droppedTensors].sort(), [
    "bn.bias",
    "bn.num_batches_tracked",
    "bn.running_mean",
    "bn.running_var",
    "bn.weight",
  ]);
  const saved = readSafetensors(await result.save());
  assert.deepEqual(saved.tensors.map((t) => t.name).sort(), [
    "conv.bias",
    "conv.weight",
    "fc.weight",
  ]);
  const read = (name: string) =>
    new Float32Array(saved.tensors.find((t) => t.name === name)!.data.slice().buffer);
  assert.equal(saved.metadata.source, "test");
  assert.deepEqual(JSON.parse(saved.metadata["nncompress.fused"]), {
    groups: [["conv", "bn"]],
    dropped: result.report.droppedTensors,
  });
  assert.deepEqual([...read("conv.weight")], [
    ...fakeQuantize(folded.weight, [2, 3, 1, 1], weight),
  ]);
  const bias = result.params.find((p) => p.target === "bias")!;
  assert.deepEqual([...read("conv.bias")], [...fakeQuantize(folded.bias, [2], bias)]);
});

test("integer safetensors of a fused model hold the folded codes and list the fusion in metadata", async () => {
  const result = await quantize(safetensorsModel(file()), CONFIG);
  const bytes = await result.save("int");
  const q = readQuantizedSafetensors(bytes);
  assert.deepEqual(q.quantized.map((t) => t.name).sort(), ["conv.bias", "conv.weight"]);
  assert.deepEqual(q.others, ["fc.weight"]);
  const meta = readSafetensors(bytes).metadata;
  assert.equal(JSON.parse(meta["nncompress.fused"]).groups[0][1], "bn");
});

test("quantize uses batchNormEpsilon for safetensors BatchNorms", async () => {
  const a = await quantize(safetensorsModel(file()), CONFIG);
  const b = await quantize(safetensorsModel(file()), CONFIG, { batchNormEpsilon: 0.2 });
  const max = (r: typeof a) => r.params[0].trackedMax[0];
  const f = (eps: number) => foldBatchNorm(W, [2, 3, 1, 1], undefined, { ...BN, eps }).weight;
  assert.equal(max(a), Math.max(...f(1e-5).slice(0, 3)));
  assert.equal(max(b), Math.max(...f(0.2).slice(0, 3)));
});

test("quantize rejects an unsupported fusion group with its config path and module names", async () => {
  await assert.rejects(
    quantize(safetensorsModel(file()), [{
      ...CONFIG[0],
      target_names: ["weight"],
      fuse_names: [["conv", "fc"]],
    }]),
    (e: Error) =>
      e instanceof ConfigError && e.issues[0].path === "[0].fuse_names[0]" &&
      /\["conv","fc"\]: module types \(Conv2d, Linear\) cannot be fused/.test(e.message),
  );
});

test("fuse_names in a pruning config list is an error", () => {
  const modules = [{ name: "conv", type: "Conv2d", params: { weight: [2, 3, 1, 1] } }];
  assert.throws(
    () =>
      resolveTargetSettings(modules, [{
        op_names: ["conv"],
        sparse_ratio: 0.5,
        fuse_names: [["conv", "bn"]],
      }], "pruning"),
    (e: Error) => e instanceof ConfigError && /fuse_names/.test(e.message),
  );
});
