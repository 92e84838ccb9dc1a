/**
 * `quantizedTfjs`: quantized weights written into a TensorFlow.js model in tfjs's own storage.
 *
 * @module
 */

import {
  encodeTfjs,
  onTfjsGrid,
  type TfjsFiles,
  tfjsQuantize,
  type TfjsReplacement,
  type TfjsStorage,
} from "../io/tfjs/write_tfjs.ts";
import type { TfjsModel } from "../io/tfjs/tfjs_types.ts";
import { readTfjs, tfjsWeightValues } from "../io/tfjs/read_tfjs.ts";
import { biasCorrectTfjs, tfjsBiasSites, withTfjsBiases } from "./bias_correct_tfjs.ts";
import type { TfjsGrid } from "./gptq_tfjs.ts";
import {
  type TfjsChannelScaleSite,
  tfjsChannelScaleSites,
  withTfjsChannelScales,
} from "./channel_scales_tfjs.ts";
import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import { toTfjsLayout } from "../model/tfjs_model.ts";
import type { TargetQuantParams } from "./compute_target_quant_params.ts";
import { computeQuantParams } from "./compute_quant_params.ts";
import { fakeQuantize } from "./fake_quantize.ts";
import { QuantizationError } from "./quantization_error.ts";
import { paramRef } from "./_param_ref.ts";

/** Options of `quantizedTfjs`. */
export interface QuantizedTfjsOptions {
  /**
   * `int` (default): each weight in the smallest tfjs storage that holds its quantized values
   * exactly — `uint8`/`uint16` codes on the target's own grid for per-tensor targets of at most
   * 8/16 bits, else `float16` when every value is a float16, else `float32`; `float`: the
   * quantized values in the weight's stored type (float32, float16, or uint8/uint16 with a grid
   * of their own).
   */
  readonly storage?: "int" | "float";
  /** The largest shard in bytes (default 4 MiB, the converter's). */
  readonly shardBytes?: number;
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
  /**
   * Storage `int`: room for sensitive weights, as a share of the source's weight bytes (default
   * 0: every target at its own bits, exactly NNI's values; `compressModel`, the CLI, the web
   * page and the edge handler use 0.02): the written weights stay within 25% + headroom of the
   * source's float32 and integer bytes plus 50% + headroom of its float16 bytes (uint8 takes one
   * byte of a float32's four, of a float16's two), so 27% of a float32 model and 52% of a
   * float16 model at 0.02; a model whose plain uint8 result already fills that gets none. The budget goes, most damaged
   * first per byte, to the uint8 targets whose output channels lose the most to one grid per
   * tensor (mean over channels of `|q(w_c) - w_c|^2 / |w_c|^2`, high for kernels with
   * BatchNorm folded in, whose channels have very different ranges), stored as `float16` or
   * `uint16` (the one that is closer to the original values) instead.
   */
  readonly headroom?: number;
  /**
   * Storage `int` with `headroom`: chooses the weights stored at 16 bits by their measured
   * effect on the outputs instead of their channel error. Called with a written model, it
   * returns how close its outputs are to the source's (the lowest output cosine over a few
   * inputs, 1 for identical outputs; `tfjsSensitivity` in src/compress/compare_tfjs.ts runs tfjs).
   * Every uint8 target is measured once alone at uint8 (the other weights as stored in the
   * source); its damage (1 - cosine) per byte ranks it for the headroom (see `spendHeadroom`).
   */
  readonly measure?: (files: TfjsFiles) => Promise<number>;
  /**
   * Storage `int`, graph models: bias correction (`biasCorrectTfjs`). The per-channel mean of
   * each layer's input on calibration data, by the input's name as the graph names it
   * (`TfjsBiasSite.input` of `tfjsBiasSites(source)`; `tfjsInputMeans` in
   * src/compress/compare_tfjs.ts computes them with tfjs); after the storage of every weight is
   * chosen, each layer's expected output shift `(W_q - W) E[x]`, with `W_q` as tfjs decodes it,
   * is taken out of its bias (stored as the bias was: float32 or float16). A layer with no bias
   * (nor one it feeds directly, see `tfjsBiasSites`) gets one when its shift is not zero: the
   * node becomes its fused form with a `BiasAdd` and a new float32 weight
   * (`withTfjsBiases`).
   */
  readonly inputMeans?: ReadonlyMap<string, ArrayLike<number>>;
  /**
   * Storage `int`: kernel values chosen on a per-tensor uint8 target's own grid by other means
   * than rounding to nearest (GPTQ rounding: `gptqTfjsKernel` on the grids of
   * `tfjsUint8Grids`), tfjs layout, by weight name. Values that leave the grid are not used.
   */
  readonly rounded?: ReadonlyMap<string, Float32Array>;
  /**
   * Storage `int`, graph models: a kernel quantized per output channel with one zero point
   * (`granularity: "per_channel"`, symmetric schemes) of at most 16 bits, read only by
   * convolutions, depthwise convolutions and MatMuls, is stored as its integer levels
   * `q - zero_point` in `uint8` (`uint16`) codes on one grid whose step is a power of two `u`
   * (`min = (qmin - zero_point) · u`), and its scales divided by `u` (the largest in [1, 2)) as a
   * `[channels]` weight that a new `Mul` node applies after the layer (`withTfjsChannelScales`):
   * tfjs computes `conv(x, (q - zp) · u) · scale_c / u`, NNI's values. The scales are float32
   * (NNI's values bit for bit), or float16 for a kernel stored as float16 (the values are then
   * `(q - zp) · f16(scale_c / u) · u`, within float16's 2⁻¹¹ of NNI's; subnormal steps for a
   * channel whose scale is below 2⁻¹⁴ of the largest). Without it (default) such targets are
   * written fake-quantized, with a warning. With `headroom` the scales are paid from the same
   * budget (`fitTfjsChannelScales`): when they do not all fit, float32 kernels get float16
   * scales, and if that is not enough the kernels that gain the least
   * from their scales per scale byte are quantized per tensor instead (on the kernel's whole
   * range, as NNI quantizes a per-tensor target), each with a warning (`channelScalesDropped`).
   */
  readonly channelScales?: boolean;
}

