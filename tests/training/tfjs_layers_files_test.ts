// A tfjs layers model loaded from its model.json + shards, pruned during training (AGP with
// distillation from the loaded original), written back into the same files with
// `tfjsLayersFiles`, and loaded again by the unchanged tfjs runtime.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readTfjs, tfjsWeightValues } from "../../src/io/tfjs/read_tfjs.ts";
import { tfjsMemoryHandler } from "../../src/compress/compare_tfjs.ts";
import type { TfjsModel } from "../../src/io/tfjs/tfjs_types.ts";
import {
  createDistiller,
  createQuantizer,
  createTrainingPruner,
  describeTfModel,
  predict,
  tfjsLayersFiles,
  trainStep,
} from "../../src/training/mod.ts";
import {
  type Files,
  layersModelFiles,
  nestedModelFiles,
  recurrentModelFiles,
  savedFiles,
  storedAs,
  tf,
  tfl,
} from "../tfjs/_models.ts";
import { tfjsModel } from "../../src/model/tfjs_model.ts";
import { prune } from "../../src/pruning/prune.ts";
import { prunedTfjs } from "../../src/pruning/pruned_tfjs.ts";
import { DistillationError } from "../../src/distillation/distillation_error.ts";
import { QuantizationError } from "../../src/quantization/quantization_error.ts";
import { randomArray } from "./_tf.ts";

async function load(files: ReadonlyMap<string, Uint8Array>): Promise<tfl.LayersModel> {
  return await tfl.loadLayersModel(tfjsMemoryHandler(tf, files));
}

const all = (out: { modelJson: Uint8Array; shards: ReadonlyMap<string, Uint8Array> }): Files =>
  new Map([["model.json", out.modelJson], ...out.shards]);

const weight = (m: TfjsModel, name: string) => m.weights.find((w) => w.spec.name === name)!;

const x = tf.tensor(randomArray(4 * 8 * 8 * 3, 5), [4, 8, 8, 3]);

for (const storage of ["float32", "uint8", "float16"] as const) {
  test(`a loaded ${storage} layers model pruned with AGP and distillation saves back into its files`, async () => {
    const files = storage === "float32"
      ? await layersModelFiles()
      : storedAs(await layersModelFiles(), storage);
    const original = readTfjs(files.get("model.json")!, files);
    const teacher = describeTfModel(await load(files));
    const student = describeTfModel(await load(files));
    const pruner = createTrainingPruner(
      student,
      [{ op_types: ["Linear", "Conv2d"], sparse_ratio: 0.5 }],
      { schedule: "agp", totalTimes: 3, intervalSteps: 1 },
    );
    const distiller = createDistiller(student, teacher, [{
      op_names: ["fc2"],
      apply_method: "mse",
    }]);
    const optimizer = tf.train.adam(1e-3);
    for (let i = 0; i < 4; i++) {
      trainStep(student, {
        optimizer,
        x,
        parts: [pruner, distiller],
        loss: () => tf.scalar(0),
      });
    }
    const masks = pruner.masks();
    const out = tfjsLayersFiles(student, original, { masks, shardBytes: 1024 });
    const back = readTfjs(out.modelJson, out.shards);

    // The same weights, names and order; each keeps the storage it was loaded with.
    assert.deepEqual(
      back.weights.map((w) => [w.spec.name, w.spec.shape, w.spec.quantization?.dtype]),
      original.weights.map((w) => [w.spec.name, w.spec.shape, w.spec.quantization?.dtype]),
    );
    assert.ok(out.shards.size > 1, "shards of 1 kB");
    // Half of fc1's kernel [flat, 16] is zero, stored exactly (uint8 grids keep 0 as a code).
    const fc1 = tfjsWeightValues(weight(back, "fc1/kernel")) as Float32Array;
    const zeros = fc1.filter((v) => v === 0).length;
    assert.equal(zeros, fc1.length / 2, `${zeros} of ${fc1.length}`);

    // The unchanged tfjs runtime loads the files and computes what the pruned student computes.
    const reloaded = await load(all(out));
    const want = predict(student, x, [pruner]) as tf.Tensor;
    const got = reloaded.predict(x) as tf.Tensor;
    const [a, b] = [got.dataSync(), want.dataSync()];
    let num = 0, den = 0;
    for (let i = 0; i < a.length; i++) {
      num += (a[i] - b[i]) ** 2;
      den += b[i] ** 2;
    }
    const bound = storage === "uint8" ? 5e-2 : storage === "float16" ? 5e-3 : 1e-6;
    assert.ok(Math.sqrt(num / den) < bound, `relative error ${Math.sqrt(num / den)}`);
    tf.dispose([want, got]);
    reloaded.dispose();
  });
}

