// Oracle case q030: BatchNorm folding against NNI's folded conv1 weight. NNI recorded the range
// (tracked min/max) of the folded weight it quantized, not the tensor itself (its
// `fake_quant_params.original` is the un-fused conv1.weight).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readSafetensors } from "../../src/io/safetensors/read_safetensors.ts";
import { safetensorsModel } from "../../src/model/safetensors_model.ts";
import { quantize } from "../../src/quantization/quantize.ts";
import { q030Ranges } from "./_q030_replay.ts";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) <= 4 * 2 ** -23 * Math.abs(b), `${what}: ${a} vs NNI ${b}`);

test(
  "q030: folded with the statistics of NNI's train-mode calibration forwards (replayed), our folded conv1 weight has NNI's recorded range within float32 tolerance",
  () => {
    const r = q030Ranges();
    close(r.replayed[0], r.nni[0], "min");
    close(r.replayed[1], r.nni[1], "max");
  },
);

test(
  "q030 deviation: quantize() folds with bn1's stored (eval) statistics, so its folded-weight range differs from NNI's train-mode one",
  async () => {
    const bytes = readFileSync(
      fileURLToPath(new URL("../nni_oracle/expected/weights/bn_s0.safetensors", import.meta.url)),
    );
    const model = safetensorsModel(readSafetensors(new Uint8Array(bytes)));
    const result = await quantize(model, [{
      op_names: ["conv1"],
      target_names: ["weight"],
      quant_dtype: "int8",
      fuse_names: [["conv1", "bn1"]],
    }]);
    const p = result.params[0];
    const r = q030Ranges();
    assert.deepEqual([p.trackedMin[0], p.trackedMax[0]], [...r.stored]);
    const drift = Math.abs(r.stored[0] - r.nni[0]) / Math.abs(r.nni[0]);
    console.log(
      `q030 folded conv1 range: stored statistics [${r.stored.map((v) => v.toFixed(6))}], ` +
        `NNI (train-mode statistics) [${r.nni.map((v) => v.toFixed(6))}], ${
          (100 * drift).toFixed(2)
        } % apart`,
    );
    assert.ok(drift > 0.01 && drift < 0.05);
  },
);