/** The written model, and one line for each weight stored otherwise than asked. */
export interface QuantizedTfjs extends TfjsFiles {
  /** The storage chosen per weight name. */
  readonly storages: ReadonlyMap<string, TfjsStorage>;
  /** Weights written fake-quantized because tfjs cannot store their codes. */
  readonly warnings: readonly string[];
  /**
   * The uint8 targets stored at 16 bits within `headroom`: weight name, the storage and the
   * channel error (see `headroom`) at 8 bits and at the storage chosen.
   */
  readonly upgraded: readonly TfjsUpgrade[];
  /** With `rounded`: the weights written with those values. */
  readonly gptqRounded: readonly string[];
  /**
   * With `channelScales`: the kernels stored as codes per tensor with a scale per output
   * channel, the new scale weight and its storage.
   */
  readonly channelScaled: readonly {
    readonly name: string;
    readonly scales: string;
    readonly storage: "float16" | "float32";
  }[];
  /**
   * With `channelScales` and `headroom`: the kernels whose scales did not fit the size budget,
   * quantized per tensor instead (see `fitTfjsChannelScales`).
   */
  readonly channelScalesDropped: readonly TfjsDroppedScales[];
  /** With `inputMeans`: the layers whose output shift went into a bias. */
  readonly biasCorrected: readonly string[];
  /** With `inputMeans`: layers with a changed kernel whose shift no bias could take. */
  readonly biasSkipped: readonly string[];
  /**
   * With `inputMeans`: the layers given a bias of their own (part of `biasCorrected`), with
   * the new weight's name.
   */
  readonly biasAdded: readonly { readonly node: string; readonly weight: string }[];
}

/** One uint8 target stored at 16 bits because its channels lose too much at 8 bits. */
export interface TfjsUpgrade {
  /** The weight name. */
  readonly name: string;
  /** `float16` or `uint16`. */
  readonly storage: "float16" | "uint16";
  /** The mean relative channel error at 8 bits. */
  readonly error8: number;
  /** The same at the storage chosen. */
  readonly error16: number;
  /**
   * With `measure`: the damage measured with this target alone at uint8 (every other weight as
   * stored): 1 - the lowest output cosine.
   */
  readonly damage?: number;
}

/**
 * The mean over output channels (dim 0 of the PyTorch layout) of `|q - w|^2 / |w|^2`; channels
 * that are all zeros count as 0.
 */
function channelError(w: Float32Array, q: ArrayLike<number>, channels: number): number {
  const per = channels > 0 ? w.length / channels : 0;
  let sum = 0;
  let counted = 0;
  for (let c = 0; c < channels; c++) {
    let num = 0;
    let den = 0;
    for (let i = c * per; i < (c + 1) * per; i++) {
      const d = q[i] - w[i];
      num += d * d;
      den += w[i] * w[i];
    }
    if (den > 0) {
      sum += num / den;
      counted++;
    }
  }
  return counted === 0 ? 0 : sum / counted;
}

/** The values tfjs decodes from converter-style uint16 storage of `values`. */
function uint16Values(values: Float32Array): Float32Array {
  const { codes, min, scale } = tfjsQuantize(values, "uint16");
  const out = new Float32Array(values.length);
  for (let i = 0; i < codes.length; i++) out[i] = codes[i] * scale + min;
  return out;
}

/** Whether every value is exactly a float16. */
function exactHalf(values: Float32Array, kernels: Kernels): boolean {
  const back = kernels.f16ToF32(kernels.f32ToF16(values));
  for (let i = 0; i < values.length; i++) {
    if (!(back[i] === values[i] || (Number.isNaN(back[i]) && Number.isNaN(values[i])))) {
      return false;
    }
  }
  return true;
}

/**
 * Writes the quantized weights of a quantization run into the TensorFlow.js model the view was
 * built from. tfjs stores a weight as affine `uint8`/`uint16` codes with one `min` and `scale`
 * per tensor, or as `float16`; a per-tensor target of at most 8 (16) bits is stored as `uint8`
 * (`uint16`) codes on its own grid (`min = (qmin - zero_point) * scale`), which tfjs decodes to
 * exactly the fake-quantized values; within `headroom`, the uint8 targets that lose the most to
 * one grid per tensor are stored at 16 bits instead (`upgraded`). Targets tfjs cannot store so (per channel, per block, or a
 * grid that does not reproduce the values) are written fake-quantized in the smallest storage
 * that holds them exactly, and `warnings` says so. Input/output targets are skipped, and so are
 * int32 and bool weights (with a warning). A target the source already stores as `uint8`
 * (`uint16`) codes, quantized to at least 8 (16) bits, keeps its stored codes, `min` and `scale`
 * byte for byte (its values are already on one grid per tensor at those bits); so does every
 * weight that is not a target.
 *
 * @param source The decoded model (`model.source.tfjs` of a `tfjsModel` view).
 * @param model The model view the parameters were computed on.
 * @param params Parameters from `quantize` (`result.params`).
 * @param options Storage, shard size and kernels.
 * @returns `model.json`, the shards, the storage per weight and warnings.
 * @throws {QuantizationError} Code `missing_tensor` when a target has no weight in the model.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTfjs } from "../io/tfjs/read_tfjs.ts";
 * import { tfjsModel } from "../model/tfjs_model.ts";
 * import { quantize } from "./quantize.ts";
 * import { quantizedTfjs } from "./quantized_tfjs.ts";
 *
 * const json = JSON.stringify({
 *   format: "layers-model",
 *   modelTopology: { class_name: "Sequential", config: { name: "s", layers: [
 *     { class_name: "Dense", config: { name: "fc" } }] } },
 *   weightsManifest: [{ paths: ["w.bin"], weights: [{ name: "fc/kernel", shape: [2, 2], dtype: "float32" }] }],
 * });
 * const source = readTfjs(json, new Map([["w.bin", new Uint8Array(Float32Array.of(0.5, -1, 0.25, 2).buffer)]]));
 * const view = tfjsModel(source);
 * const result = await quantize(view, [{ op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int8" }]);
 * const out = await quantizedTfjs(source, view, result.params);
 * assert.equal(out.storages.get("fc/kernel"), "uint8");
 * assert.equal(out.shards.get("group1-shard1of1.bin")!.length, 4);
 *
 * // Output channels of very different ranges: channel 1 is all zeros on one uint8 grid (mean channel error 0.5), so with
 * // room for it the kernel is stored as float16.
 * const skewed = readTfjs(json, new Map([["w.bin", new Uint8Array(Float32Array.of(1000, 0.001, -1000, 0.002).buffer)]]));
 * const skewedView = tfjsModel(skewed);
 * const q = await quantize(skewedView, [{ op_types: ["Linear"], target_names: ["weight"], quant_dtype: "uint8" }]);
 * const wide = await quantizedTfjs(skewed, skewedView, q.params, { headroom: 1 });
 * assert.equal(wide.storages.get("fc/kernel"), "float16");
 * assert.ok(wide.upgraded[0].error8 > 0.4 && wide.upgraded[0].error16 < 1e-6);
 * assert.equal((await quantizedTfjs(skewed, skewedView, q.params)).storages.get("fc/kernel"), "uint8");
 * ```
 */