test("recurrent layers and wrappers: the training view is the file's view; pruned with AGP and distilled on their outputs, saved back, tfjs runs it", async () => {
  const files = await recurrentModelFiles();
  const original = readTfjs(files.get("model.json")!, files);
  const student = describeTfModel(await load(files));
  // The same modules, types and parameter shapes as the module view of the files.
  const shapes = (ms: readonly { name: string; type: string; params?: object }[]) =>
    ms.map((m) => [m.name, m.type, JSON.stringify(m.params)]);
  const fileView = tfjsModel(original).modules.map((m) => ({
    name: m.name,
    type: m.type,
    params: Object.fromEntries(Object.entries(m.params).map(([k, r]) => [k, [...r.shape]])),
  }));
  // (The training view also has the modules without parameters: the Bidirectional wrapper
  // itself, for targets on its output.)
  const withParams = student.modules.filter((m) => Object.keys(m.params ?? {}).length > 0);
  assert.deepEqual(shapes(withParams), shapes(fileView));
  assert.ok(student.modules.some((m) => m.name === "bi" && m.type === "Bidirectional"));
  assert.ok(student.modules.some((m) => m.name === "stack" && m.type === "RNN"));
  // A param's values in PyTorch layout are the same in both views.
  const gru = student.params.find((p) => p.module === "gru" && p.name === "weight_ih")!;
  const seen = await tfjsModel(original).modules.find((m) => m.name === "gru")!.params.weight_ih
    .data();
  assert.deepEqual([...gru.toTorch(student.value(gru).dataSync() as Float32Array)], [...seen]);

  const pruner = createTrainingPruner(
    student,
    [{
      op_types: ["LSTM", "GRU", "RNN"],
      target_names: ["weight_ih", "weight_hh"],
      sparse_ratio: 0.5,
    }],
    { schedule: "agp", totalTimes: 2, intervalSteps: 1 },
  );
  // Distilled on the outputs of the wrapper, a direction, the TimeDistributed and the GRU
  // layers (recurrent layers run inside scopes that disposed a plain capture).
  const teacher = describeTfModel(await load(files));
  const distiller = createDistiller(student, teacher, [{
    op_names: ["bi", "bi.backward_lstm", "td", "gru", "stack"],
    apply_method: "mse",
  }]);
  // A cell of the stack runs inside its layer: its inputs and outputs are no targets.
  assert.throws(
    () => createDistiller(student, teacher, [{ op_names: ["stack.RNNCell_0"] }]),
    (e: Error) => e instanceof DistillationError && /no layer of its own/.test(e.message),
  );
  assert.throws(
    () =>
      createQuantizer(student, [{
        op_names: ["stack.RNNCell_1"],
        target_names: ["_output_0"],
        quant_dtype: "int8",
      }], { registry: { quantization: { RNN: { _output_0: {} } } } }),
    (e: Error) => e instanceof QuantizationError && /no layer of its own/.test(e.message),
  );
  const xs = tf.tensor(randomArray(3 * 10 * 8, 9), [3, 10, 8]);
  const optimizer = tf.train.adam(1e-3);
  const tensors: number[] = [];
  for (let i = 0; i < 3; i++) {
    tensors.push(tf.memory().numTensors);
    trainStep(student, {
      optimizer,
      x: xs,
      parts: [pruner, distiller],
      loss: (out) => tf.mean(tf.square(out as tf.Tensor)) as tf.Scalar,
    });
  }
  // Pruned from the first step, the student moved away from the teacher; nothing leaked.
  assert.ok(distiller.lastLoss > 0 && Number.isFinite(distiller.lastLoss), `${distiller.lastLoss}`);
  assert.equal(tensors[2], tensors[1]);
  const out = tfjsLayersFiles(student, original, { masks: pruner.masks() });
  const back = readTfjs(out.modelJson, out.shards);
  for (
    const name of [
      "bi/backward_lstm/recurrent_kernel",
      "gru/kernel",
      "stack/RNNCell_1/recurrent_kernel",
      "srnn/kernel",
    ]
  ) {
    const v = tfjsWeightValues(weight(back, name)) as Float32Array;
    assert.equal(v.filter((x) => x === 0).length, Math.floor(v.length / 2), name);
  }
  const reloaded = await load(all(out));
  const want = predict(student, xs, [pruner]) as tf.Tensor;
  const got = reloaded.predict(xs) as tf.Tensor;
  const [a, b] = [got.dataSync(), want.dataSync()];
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `${a[i]} ${b[i]}`);
  tf.dispose([want, got, xs]);
  reloaded.dispose();
});

