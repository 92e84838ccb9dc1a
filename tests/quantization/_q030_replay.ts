// Oracle case q030 (conv1 + bn1 fused): the BatchNorm statistics NNI folded with, replayed.
// NNI's PTQ calibration runs its 3 batches in train mode; each fused forward first runs bn1 on
// the un-fused conv1 output, which updates the running statistics (momentum 0.1, unbiased
// variance), then folds with the updated statistics. The weight observer keeps the min/max of
// every folded weight it saw.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { readSafetensors } from "../../src/io/safetensors/read_safetensors.ts";
import { foldBatchNorm } from "../../src/quantization/fold_batch_norm.ts";
import { encValues, loadExpected, loadWeights } from "./_oracle.ts";

const EPS = 1e-5;
const MOMENTUM = 0.1;

/** conv1 (16 filters 3x3, stride 1, no padding) on a batch [4, 3, 10, 10], in float64. */
function conv1(x: Float32Array, w: Float32Array, b: Float32Array): Float64Array {
  const [n, c, h, k, o] = [4, 3, 10, 3, 16];
  const s = h - k + 1;
  const out = new Float64Array(n * o * s * s);
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < o; f++) {
      for (let y = 0; y < s; y++) {
        for (let z = 0; z < s; z++) {
          let acc = b[f];
          for (let ch = 0; ch < c; ch++) {
            for (let dy = 0; dy < k; dy++) {
              for (let dz = 0; dz < k; dz++) {
                acc += x[((i * c + ch) * h + y + dy) * h + z + dz] *
                  w[((f * c + ch) * k + dy) * k + dz];
              }
            }
          }
          out[((i * o + f) * s + y) * s + z] = acc;
        }
      }
    }
  }
  return out;
}

/** Per-channel mean and unbiased variance of `[4, 16, 8, 8]` values. */
function batchStats(y: Float64Array): { mean: Float64Array; variance: Float64Array } {
  const mean = new Float64Array(16);
  const variance = new Float64Array(16);
  const count = 4 * 64;
  for (let f = 0; f < 16; f++) {
    let sum = 0;
    for (let i = 0; i < 4; i++) for (let p = 0; p < 64; p++) sum += y[(i * 16 + f) * 64 + p];
    mean[f] = sum / count;
    let sq = 0;
    for (let i = 0; i < 4; i++) {
      for (let p = 0; p < 64; p++) sq += (y[(i * 16 + f) * 64 + p] - mean[f]) ** 2;
    }
    variance[f] = sq / (count - 1);
  }
  return { mean, variance };
}

const range = (a: Float32Array) => [Math.min(...a), Math.max(...a)] as const;

/** Folded-weight ranges of q030: replayed train-mode statistics, stored statistics, NNI's. */
export function q030Ranges() {
  const w = loadWeights("weights/bn_s0.safetensors");
  const get = (k: string) => w.get(k)!.data;
  const weight = get("conv1.weight");
  const bias = get("conv1.bias");
  const bn = { gamma: get("bn1.weight"), beta: get("bn1.bias"), eps: EPS };
  const data = readSafetensors(
    new Uint8Array(readFileSync(fileURLToPath(
      new URL("../nni_oracle/expected/data/q030_fuse_conv_bn.safetensors", import.meta.url),
    ))),
  );
  let mean = Float64Array.from(get("bn1.running_mean"));
  let variance = Float64Array.from(get("bn1.running_var"));
  let min = Infinity;
  let max = -Infinity;
  for (let k = 0; k < 3; k++) {
    const t = data.tensors.find((x) => x.name === `batch_${k}`)!;
    const stats = batchStats(conv1(new Float32Array(t.data.slice().buffer), weight, bias));
    mean = mean.map((m, c) => (1 - MOMENTUM) * m + MOMENTUM * stats.mean[c]);
    variance = variance.map((v, c) => (1 - MOMENTUM) * v + MOMENTUM * stats.variance[c]);
    const folded = foldBatchNorm(weight, [16, 3, 3, 3], bias, {
      ...bn,
      mean: Float32Array.from(mean),
      variance: Float32Array.from(variance),
    });
    const [lo, hi] = range(folded.weight);
    min = Math.min(min, lo);
    max = Math.max(max, hi);
  }
  const stored = foldBatchNorm(weight, [16, 3, 3, 3], bias, {
    ...bn,
    mean: get("bn1.running_mean"),
    variance: get("bn1.running_var"),
  });
  const cal = loadExpected("q030_fuse_conv_bn").result.calibration_config.conv1.weight;
  return {
    replayed: [min, max] as const,
    stored: range(stored.weight),
    nni: [encValues(cal.tracked_min)[0], encValues(cal.tracked_max)[0]] as const,
  };
}