export async function quantizedTfjs(
  source: TfjsModel,
  model: ModelGraph,
  params: readonly TargetQuantParams[],
  options: QuantizedTfjsOptions = {},
): Promise<QuantizedTfjs> {
  const kernels = options.kernels ?? getKernels();
  const storage = options.storage ?? "int";
  const specs = new Map(source.weights.map((w) => [w.spec.name, w.spec]));
  const replacements = new Map<string, TfjsReplacement>();
  const storages = new Map<string, TfjsStorage>();
  const warnings: string[] = [];
  const candidates: Candidate[] = [];
  const gptqRounded: string[] = [];
  const channelSites = options.channelScales === true && storage === "int"
    ? tfjsChannelScaleSites(source)
    : undefined;
  const headroom = storage === "int" ? options.headroom ?? 0 : 0;
  const correcting = options.inputMeans !== undefined && storage === "int";
  let targets = params;
  let dropped: readonly TfjsDroppedScales[] = [];
  let halfScales: ReadonlySet<string> = new Set();
  if (channelSites !== undefined) {
    ({ params: targets, dropped, halfScales } = await fitTfjsChannelScales(source, model, params, {
      headroom,
      biasCorrection: correcting,
      kernels,
      sites: channelSites,
    }));
    for (const d of dropped) {
      warnings.push(
        `${d.name} (${d.module}.${d.target}): its ${d.channels} channel scales (${d.scaleBytes} bytes) do not fit the size budget of the ${
          (headroom * 100).toFixed(1)
        }% headroom; quantized per tensor on the kernel's range instead (mean channel error ${
          d.channelError.toExponential(2)
        } per channel, ${d.tensorError.toExponential(2)} per tensor)`,
      );
    }
  }
  // Kernels stored with channel scales: until the model is written, their replacement holds
  // the values tfjs will compute with, as float32 (what bias correction and `measure` read).
  // (They are no headroom candidates: their float32 storage keeps them out.)
  const scaled = new Map<string, { levels: Float32Array; grid: ChannelGrid }>();
  const notFloat: string[] = [];
  for (const p of targets) {
    if (p.kind !== "parameter") continue;
    const ref = paramRef(model, p.module, p.target, p.configIndex);
    const spec = specs.get(ref.name);
    if (spec === undefined) {
      throw new QuantizationError("missing_tensor", "the weight is not in the tfjs model", {
        module: p.module,
        target: p.target,
        configIndex: p.configIndex,
      });
    }
    if (spec.dtype !== "float32") {
      // Integer and bool constants (shapes, indices) keep their values: one warning for all
      // (a jax2tf model selected by op type "Module" has thousands).
      notFloat.push(`${ref.name} (${spec.dtype})`);
      continue;
    }
    const stored = spec.quantization?.dtype;
    if (
      (stored === "uint8" && p.bits >= 8) || (stored === "uint16" && p.bits >= 16)
    ) {
      // Already codes of at most the target's bits on one grid per tensor: that grid is an exact
      // quantization at these bits, whereas a new grid (NNI's range always holds 0) would move
      // values a model may compare exactly (Reshape shapes, NMS thresholds). Written back as read.
      storages.set(ref.name, stored);
      continue;
    }
    const original = await ref.data();
    const fake = fakeQuantize(original, ref.shape, p, { kernels });
    const values = toTfjsLayout(ref, fake);
    let chosen: TfjsReplacement | undefined;
    if (storage === "float") {
      const q = spec.quantization;
      if (q === undefined || q.dtype === "float16") {
        chosen = { values, storage: q === undefined ? "float32" : "float16" };
      } else {
        const grid = { min: q.min!, scale: q.scale! };
        chosen = onTfjsGrid(values, q.dtype, grid)
          ? { values, storage: q.dtype, grid }
          : { values, storage: q.dtype };
      }
    } else {
      const perTensor = p.scale.length === 1 && p.bits <= 16;
      const dtype = p.bits <= 8 ? "uint8" : "uint16";
      if (perTensor) {
        const grid = perTensorGrid(p);
        const rounded = dtype === "uint8" ? options.rounded?.get(ref.name) : undefined;
        if (rounded !== undefined && onTfjsGrid(rounded, dtype, grid)) {
          // Codes chosen elsewhere (GPTQ rounding) on the same grid.
          chosen = { values: rounded, storage: dtype, grid };
          gptqRounded.push(ref.name);
        }
        if (chosen === undefined && onTfjsGrid(values, dtype, grid)) {
          chosen = { values, storage: dtype, grid };
        }
      }
      const channel = perTensor || channelSites === undefined ? undefined : channelGrid(
        p,
        spec,
        channelSites.get(ref.name),
        kernels,
        halfScales.has(ref.name) || undefined,
      );
      if (chosen === undefined && channel !== undefined) {
        const r = options.rounded?.get(ref.name);
        let levels = r === undefined ? undefined : channelLevels(r, channel, channel.scales);
        if (levels !== undefined) gptqRounded.push(ref.name);
        levels ??= channelLevels(values, channel, channel.nni);
        if (levels !== undefined) {
          const at = channelOf(channel.site, levels.length);
          const effective = Float32Array.from(levels, (l, i) => l * channel.scales[at(i)]);
          chosen = { values: effective, storage: "float32" };
          scaled.set(ref.name, { levels, grid: channel });
        }
      }
      if (chosen === undefined) {
        const why = perTensor
          ? "its grid does not reproduce the quantized values in tfjs's arithmetic"
          : `tfjs stores one min and scale per tensor, the target has ${p.scale.length} (${
            p.granularity ?? "per tensor"
          } ${p.quantDtype})${
            channelSites === undefined
              ? source.kind === "graph-model"
                ? " (channelScales stores a conv or MatMul kernel per channel with one zero point as codes)"
                : " (channelScales stores a Conv2D, DepthwiseConv2D, SeparableConv2D, Conv1D or Dense kernel per channel with one zero point as codes)"
              : ""
          }`;
        const fallback: TfjsStorage = exactHalf(values, kernels) ? "float16" : "float32";
        chosen = { values, storage: fallback };
        warnings.push(
          `${ref.name} (${p.module}.${p.target}): ${why}; written fake-quantized as ${fallback}`,
        );
      }
    }
    replacements.set(ref.name, chosen);
    storages.set(ref.name, scaled.get(ref.name)?.grid.dtype ?? chosen.storage!);
    const sourceType = spec.quantization?.dtype ?? spec.dtype;
    if (
      storage === "int" && chosen.storage === "uint8" &&
      (sourceType === "float32" || sourceType === "float16")
    ) {
      // Vectors (biases, PReLU slopes): every value is a channel.
      const channels = ref.shape.length <= 1 ? original.length : ref.shape[0];
      candidates.push({
        name: ref.name,
        original,
        stored: toTfjsLayout(ref, original),
        channels,
        error8: channelError(original, fake, channels),
      });
    }
  }
  if (notFloat.length > 0) {
    warnings.push(
      `${notFloat.length} selected weight(s) hold integers or booleans (shapes, indices), not ` +
        `float32: not quantized, left as they are: ${notFloat.slice(0, 5).join(", ")}` +
        (notFloat.length > 5 ? ", …" : ""),
    );
  }
  // Bias correction may give layers without a bias one: their bytes come out of the headroom.
  const upgraded = await spendHeadroom(
    source,
    replacements,
    candidates,
    headroom,
    (correcting ? newBiasBytes(source, replacements) : 0) +
      [...scaled.values()].reduce((n, c) => n + scaleCost(c.grid), 0),
    kernels,
    options.measure === undefined
      ? undefined
      : (r) => options.measure!(encodeTfjs(source, r, { shardBytes: options.shardBytes, kernels })),
    new Map(
      [...scaled].map(([name, c]) => [name, c.levels.length * (c.grid.dtype === "uint8" ? 1 : 2)]),
    ),
  );
  for (const u of upgraded) storages.set(u.name, u.storage);
  let bias: CorrectedBiases = { corrected: [], skipped: [], added: [], model: source };
  if (correcting) {
    bias = correctBiases(source, replacements, options.inputMeans!, kernels);
  }
  for (const a of bias.added) {
    storages.set(a.weight, replacements.get(a.weight)?.storage ?? "float32");
  }
  // The kernels with channel scales: their levels as codes, the scales as new weights.
  let written = bias.model;
  const channelScaled: { name: string; scales: string; storage: "float16" | "float32" }[] = [];
  if (scaled.size > 0) {
    const scales = new Map<string, Float32Array>();
    for (const [name, c] of scaled) {
      const { unit } = c.grid;
      replacements.set(name, {
        values: c.levels.map((l) => l * unit),
        storage: c.grid.dtype,
        grid: { min: c.grid.min * unit, scale: unit },
      });
      scales.set(name, c.grid.scales.map((s) => s / unit));
    }
    const withScales = withTfjsChannelScales(written, scales);
    written = withScales.model;
    // A layers model's biases move to the scale layers: their replacements follow them.
    for (const [from, to] of withScales.renamed) {
      const r = replacements.get(from);
      if (r === undefined) continue;
      replacements.delete(from);
      replacements.set(to, r);
    }
    for (const [kernel, weight] of withScales.weights) {
      const { grid } = scaled.get(kernel)!;
      replacements.set(weight, { values: scales.get(kernel)!, storage: grid.storage });
      storages.set(weight, grid.storage);
      channelScaled.push({ name: kernel, scales: weight, storage: grid.storage });
    }
  }
  const files = encodeTfjs(written, replacements, { shardBytes: options.shardBytes, kernels });
  return {
    ...files,
    storages,
    warnings,
    upgraded,
    gptqRounded: gptqRounded.filter((n) => storages.get(n) === "uint8"),
    channelScaled,
    channelScalesDropped: dropped,
    biasCorrected: bias.corrected,
    biasSkipped: bias.skipped,
    biasAdded: bias.added,
  };
}