/** Two levels of nesting: a Sequential in a Sequential in a Functional model. */
async function deeplyNestedFiles(): Promise<Files> {
  const inner = tfl.sequential({
    name: "inner",
    layers: [tfl.layers.dense({ inputShape: [6], units: 5, activation: "relu", name: "d1" })],
  });
  const block = tfl.sequential({ name: "block" });
  block.add(tfl.layers.dense({ inputShape: [4], units: 6, name: "d0" }));
  block.add(inner);
  const input = tfl.input({ shape: [4] });
  const out = tfl.layers.dense({ units: 2, name: "top" }).apply(
    block.apply(input),
  ) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out, name: "outer" });
  model.setWeights(
    model.getWeights().map((w, i) => tf.tensor(randomArray(w.size, 40 + i), w.shape)),
  );
  return await savedFiles(model);
}

test("nested models: the file's view names their layers as the training view does (outer.inner), so one config prunes both", async () => {
  const viewOf = (files: Files) => {
    const m = tfjsModel(readTfjs(files.get("model.json")!, files));
    return m.modules.map((x) => [x.name, x.type, Object.keys(x.params).join()]);
  };
  for (
    const [files, names] of [
      [await nestedModelFiles(), ["features.c1", "head.d1", "head.d2"]],
      [await deeplyNestedFiles(), ["block.d0", "block.inner.d1", "top"]],
    ] as const
  ) {
    // tfjs names the weights without the models that hold them (`d1/kernel`).
    assert.ok(
      readTfjs(files.get("model.json")!, files).weights.some((w) => w.spec.name === "d1/kernel"),
    );
    const student = describeTfModel(await load(files));
    const trained = student.modules.filter((m) => Object.keys(m.params ?? {}).length > 0);
    assert.deepEqual(
      viewOf(files),
      trained.map((m) => [m.name, m.type, Object.keys(m.params!).join()]),
    );
    assert.deepEqual(trained.map((m) => m.name), names);

    // One config, by the nested name: the file pruned, and the loaded model pruned in training,
    // mask the same weight.
    const config = [{ op_names: [names[1]], sparse_ratio: 0.5 }];
    const source = readTfjs(files.get("model.json")!, files);
    const viaFile = readTfjs(
      ...(await (async () => {
        const o = await prunedTfjs(source, await prune(tfjsModel(source), config));
        return [o.modelJson, o.shards] as const;
      })()),
    );
    const pruner = createTrainingPruner(student, config, {
      schedule: "agp",
      totalTimes: 1,
      intervalSteps: 1,
    });
    const input = student.model.inputs[0].shape.map((d) => d ?? 2);
    const xs = tf.tensor(randomArray(input.reduce((a, b) => a * b), 3), input);
    trainStep(student, {
      optimizer: tf.train.sgd(0),
      x: xs,
      parts: [pruner],
      loss: (out) => tf.mean(out as tf.Tensor) as tf.Scalar,
    });
    xs.dispose();
    assert.deepEqual(Object.keys(pruner.masks()), [names[1]]);
    // Half of `d1/kernel` is zero in the file; every other weight is as it was.
    for (const [i, w] of viaFile.weights.entries()) {
      const v = [...tfjsWeightValues(w)];
      if (w.spec.name === "d1/kernel") {
        assert.equal(v.filter((x) => x === 0).length, v.length / 2);
      } else assert.deepEqual(v, [...tfjsWeightValues(source.weights[i])], w.spec.name);
    }
  }
});

test("tfjsLayersFiles: another storage on request; another model's files and bad replacements are refused", async () => {
  const files = await layersModelFiles();
  const original = readTfjs(files.get("model.json")!, files);
  const view = describeTfModel(await load(files));
  const half = readTfjs(...(() => {
    const o = tfjsLayersFiles(view, original, { storage: "float16" });
    return [o.modelJson, o.shards] as const;
  })());
  assert.ok(
    half.weights.every((w) =>
      w.spec.dtype !== "float32" || w.spec.quantization?.dtype === "float16"
    ),
  );

  const other = describeTfModel(
    tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3], name: "head" })] }),
  );
  assert.throws(() => tfjsLayersFiles(other, original), /variable "head\/kernel" has no weight/);
  assert.throws(
    () =>
      tfjsLayersFiles(view, original, {
        replacements: new Map([["nope.weight", new Float32Array(1)]]),
      }),
    /replacements name no parameter of the model: nope\.weight/,
  );
  assert.throws(
    () =>
      tfjsLayersFiles(view, original, {
        replacements: new Map([["fc2.weight", new Float32Array(3)]]),
      }),
    /the replacement of fc2\.weight must have 64 values/,
  );
});
