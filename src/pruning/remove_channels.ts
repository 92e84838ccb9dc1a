/**
 * `removeChannels`: physically removes pruned channels from simple ONNX chains while keeping
 * the masked model's outputs.
 *
 * @module
 */

import { encodeOnnxWithExternal, type OnnxReplacement } from "../io/onnx/encode_onnx.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import { toFileBytes } from "../model/from_float32.ts";
import type { TensorRef } from "../model/model_graph.ts";
import { applyTargetMask } from "./apply_target_mask.ts";
import { type ChannelChain, channelChains } from "./_channel_chains.ts";
import { expandMask } from "./expand_mask.ts";
import { PruningError } from "./pruning_error.ts";
import type { PrunedModel } from "./types.ts";

/** Options of `removeChannels`. */
export interface RemoveChannelsOptions {
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
}

/** The channels removed between one producer and its consumer. */
export interface RemovedChannels {
  /** The producing module (its output channels were removed). */
  readonly producer: string;
  /** The consuming module (its input channels were removed). */
  readonly consumer: string;
  /** The removed channel indices. */
  readonly removed: readonly number[];
  /** The producer's output channels before removal. */
  readonly channels: number;
}

/** The result of `removeChannels`. */
export interface RemoveChannelsResult {
  /** The new model bytes. */
  readonly bytes: Uint8Array;
  /** Per chain with at least one channel removed. */
  readonly chains: readonly RemovedChannels[];
}

interface Dense {
  values: Float32Array;
  shape: number[];
}

/** Keeps the indices `keep` of dim `dim` (0 or 1). */
function select(t: Dense, dim: 0 | 1, keep: readonly number[]): Dense {
  const [d0, d1] = t.shape;
  const inner = t.values.length / (d0 * (dim === 1 ? d1 : 1));
  const shape = [...t.shape];
  shape[dim] = keep.length;
  const out = new Float32Array(t.values.length / t.shape[dim] * keep.length);
  let at = 0;
  if (dim === 0) {
    for (const r of keep) out.set(t.values.subarray(r * inner, (r + 1) * inner), (at++) * inner);
  } else {
    for (let r = 0; r < d0; r++) {
      for (const c of keep) {
        out.set(t.values.subarray((r * d1 + c) * inner, (r * d1 + c + 1) * inner), at);
        at += inner;
      }
    }
  }
  return { values: out, shape };
}

/**
 * Removes the channels that masks have emptied from simple chains of an ONNX main graph —
 * a Conv (group 1) feeding a Conv, or a Gemm/MatMul (+ Add) feeding a Gemm/MatMul, possibly
 * through one BatchNormalization and element-wise activations (Relu, Clip, LeakyRelu, Sigmoid,
 * Tanh, HardSigmoid, HardSwish), each value with a single consumer — and keeps the masked
 * model's outputs (DESIGN.md B15, unlike NNI's ModelSpeedup):
 * - every tensor is written with its masks applied (fine-grained masks are kept);
 * - an output channel whose masked weight row is all zero carries a constant: its masked bias
 *   (or 0), through the BatchNorm (`beta + gamma (c - mean) / sqrt(var + eps)`, the shift NNI
 *   drops) and the activations. It is removed from the producer, the BatchNorm and the
 *   consumer's input when that constant is 0, or when the consumer can take it into its bias
 *   exactly: `bias[o] += c * Σ_k W[o, ch, k]` for a Gemm/MatMul with a bias or an unpadded Conv
 *   with a bias. Otherwise the channel stays (a padded conv sees the constant only inside the
 *   image, so no bias can replace it).
 *
 * @param onnx the decoded model the pruned model was read from
 * @param pruned the model view, targets and masks (a `prune()` result)
 * @param options the kernels
 * @returns the new bytes and the channels removed per chain
 * @throws {PruningError} when a masked activation target is given (not supported here)
 * @throws {RangeError} for tensors in external data files
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
 * import { onnxModel } from "../model/onnx_model.ts";
 * import { removeChannels } from "./remove_channels.ts";
 *
 * const empty = new Uint8Array([0x08, 0x08, 0x3a, 0x03, 0x12, 0x01, 0x67]); // ir 8, graph "g"
 * const onnx = decodeOnnx(empty);
 * const out = await removeChannels(onnx, { model: onnxModel(onnx), targets: [], masks: {} });
 * assert.deepEqual(out.chains, []);
 * assert.deepEqual(out.bytes, empty);
 * ```
 */