/** A per-channel target stored as levels on one grid with a scale per channel. */
interface ChannelGrid {
  readonly site: TfjsChannelScaleSite;
  /** The codes' storage. */
  readonly dtype: "uint8" | "uint16";
  /** The lowest level, `qmin - zero_point` (code 0). */
  readonly min: number;
  /** The highest level, `qmax - zero_point`. */
  readonly max: number;
  /** NNI's scales, tfjs output-channel order. */
  readonly nni: Float32Array;
  /**
   * The scales tfjs computes with: NNI's, or `unit · f16(scale_c / unit)` (their float16
   * values relative to `unit`).
   */
  readonly scales: Float32Array;
  /**
   * A power of two: the codes' grid step (`min = (qmin - zero_point) · unit`), and the stored
   * scales are `scales / unit` (so that float16 holds them, whatever their magnitude).
   */
  readonly unit: number;
  /** The scales' storage. */
  readonly storage: "float16" | "float32";
}

const scaleBytes = (g: ChannelGrid) => g.storage === "float16" ? 2 : 4;
/** The bytes a kernel's scales add to the file: the scales, and what their carrier adds. */
const scaleCost = (g: ChannelGrid) => g.scales.length * scaleBytes(g) + (g.site.extraBytes ?? 0);

/** The output channel of each kernel value (tfjs layout) at a channel-scale site. */
const channelOf = (site: TfjsChannelScaleSite, n: number) =>
  site.channelsLast
    ? (i: number) => i % site.channels
    : (i: number) => Math.floor(i / (n / site.channels));

/**
 * The channel grid of a target quantized per output channel (one block per dim-0 channel of the
 * PyTorch layout, which is the layer's output channel), at most 16 bits, one zero point,
 * positive finite scales, at a channel-scale site; else undefined. The scales are float16 for a
 * float16 kernel, or with `half` (a float32 kernel whose float32 scales do not fit the budget).
 */
