// BatchNorm folding on the PP-OCR text-orientation classifier, run in onnxruntime-node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { resolveTargetSettings } from "../../src/config/resolve_target_settings.ts";
import type { ModelGraph } from "../../src/model/model_graph.ts";
import { fusableGroups } from "../../src/quantization/fusable_groups.ts";
import { fuseModel } from "../../src/quantization/fuse_model.ts";
import { fusedOnnx, onnxBatchNormEpsilon } from "../../src/quantization/fused_onnx.ts";
import { fusionGroups } from "../../src/quantization/fusion_groups.ts";
import { quantize } from "../../src/quantization/quantize.ts";
import { moduleInfos } from "../../src/model/module_infos.ts";
import { loadOrt } from "../io/_ocr.ts";
import {
  calibrationBatches,
  classifierCorrect,
  classifierOutputs,
  CLS,
  fullInt8,
  readModel,
} from "./_ocr_eval.ts";

const INT8_PER_CHANNEL = {
  op_types: ["Conv2d", "Linear"],
  target_names: ["weight"],
  quant_dtype: "int8",
  granularity: "out_channel",
};
const mb = (n: number) => `${(n / 1e6).toFixed(3)} MB`;
const SLOW = { timeout: 120_000 };

test("fusableGroups finds every Conv → BatchNorm pair of the classifier from its graph", async () => {
  const onnx = decodeOnnx(await readModel(CLS));
  const model = onnxModel(onnx);
  const groups = fusableGroups(model);
  const count = (t: string) => model.modules.filter((m) => m.type === t).length;
  assert.equal(count("Conv2d"), 53);
  assert.equal(count("BatchNorm2d"), 35);
  assert.equal(groups.length, 35);
  assert.ok(groups.every((g) => /^conv2d_/.test(g[0]) && /^batch_norm_/.test(g[1])));
  const withRelu = groups.filter((g) => g.length === 3);
  assert.ok(withRelu.every((g) => model.modules.find((m) => m.name === g[2])?.type === "ReLU"));
  console.log(`classifier: ${groups.length} conv→BN groups, ${withRelu.length} with a ReLU`);
});

test(
  "an int8 per-channel classifier with every Conv+BN folded has no BatchNormalization and reads 40/40",
  SLOW,
  async () => {
    const bytes = await readModel(CLS);
    const onnx = decodeOnnx(bytes);
    const model = onnxModel(onnx);
    const fuse_names = fusableGroups(model);
    const plain = await quantize(model, [INT8_PER_CHANNEL]);
    const fused = await quantize(model, [{ ...INT8_PER_CHANNEL, fuse_names }], { onnx });
    assert.equal(fused.report.fused.length, 35);
    assert.ok(fused.report.fused.every((g) => g.folded));
    assert.equal(fused.report.droppedTensors.length, 4 * 35);
    const qdq = await plain.save("qdq");
    const fusedQdq = await fused.save("qdq");
    const ops = (b: Uint8Array) => decodeOnnx(b).graph.nodes.map((n) => n.opType);
    assert.equal(ops(qdq).filter((o) => o === "BatchNormalization").length, 35);
    assert.equal(ops(fusedQdq).filter((o) => o === "BatchNormalization").length, 0);
    const correct = await classifierCorrect(fusedQdq);
    const simulated = await fused.save("float");
    const float = await classifierCorrect(simulated);
    console.log(
      `classifier int8 QDQ: unfused ${mb(qdq.length)}, BN folded ${mb(fusedQdq.length)} ` +
        `(${correct}/40; fake-quant float ${float}/40, ${mb(simulated.length)}; original ${
          mb(bytes.length)
        })`,
    );
    assert.equal(correct, 40);
    assert.equal(float, 40);
    assert.ok(fusedQdq.length < qdq.length);
  },
);

test(
  "the float classifier with every Conv+BN folded computes the original outputs",
  SLOW,
  async () => {
    const bytes = await readModel(CLS);
    const onnx = decodeOnnx(bytes);
    const model = onnxModel(onnx);
    const groups = fusionGroups(
      model,
      [{ fuse_names: fusableGroups(model) }],
      weightTargets(model),
    );
    const fused = await fuseModel(model, groups, { epsilon: onnxBatchNormEpsilon(onnx, model) });
    const out = fusedOnnx(onnx, fused);
    assert.equal(out.graph.nodes.filter((n) => n.opType === "BatchNormalization").length, 0);
    assert.equal(out.graph.nodes.length, onnx.graph.nodes.length - 5 * 35);
    const want = await classifierOutputs(bytes, "disabled");
    const got = await classifierOutputs(out.bytes, "disabled");
    let diff = 0;
    for (let i = 0; i < want.length; i++) diff = Math.max(diff, Math.abs(got[i] - want[i]));
    console.log(
      `classifier folded in float: max |Δ probability| ${diff.toExponential(2)} on 40 lines`,
    );
    assert.ok(diff < 1e-4, `max difference ${diff}`);
  },
);

test(
  "a fully int8 classifier with BN folded, calibrated on the fused graph, reads 40/40",
  SLOW,
  async () => {
    const onnx = decodeOnnx(await readModel(CLS));
    const model = onnxModel(onnx);
    const fuse_names = fusableGroups(model);
    const groups = fusionGroups(model, [{ fuse_names }], weightTargets(model));
    const view = (await fuseModel(model, groups, { epsilon: onnxBatchNormEpsilon(onnx, model) }))
      .model;
    const config = fullInt8(view).map((c, i) => (i === 0 ? { ...c, fuse_names } : c));
    const result = await quantize(model, config, {
      calibration: { onnx, batches: await calibrationBatches("cls", [0, 4]), ort: await loadOrt() },
    });
    const qdq = await result.save("qdq");
    const correct = await classifierCorrect(qdq);
    console.log(`classifier full int8 QDQ, BN folded: ${correct}/40, ${mb(qdq.length)}`);
    assert.equal(correct, 40);
  },
);

/** Every Conv2d and Linear weight as a (resolved) quantization target. */
function weightTargets(model: ModelGraph) {
  return resolveTargetSettings(moduleInfos(model), [INT8_PER_CHANNEL], "quantization").targets;
}