export async function removeChannels(
  onnx: OnnxModel,
  pruned: PrunedModel,
  options: RemoveChannelsOptions = {},
): Promise<RemoveChannelsResult> {
  const kernels = options.kernels ?? getKernels();
  const refs = new Map<string, TensorRef>();
  for (const m of pruned.model.modules) {
    for (const [target, ref] of Object.entries(m.params)) {
      refs.set(`${m.name}.${target}`, ref);
    }
  }
  const tensors = new Map<string, Dense>();
  const changed = new Set<string>();
  const read = async (key: string): Promise<Dense | undefined> => {
    const ref = refs.get(key);
    if (ref === undefined) return undefined;
    let t = tensors.get(key);
    if (t === undefined) {
      let values = await ref.data();
      const [module, target] = [
        key.slice(0, key.lastIndexOf(".")),
        key.slice(key.lastIndexOf(".") + 1),
      ];
      const mask = pruned.masks[module]?.[target];
      const spec = pruned.targets.find((x) => x.module === module && x.target === target);
      if (mask && spec?.setting.apply_method !== "bypass") {
        values = applyTargetMask(values, expandMask(mask, { kernels }), {
          method: spec?.setting.apply_method,
          kernels,
        });
        changed.add(key);
      }
      tensors.set(key, t = { values, shape: [...ref.shape] });
    }
    return t;
  };
  for (const t of pruned.targets) {
    if (t.kind !== "parameter" && pruned.masks[t.module]?.[t.target]) {
      throw new PruningError(
        "activation_target",
        "channel removal does not take activation masks; write them with prunedOnnx()",
        { module: t.module, target: t.target, configIndex: t.configIndex },
      );
    }
    if (t.kind === "parameter") await read(`${t.module}.${t.target}`);
  }
  const report: RemovedChannels[] = [];
  for (const chain of channelChains(onnx, pruned.model)) {
    const removed = await removeInChain(chain, read);
    if (removed === undefined) continue;
    report.push(removed);
    for (const m of [chain.producer, chain.consumer, ...bnModules(chain)]) {
      for (const p of ["weight", "bias", "running_mean", "running_var"]) {
        if (tensors.has(`${m}.${p}`)) changed.add(`${m}.${p}`);
      }
    }
  }
  const replacements = new Map<string, OnnxReplacement>();
  for (const key of changed) {
    const ref = refs.get(key)!;
    const t = tensors.get(key)!;
    const perm = ref.transpose;
    const dims = perm === undefined ? t.shape : t.shape.map((_, k) => t.shape[perm.indexOf(k)]);
    replacements.set(ref.name, {
      bytes: toFileBytes({ ...ref, shape: t.shape }, t.values, kernels),
      dims,
    });
  }
  const { bytes, external } = encodeOnnxWithExternal(onnx, replacements);
  if (external.length > 0) {
    throw new RangeError(
      `tensor ${
        JSON.stringify(external[0].name)
      } is stored in an external file: channel removal writes inline tensors only`,
    );
  }
  return { bytes, chains: report };
}

function bnModules(chain: ChannelChain): string[] {
  return chain.steps.flatMap((s) => (s.kind === "batchnorm" ? [s.module] : []));
}

async function removeInChain(
  chain: ChannelChain,
  read: (key: string) => Promise<Dense | undefined>,
): Promise<RemovedChannels | undefined> {
  const w = (await read(`${chain.producer}.weight`))!;
  const bias = await read(`${chain.producer}.bias`);
  const cw = (await read(`${chain.consumer}.weight`))!;
  const cb = await read(`${chain.consumer}.bias`);
  const channels = w.shape[0];
  if (cw.shape.length < 2 || cw.shape[1] !== channels) return undefined;
  const row = w.values.length / channels;
  const bn = bnModules(chain)[0];
  const bnParams = bn === undefined ? undefined : await Promise.all(
    ["weight", "bias", "running_mean", "running_var"].map((p) => read(`${bn}.${p}`)),
  );
  if (bnParams && bnParams.some((p) => p === undefined || p.shape[0] !== channels)) {
    return undefined;
  }
  const removed: number[] = [];
  const constants: number[] = [];
  for (let c = 0; c < channels; c++) {
    if (w.values.subarray(c * row, (c + 1) * row).some((v) => v !== 0)) continue;
    let value = bias ? bias.values[c] : 0;
    for (const s of chain.steps) {
      if (s.kind === "batchnorm") {
        const [g, b, mean, v] = bnParams!.map((p) => p!.values[c]);
        value = b + g * (value - mean) / Math.sqrt(v + s.epsilon);
      } else value = s.apply(value);
    }
    if (value !== 0 && !(chain.foldable && cb)) continue;
    removed.push(c);
    constants.push(value);
  }
  if (removed.length === 0 || removed.length === channels) return undefined;
  const gone = new Set(removed);
  const keep = [...Array(channels).keys()].filter((c) => !gone.has(c));
  const inner = cw.values.length / (cw.shape[0] * channels);
  if (cb) {
    for (let o = 0; o < cw.shape[0]; o++) {
      let add = 0;
      removed.forEach((c, i) => {
        if (constants[i] === 0) return;
        const at = (o * channels + c) * inner;
        let sum = 0;
        for (let k = 0; k < inner; k++) sum += cw.values[at + k];
        add += constants[i] * sum;
      });
      cb.values[o] += add;
    }
  }
  Object.assign(w, select(w, 0, keep));
  if (bias) Object.assign(bias, select(bias, 0, keep));
  for (const p of bnParams ?? []) Object.assign(p!, select(p!, 0, keep));
  Object.assign(cw, select(cw, 1, keep));
  return { producer: chain.producer, consumer: chain.consumer, removed, channels };
}