function channelGrid(
  p: TargetQuantParams,
  spec: TfjsModel["weights"][number]["spec"],
  site: TfjsChannelScaleSite | undefined,
  kernels: Kernels,
  half = spec.quantization?.dtype === "float16",
): ChannelGrid | undefined {
  if (site === undefined || p.bits > 16 || p.scale.length !== site.channels) return undefined;
  if (p.gridShape[0] !== site.channels || p.gridShape.some((g, d) => d > 0 && g !== 1)) {
    return undefined;
  }
  const zp = p.zeroPoint[0];
  if (!p.zeroPoint.every((z) => z === zp)) return undefined;
  const nni = Float32Array.from(p.scale);
  if (!nni.every((v) => v > 0 && Number.isFinite(v))) return undefined;
  let scales: Float32Array = nni;
  let storage: "float16" | "float32" = "float32";
  // Dividing by a power of two is exact in float32: the largest stored scale is in [1, 2).
  const unit = 2 ** Math.floor(Math.log2(nni.reduce((m, v) => Math.max(m, v), 0)));
  if (half) {
    const half = kernels.f16ToF32(kernels.f32ToF16(nni.map((v) => v / unit)));
    // A channel whose scale is below 2⁻¹⁴ of the largest gets float16's subnormal steps (an
    // all-zero channel's scale may be anything).
    if (half.every((v) => Number.isFinite(v))) {
      scales = half.map((v) => v * unit);
      storage = "float16";
    }
  }
  const dtype = p.bits <= 8 ? "uint8" : "uint16";
  return { site, dtype, min: p.qmin - zp, max: p.qmax - zp, nni, scales, unit, storage };
}

/**
 * The integer levels of `values` (tfjs layout) on a channel grid with `scales`, or undefined
 * when a value is not `level · scale_c` in float32 for a level in range.
 */
function channelLevels(
  values: Float32Array,
  grid: ChannelGrid,
  scales: Float32Array,
): Float32Array | undefined {
  const at = channelOf(grid.site, values.length);
  const levels = new Float32Array(values.length);
  const check = new Float32Array(1);
  for (let i = 0; i < values.length; i++) {
    const s = scales[at(i)];
    const l = Math.round(values[i] / s);
    if (!(l >= grid.min && l <= grid.max)) return undefined;
    check[0] = l * s;
    if (check[0] !== values[i]) return undefined;
    levels[i] = l;
  }
  return levels;
}

/** A per-tensor target's grid as tfjs stores it: code 0 is `qmin`. */
const perTensorGrid = (p: TargetQuantParams) => ({
  min: (p.qmin - p.zeroPoint[0]) * p.scale[0],
  scale: p.scale[0],
});

/**
 * The per-tensor uint8 targets of a quantization run that `quantizedTfjs` stores as tfjs uint8
 * codes on their own grid (float weights not already stored as codes), with that grid and the
 * original values: what GPTQ rounding (`gptqTfjsKernel`) chooses codes for. With
 * `channelScales` (as given to `quantizedTfjs`), also the per-channel targets of at most 8 bits
 * it stores with channel scales: their grid is the levels `qmin - zp … qmax - zp` with the
 * scales as written (`TfjsGrid.channelScales`); with `headroom` (and `biasCorrection`) as given
 * to `quantizedTfjs`, the kernels whose scales do not fit get the per-tensor grid it writes them
 * on (`fitTfjsChannelScales`).
 *
 * @param source The decoded model.
 * @param model The model view the parameters were computed on.
 * @param params Parameters from `quantize`.
 * @param options `channelScales`, `headroom`, `biasCorrection`, and the kernels (default
 * `getKernels()`).
 * @returns By weight name: the grid (the value of each code as tfjs decodes it) and the original
 * values, tfjs layout.
 */
export async function tfjsUint8Grids(
  source: TfjsModel,
  model: ModelGraph,
  params: readonly TargetQuantParams[],
  options: {
    readonly channelScales?: boolean;
    readonly headroom?: number;
    readonly biasCorrection?: boolean;
    readonly kernels?: Kernels;
  } = {},
): Promise<Map<string, { grid: TfjsGrid; values: Float32Array }>> {
  const specs = new Map(source.weights.map((w) => [w.spec.name, w.spec]));
  const sites = options.channelScales === true ? tfjsChannelScaleSites(source) : undefined;
  const kernels = options.kernels ?? getKernels();
  const out = new Map<string, { grid: TfjsGrid; values: Float32Array }>();
  const fit = sites === undefined ? undefined : await fitTfjsChannelScales(
    source,
    model,
    params,
    {
      headroom: options.headroom ?? 0,
      biasCorrection: options.biasCorrection,
      kernels,
      sites,
    },
  );
  const targets = fit?.params ?? params;
  const halfScales = fit?.halfScales ?? new Set<string>();
  for (const p of targets) {
    if (p.kind !== "parameter" || p.bits > 8) continue;
    const ref = paramRef(model, p.module, p.target, p.configIndex);
    const spec = specs.get(ref.name);
    if (spec?.dtype !== "float32" || spec.quantization?.dtype === "uint8") continue;
    if (spec.quantization?.dtype === "uint16" && p.bits >= 16) continue;
    let grid: TfjsGrid;
    if (p.scale.length === 1) {
      const { min, scale } = perTensorGrid(p);
      const levels = new Float32Array(p.qmax - p.qmin + 1);
      for (let k = 0; k < levels.length; k++) levels[k] = k * scale + min;
      grid = { min, scale, levels };
    } else {
      const channel = sites === undefined
        ? undefined
        : channelGrid(p, spec, sites.get(ref.name), kernels, halfScales.has(ref.name) || undefined);
      if (channel === undefined) continue;
      const levels = new Float32Array(channel.max - channel.min + 1);
      for (let k = 0; k < levels.length; k++) levels[k] = k + channel.min;
      grid = { min: channel.min, scale: 1, levels, channelScales: channel.scales };
    }
    out.set(ref.name, { grid, values: toTfjsLayout(ref, await ref.data()) });
  }
  return out;
}

/** A kernel whose channel scales did not fit the size budget (`fitTfjsChannelScales`). */
export interface TfjsDroppedScales {
  /** The weight name. */
  readonly name: string;
  /** The module and target of the quantization target. */
  readonly module: string;
  readonly target: string;
  /** Its output channels, and the bytes their scales would have taken. */
  readonly channels: number;
  readonly scaleBytes: number;
  /** The mean relative channel error per channel (as configured) and per tensor (as written). */
  readonly channelError: number;
  readonly tensorError: number;
}

/** What `fitTfjsChannelScales` kept within the budget. */
export interface FittedTfjsChannelScales {
  /** The parameters, the dropped kernels' targets per tensor. */
  readonly params: readonly TargetQuantParams[];
  /** The kernels quantized per tensor because their scales did not fit. */
  readonly dropped: readonly TfjsDroppedScales[];
  /** The float32 kernels whose scales are stored as float16 to fit. */
  readonly halfScales: ReadonlySet<string>;
}

/** Options of `fitTfjsChannelScales`. */
export interface FitTfjsChannelScalesOptions {
  /** The headroom (`QuantizedTfjsOptions.headroom`); 0 or less: no budget, nothing dropped. */
  readonly headroom: number;
  /** Whether bias correction will run: the biases it may add are paid first. */
  readonly biasCorrection?: boolean;
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
  /** The channel-scale sites (default `tfjsChannelScaleSites(source)`). */
  readonly sites?: ReadonlyMap<string, TfjsChannelScaleSite>;
}

/**
 * The targets `quantizedTfjs` stores with channel scales, fitted to the size budget of
 * `headroom`: the written weights within 25% + headroom of the source's float32 and integer
 * bytes and 50% + headroom of its float16 bytes. Every weight is counted at the bytes it will be
 * written in (codes, the fallbacks, untouched weights as stored), plus the biases bias correction
 * may add. When the scales do not fit, a float32 kernel's scales are stored as float16 (relative
 * to a power of two, as a float16 kernel's: values within 2⁻¹¹ of NNI's), the kernels with the
 * most channels first, until they fit (`halfScales`); while they still do not, the kernel that
 * gains the least from its scales per scale byte (mean relative channel error per tensor minus per channel, see `headroom`) is
 * quantized per tensor instead: its target's parameters are NNI's per-tensor ones on the
 * kernel's whole tracked range, with the same dtype and scheme. A depthwise kernel pays a scale
 * per nine weights, a wide 1x1 convolution one per hundreds, and BatchNorm folded in makes some
 * kernels' channels far apart: the ranking keeps the scales where they matter. `headroom` is
 * spent on 16-bit storage only with what the kept scales leave.
 *
 * @param source The decoded model.
 * @param model The model view the parameters were computed on.
 * @param params Parameters from `quantize`.
 * @param options The headroom, bias correction, kernels and sites.
 * @returns The parameters with the dropped kernels' targets per tensor, and those kernels
 * (empty when every scale fits or there is no headroom).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTfjs } from "../io/tfjs/read_tfjs.ts";
 * import { tfjsModel } from "../model/tfjs_model.ts";
 * import { quantize } from "./quantize.ts";
 * import { fitTfjsChannelScales } from "./quantized_tfjs.ts";
 *
 * // A 1x1 convolution with 4 inputs and 2 output channels: 8 weights, 2 float32 scales (8
 * // bytes) against 32 bytes of float32 weights.
 * const json = JSON.stringify({
 *   format: "graph-model",
 *   modelTopology: { node: [
 *     { name: "x", op: "Placeholder", attr: { dtype: { type: "DT_FLOAT" }, shape: { shape: { dim: [{ size: "1" }, { size: "1" }, { size: "1" }, { size: "4" }] } } } },
 *     { name: "k", op: "Const", attr: { dtype: { type: "DT_FLOAT" } } },
 *     { name: "conv", op: "Conv2D", input: ["x", "k"], attr: { strides: { list: { i: ["1", "1", "1", "1"] } }, padding: { s: btoa("VALID") } } },
 *   ] },
 *   weightsManifest: [{ paths: ["w.bin"], weights: [{ name: "k", shape: [1, 1, 4, 2], dtype: "float32" }] }],
 * });
 * const k = Float32Array.of(1, 0.01, -2, 0.02, 0.5, -0.03, 3, 0.04);
 * const source = readTfjs(json, new Map([["w.bin", new Uint8Array(k.buffer)]]));
 * const view = tfjsModel(source);
 * const q = await quantize(view, [{ op_types: ["Conv2d"], target_names: ["weight"], quant_dtype: "int8", granularity: "per_channel" }]);
 * // 27% of 32 bytes is 8.6 bytes: the 8 bytes of codes leave no room for the scales.
 * const tight = await fitTfjsChannelScales(source, view, q.params, { headroom: 0.02 });
 * assert.equal(tight.dropped.length, 1);
 * assert.equal(tight.params[0].scale.length, 1);
 * // At 50% headroom they fit.
 * const room = await fitTfjsChannelScales(source, view, q.params, { headroom: 0.5 });
 * assert.equal(room.dropped.length, 0);
 * assert.equal(room.params[0].scale.length, 2);
 * ```
 */
export async function fitTfjsChannelScales(
  source: TfjsModel,
  model: ModelGraph,
  params: readonly TargetQuantParams[],
  options: FitTfjsChannelScalesOptions,
): Promise<FittedTfjsChannelScales> {
  const headroom = options.headroom;
  const none = { params, dropped: [], halfScales: new Set<string>() };
  if (!(headroom > 0)) return none;
  const kernels = options.kernels ?? getKernels();
  const sites = options.sites ?? tfjsChannelScaleSites(source);
  const specs = new Map(source.weights.map((w) => [w.spec.name, w.spec]));
  const sizes = new Map(source.weights.map((w) => [w.spec.name, w.bytes.byteLength]));
  const cap = budgetCap(source, headroom);
  const scaled: {
    index: number;
    p: TargetQuantParams;
    name: string;
    scaleBytes: number;
    half?: number;
  }[] = [];
  const replaced = new Set<string>();
  for (const [index, p] of params.entries()) {
    if (p.kind !== "parameter") continue;
    const ref = paramRef(model, p.module, p.target, p.configIndex);
    const spec = specs.get(ref.name);
    if (spec === undefined || spec.dtype !== "float32") continue;
    const stored = spec.quantization?.dtype;
    if ((stored === "uint8" && p.bits >= 8) || (stored === "uint16" && p.bits >= 16)) continue;
    replaced.add(ref.name);
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const codeBytes = n * (p.bits <= 8 ? 1 : 2);
    if (p.scale.length === 1 && p.bits <= 16) {
      sizes.set(ref.name, codeBytes);
      continue;
    }
    const grid = channelGrid(p, spec, sites.get(ref.name), kernels);
    if (grid !== undefined) {
      sizes.set(ref.name, codeBytes);
      const half = grid.storage === "float32"
        ? channelGrid(p, spec, sites.get(ref.name), kernels, true)
        : undefined;
      scaled.push({
        index,
        p,
        name: ref.name,
        scaleBytes: scaleCost(grid),
        ...(half?.storage === "float16" ? { half: scaleCost(half) } : {}),
      });
    } else {
      const fake = fakeQuantize(await ref.data(), ref.shape, p, { kernels });
      sizes.set(ref.name, n * (exactHalf(fake, kernels) ? 2 : 4));
    }
  }
  let total = [...sizes.values()].reduce((a, b) => a + b, 0) +
    (options.biasCorrection === true ? newBiasBytes(source, replaced) : 0) +
    scaled.reduce((a, c) => a + c.scaleBytes, 0);
  if (total <= cap) return none;
  // float16 scales before none: within 2⁻¹¹ of NNI's, where per tensor is far from them. The
  // kernels with the most scales first, so that as few as needed leave NNI's values.
  const halfScales = new Set<string>();
  for (const c of [...scaled].sort((a, b) => b.scaleBytes - a.scaleBytes)) {
    if (total <= cap) return { params, dropped: [], halfScales };
    if (c.half === undefined) continue;
    total -= c.scaleBytes - c.half;
    c.scaleBytes = c.half;
    halfScales.add(c.name);
  }
  if (total <= cap) return { params, dropped: [], halfScales };
  const ranked = [];
  for (const c of scaled) {
    const ref = paramRef(model, c.p.module, c.p.target, c.p.configIndex);
    const original = await ref.data();
    const perTensor = perTensorParams(c.p);
    const channels = c.p.scale.length;
    const channelErr = channelError(
      original,
      fakeQuantize(original, ref.shape, c.p, { kernels }),
      channels,
    );
    const tensorErr = channelError(
      original,
      fakeQuantize(original, ref.shape, perTensor, { kernels }),
      channels,
    );
    ranked.push({
      ...c,
      perTensor,
      channels,
      channelErr,
      tensorErr,
      gain: (tensorErr - channelErr) / c.scaleBytes,
    });
  }
  // Least gain per byte first; ties keep graph order (the sort is stable).
  ranked.sort((a, b) => a.gain - b.gain);
  const out = [...params];
  const dropped: TfjsDroppedScales[] = [];
  for (const c of ranked) {
    if (total <= cap) break;
    total -= c.scaleBytes;
    out[c.index] = c.perTensor;
    dropped.push({
      name: c.name,
      module: c.p.module,
      target: c.p.target,
      channels: c.channels,
      scaleBytes: c.scaleBytes,
      channelError: c.channelErr,
      tensorError: c.tensorErr,
    });
  }
  for (const d of dropped) halfScales.delete(d.name);
  return { params: out, dropped, halfScales };
}

/** NNI's per-tensor parameters of a target on its whole tracked range (same dtype and scheme). */
function perTensorParams(p: TargetQuantParams): TargetQuantParams {
  const trackedMin = Float32Array.of(p.trackedMin.reduce((m, v) => Math.min(m, v), Infinity));
  const trackedMax = Float32Array.of(p.trackedMax.reduce((m, v) => Math.max(m, v), -Infinity));
  const { scale, zeroPoint } = computeQuantParams({
    trackedMin,
    trackedMax,
    qmin: p.qmin,
    qmax: p.qmax,
    scheme: p.quantScheme,
  });
  return {
    ...p,
    granularity: null,
    gridShape: [],
    kernel: p.shape.map(() => -1),
    trackedMin,
    trackedMax,
    scale,
    zeroPoint,
  };
}

/** What `correctBiases` did, and the model to write (with the new biases, if any). */
interface CorrectedBiases {
  readonly corrected: readonly string[];
  readonly skipped: readonly string[];
  readonly added: readonly { readonly node: string; readonly weight: string }[];
  readonly model: TfjsModel;
}

/**
 * Bias correction of the written model (see `QuantizedTfjsOptions.inputMeans`): rewrites the
 * bias replacements, and returns the model with new biases for layers that had none. Biases
 * stored as tfjs uint8/uint16 codes are left alone (a corrected bias would leave their grid).
 */
function correctBiases(
  source: TfjsModel,
  replacements: Map<string, TfjsReplacement>,
  means: ReadonlyMap<string, ArrayLike<number>>,
  kernels: Kernels,
): CorrectedBiases {
  const sites = tfjsBiasSites(source).filter((s) =>
    s.bias === undefined || !isCodes(source, replacements, s.bias)
  );
  if (!sites.some((s) => replacements.has(s.kernel))) {
    return { corrected: [], skipped: [], added: [], model: source };
  }
  // What tfjs decodes from the written weights.
  const written = encodeTfjs(source, replacements, {
    shardBytes: Number.MAX_SAFE_INTEGER,
    kernels,
  });
  const decoded = readTfjs(written.modelJson, written.shards, { file: source.file });
  const byName = new Map(decoded.weights.map((w) => [w.spec.name, w]));
  const original = new Map(source.weights.map((w) => [w.spec.name, w]));
  const kernelsOf = new Map<string, { shape: readonly number[]; values: Float32Array }>();
  const quantized = new Map<string, Float32Array>();
  const biases = new Map<string, Float32Array>();
  for (const s of sites) {
    const w = original.get(s.kernel)!;
    kernelsOf.set(s.kernel, { shape: w.spec.shape, values: tfjsWeightValues(w) as Float32Array });
    const dw = s.through === undefined ? undefined : original.get(s.through);
    if (dw !== undefined) {
      kernelsOf.set(dw.spec.name, {
        shape: dw.spec.shape,
        values: tfjsWeightValues(dw) as Float32Array,
      });
    }
    if (replacements.has(s.kernel)) {
      quantized.set(s.kernel, tfjsWeightValues(byName.get(s.kernel)!) as Float32Array);
    }
    if (s.bias !== undefined) {
      const r = replacements.get(s.bias);
      biases.set(
        s.bias,
        r !== undefined
          ? Float32Array.from(r.values)
          : tfjsWeightValues(original.get(s.bias)!) as Float32Array,
      );
    }
  }
  const out = biasCorrectTfjs(sites, kernelsOf, quantized, means, biases);
  for (const [name, values] of out.biases) {
    const spec = original.get(name)!.spec;
    const r = replacements.get(name);
    const storage = r?.storage ??
      (spec.quantization?.dtype === "float16" ? "float16" : "float32");
    replacements.set(name, { values, storage });
  }
  const withBiases = out.added.size === 0 ? undefined : withTfjsBiases(source, out.added);
  // A new bias is stored like its layer's kernel was: as float16 in a float16 model, so it adds
  // 2 bytes per channel, not 4 (the float16 rounding of a correction is far below uint8's).
  const half = new Set(
    sites.filter((s) => original.get(s.kernel)?.spec.quantization?.dtype === "float16")
      .map((s) => s.node),
  );
  for (const [node, weight] of withBiases?.weights ?? []) {
    const values = out.added.get(node);
    if (half.has(node) && values !== undefined) {
      replacements.set(weight, { values: Float32Array.from(values), storage: "float16" });
    }
  }
  return {
    corrected: out.corrected,
    skipped: out.skipped,
    added: [...withBiases?.weights ?? []].map(([node, weight]) => ({ node, weight })),
    model: withBiases?.model ?? source,
  };
}

/**
 * The most bytes bias correction can add: a bias for every quantized layer that has none and
 * cannot pass its shift to the next layer's (`TfjsBiasSite.into`), one value per output channel,
 * stored like the layer's kernel (float16 in a float16 model, else float32).
 */
function newBiasBytes(
  source: TfjsModel,
  replacements: { has(name: string): boolean },
): number {
  const specs = new Map(source.weights.map((w) => [w.spec.name, w.spec]));
  let bytes = 0;
  for (const s of tfjsBiasSites(source)) {
    if (s.bias !== undefined || s.into !== undefined || s.noNewBias === true) continue;
    if (!replacements.has(s.kernel)) continue;
    bytes += s.channels * (specs.get(s.kernel)?.quantization?.dtype === "float16" ? 2 : 4);
  }
  return bytes;
}

/** Whether a weight is (or stays) stored as uint8/uint16 codes. */
function isCodes(
  source: TfjsModel,
  replacements: ReadonlyMap<string, TfjsReplacement>,
  name: string,
): boolean {
  const r = replacements.get(name);
  if (r !== undefined) return r.storage === "uint8" || r.storage === "uint16";
  const q = source.weights.find((w) => w.spec.name === name)?.spec.quantization?.dtype;
  return q === "uint8" || q === "uint16";
}

/** The bytes a weight takes in the given storage. */
function storedBytes(spec: TfjsModel["weights"][number]["spec"], storage: TfjsStorage): number {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  return n * (storage === "float32" ? 4 : storage === "uint8" ? 1 : 2);
}

/**
 * The most weight bytes `headroom` allows: 25% + headroom of the source's float32 (and integer)
 * bytes, 50% + headroom of its float16 bytes (the limits hold for the whole file even with int32
 * constants in it).
 */
function budgetCap(source: TfjsModel, headroom: number): number {
  let cap = 0;
  for (const w of source.weights) {
    const half = w.spec.quantization?.dtype === "float16";
    cap += ((half ? 0.5 : 0.25) + headroom) * w.bytes.byteLength;
  }
  return cap;
}

/** A uint8 target that headroom may store at 16 bits. */
interface Candidate {
  readonly name: string;
  /** The original values, PyTorch layout. */
  readonly original: Float32Array;
  /** The original values, tfjs layout. */
  readonly stored: Float32Array;
  readonly channels: number;
  readonly error8: number;
}

/**
 * Stores uint8 targets at 16 bits while the weight bytes stay within 25% + `headroom` of the
 * source's float32 and integer bytes and 50% + `headroom` of its float16 bytes; rewrites
 * `replacements` and returns the targets changed. Without `measure` the targets go most damaged
 * per byte first (mean relative channel error). With it, every target is measured alone at
 * uint8, and they go by measured damage (1 - lowest output cosine) per byte (targets whose
 * damage is not positive are not stored so): on blazeface, centernet, faceres and
 * handlandmark-lite a few tensors carry most of the output error, and channel error does not
 * find them all (a 1x1 projection whose channels are even may still feed a sensitive head).
 */
async function spendHeadroom(
  source: TfjsModel,
  replacements: Map<string, TfjsReplacement>,
  candidates: readonly Candidate[],
  headroom: number,
  reserved: number,
  kernels: Kernels,
  measure?: (replacements: ReadonlyMap<string, TfjsReplacement>) => Promise<number>,
  sizes: ReadonlyMap<string, number> = new Map(),
): Promise<TfjsUpgrade[]> {
  if (!(headroom > 0) || candidates.length === 0) return [];
  let total = reserved;
  for (const w of source.weights) {
    const r = replacements.get(w.spec.name);
    total += sizes.get(w.spec.name) ??
      (r === undefined ? w.bytes.byteLength : storedBytes(w.spec, r.storage ?? "float32"));
  }
  const cap = budgetCap(source, headroom);
  /** The 16-bit storage closer to the original, and its channel error. */
  const wide = (c: Candidate) => {
    const half = kernels.f16ToF32(kernels.f32ToF16(c.original));
    const errHalf = channelError(c.original, half, c.channels);
    const errWide = channelError(c.original, uint16Values(c.original), c.channels);
    return errHalf <= errWide
      ? { storage: "float16" as const, error16: errHalf }
      : { storage: "uint16" as const, error16: errWide };
  };
  let ranked = candidates.filter((c) => c.error8 > 0 && c.original.length <= cap - total);
  const measured = new Map<string, { score: number; storage: "float16" | "uint16" }>();
  if (measure === undefined) {
    ranked.sort((a, b) => b.error8 / b.original.length - a.error8 / a.original.length);
  } else {
    // Each target alone at uint8 (every other weight as stored in the source): its damage to the
    // outputs, 1 - cosine. Damages of different tensors roughly add up, so the ones that
    // damage the most per byte go to 16 bits first.
    for (const c of ranked) {
      const alone = new Map([[c.name, replacements.get(c.name)!]]);
      measured.set(c.name, { score: 1 - await measure(alone), storage: wide(c).storage });
    }
    const damage = (c: Candidate) => measured.get(c.name)!.score / c.original.length;
    ranked = ranked.filter((c) => damage(c) > 0).sort((a, b) => damage(b) - damage(a));
  }
  const upgraded: TfjsUpgrade[] = [];
  for (const c of ranked) {
    // 16-bit storage takes one more byte per value than uint8.
    if (total + c.original.length > cap) continue;
    const { storage, error16 } = wide(c);
    if (measure === undefined && !(error16 < c.error8)) continue;
    replacements.set(c.name, { values: c.stored, storage });
    total += c.original.length;
    const m = measured.get(c.name);
    upgraded.push({
      name: c.name,
      storage,
      error8: c.error8,
      error16,
      ...(m === undefined ? {} : { damage: m.score }),
    });
  }
  return upgraded;
}
