/**
 * Safetensors in the compressed-tensors format (written by llm-compressor, read by vLLM and
 * Hugging Face transformers): `compressedTensorsScheme` says whether a set of quantization
 * parameters fits the format (and builds its `quantization_config`), `compressedTensorsSafetensors`
 * and `streamCompressedTensors` write the file, `readCompressedTensors` decodes it back.
 *
 * Layout (format `pack-quantized`, what llm-compressor writes for weight-only integer schemes):
 * for each quantized `Linear` weight `<module>.weight` of shape `[out, in]`:
 * - `<module>.weight_packed`: `I32 [out, ceil(in / f)]` with `f = floor(32 / num_bits)` codes per
 *   int32 along the input dim; each signed code `q` is stored as `q + 2^(num_bits - 1)` and code
 *   `j * f + i` of a row sits at bits `num_bits * i` of word `j` (a short last word is padded
 *   with zeros);
 * - `<module>.weight_scale`: `F32`, `[1]` (strategy `tensor`), `[out, 1]` (`channel`) or
 *   `[out, in / group_size]` (`group`);
 * - `<module>.weight_shape`: `I64 [2]`, `[out, in]`;
 * - `<module>.weight_zero_point`, only when asymmetric: per tensor `I8 [1]`; per channel or group
 *   the signed zero points packed like the codes but along dim 0 (`I32 [ceil(out / f), groups]`);
 * - `<module>.weight_g_idx`, only for activation-ordered groups (`actorder: "group"`, GPTQ's
 *   act-order without static groups): `I32 [in]`, the group of each input column in the original
 *   column order (codes and scales stay in that order too); column `c` dequantizes with
 *   `weight_scale[:, g_idx[c]]`. Every group holds `group_size` columns.
 * Every other tensor is written as stored. Dequantize with `(q - zero_point) * scale`.
 * nncompress's unsigned codes (`uint4`, `uint8`) become the format's signed ones by subtracting
 * `2^(num_bits - 1)` from codes and zero points alike, which leaves every dequantized value
 * unchanged.
 *
 * The file's `__metadata__` holds `"format": "pt"` and the `quantization_config` JSON
 * (`"nncompress.quantization_config"`), so the file alone can be decoded; the same object goes
 * into the model's `config.json` (see `docs/quantization.md`).
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { IntCodes, QuantParams } from "../kernels/types.ts";
import {
  type ByteSink,
  collectSafetensors,
  safetensorsLayout,
  type SafetensorsStreamInput,
  streamSafetensors,
} from "../io/safetensors/write_safetensors.ts";
import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
import { ModelFormatError } from "../io/model_format_error.ts";
import type { ModelGraph, TensorRef } from "../model/model_graph.ts";
import type { TargetQuantParams } from "./compute_target_quant_params.ts";
import { quantDtypeRange } from "./quant_dtype_range.ts";
import { type QuantizeOptions, quantizeTensor } from "./quantize_tensor.ts";
import { QuantizationError } from "./quantization_error.ts";
import { throwIfUnmatched } from "./_param_ref.ts";

/** The weight arguments of one config group (compressed-tensors' `QuantizationArgs`). */
export interface CompressedTensorsWeights {
  /** Bits per code (2 to 8). */
  readonly num_bits: number;
  /** Always `"int"` here. */
  readonly type: "int";
  /** Whether every zero point is 0 (then no zero point is stored). */
  readonly symmetric: boolean;
  /** One scale per tensor, per output channel, or per group of `group_size` inputs of a row. */
  readonly strategy: "tensor" | "channel" | "group";
  /** Inputs per group (`group` only, else `null`). */
  readonly group_size: number | null;
  /** Static scales: `false`. */
  readonly dynamic: false;
  /**
   * `"group"`: the groups follow the activation order (each column's group in `weight_g_idx`);
   * `null`: groups of consecutive columns.
   */
  readonly actorder: "group" | null;
  /** Not a block strategy: `null`. */
  readonly block_structure: null;
  /** The observer the ranges come from (`"minmax"`). */
  readonly observer: string;
  /** No observer arguments. */
  readonly observer_kwargs: Record<string, never>;
}

/** One config group: the modules it targets (exact names) and their weight arguments. */
export interface CompressedTensorsGroup {
  /** Module names (exact), or `re:<regex>` / a class name in files written elsewhere. */
  readonly targets: readonly string[];
  /** The weight arguments. */
  readonly weights: CompressedTensorsWeights;
  /** No input quantization: `null`. */
  readonly input_activations: null;
  /** No output quantization: `null`. */
  readonly output_activations: null;
  /** `"pack-quantized"`. */
  readonly format: "pack-quantized";
}

/** The `quantization_config` of `config.json` as vLLM and transformers read it. */
export interface CompressedTensorsConfig {
  /** `"compressed-tensors"`. */
  readonly quant_method: "compressed-tensors";
  /** `"pack-quantized"`. */
  readonly format: "pack-quantized";
  /** `"compressed"`: the weights in the file are the packed codes. */
  readonly quantization_status: "compressed";
  /** The groups, `group_0`, `group_1`, … */
  readonly config_groups: Readonly<Record<string, CompressedTensorsGroup>>;
  /** Modules left as they are (none: targets are exact names). */
  readonly ignore: readonly string[];
  /** No KV-cache quantization: `null`. */
  readonly kv_cache_scheme: null;
}

/** Whether parameters fit the format: its config, or why not. */
export type CompressedTensorsFit =
  | { readonly fits: true; readonly config: CompressedTensorsConfig }
  | { readonly fits: false; readonly reason: string };

/** One weight as the format stores it, for the writer. */
interface Plan {
  readonly p: TargetQuantParams;
  readonly weights: CompressedTensorsWeights;
  /** What is subtracted from nncompress's codes and zero points (unsigned dtypes). */
  readonly offset: number;
  /** The group of each input column (activation-ordered groups). */
  readonly groupIndex?: Int32Array;
}

const META_KEY = "nncompress.quantization_config";

/** Options of `compressedTensorsScheme`. */
export interface CompressedTensorsSchemeOptions {
  /**
   * Per module name, the group of each input column (`[in]`) for weights whose groups of
   * `group_size` columns follow the activation order (GPTQ's `groupIndex` under act-order
   * without static groups): written as `weight_g_idx` with `actorder: "group"`. Their parameters
   * have the grid `[out, in / group_size]` (`kernel [1, group_size]`), group `g` in column `g`.
   */
  readonly groupIndex?: ReadonlyMap<string, Int32Array>;
}

/** Whether `g_idx` maps each of `cols` columns to a group in `[0, groups)`, `size` columns each. */
function groupIndexError(
  g: Int32Array,
  cols: number,
  groups: number,
  size: number,
): string | undefined {
  if (g.length !== cols) return `has ${g.length} entries for ${cols} input columns`;
  const count = new Int32Array(groups);
  for (let c = 0; c < cols; c++) {
    const v = g[c];
    if (!Number.isInteger(v) || v < 0 || v >= groups) {
      return `maps column ${c} to group ${v}, outside [0, ${groups})`;
    }
    count[v]++;
  }
  const bad = count.findIndex((n) => n !== size);
  return bad < 0 ? undefined : `gives group ${bad} ${count[bad]} columns instead of ${size}`;
}

/** How many codes of `bits` bits one int32 holds. */
function packFactor(bits: number): number {
  return Math.floor(32 / bits);
}

/**
 * Checks each quantized parameter against what the format can express and groups them by their
 * weight arguments. It fits when every quantized parameter is the `weight` of a module with a
 * 2-D tensor (a `Linear`), has 2 to 8 bits, and has one scale per tensor, per output channel
 * (`out_channel`, `per_channel`), or per group of consecutive inputs of a row (granularity
 * `[1, g]` with `g` dividing the inputs); otherwise the reason names the first parameter that
 * does not fit.
 *
 * @param model The model the parameters were computed on.
 * @param params Parameters from `quantizeWeights` (input/output targets are not stored).
 * @param options Each act-ordered weight's group index.
 * @returns `{ fits: true, config }`, or `{ fits: false, reason }`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { safetensorsModel } from "../model/safetensors_model.ts";
 * import { quantizeWeights } from "./quantize_weights.ts";
 * import { compressedTensorsScheme } from "./compressed_tensors.ts";
 *
 * const model = safetensorsModel(readSafetensors(writeSafetensors([
 *   { name: "fc.weight", dtype: "F32", shape: [2, 4], data: Float32Array.of(1, -2, 3, 4, 5, 6, -7, 8) },
 *   { name: "fc.bias", dtype: "F32", shape: [2], data: Float32Array.of(1, 2) },
 * ])));
 * const weights = await quantizeWeights(model, [{ op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int4", granularity: [1, 2] }]);
 * const fit = compressedTensorsScheme(model, weights.params);
 * assert.ok(fit.fits && fit.config.config_groups.group_0.weights.group_size === 2);
 * const all = await quantizeWeights(model, [{ op_types: ["Linear"], target_names: ["weight", "bias"], quant_dtype: "int8" }]);
 * const no = compressedTensorsScheme(model, all.params);
 * assert.ok(!no.fits && no.reason.includes("fc.bias"));
 * ```
 */
export function compressedTensorsScheme(
  model: ModelGraph,
  params: readonly TargetQuantParams[],
  options: CompressedTensorsSchemeOptions = {},
): CompressedTensorsFit {
  const planned = plan(model, params, options.groupIndex);
  if (!Array.isArray(planned)) return { fits: false, reason: planned.reason };
  return { fits: true, config: configOf(planned) };
}

function plan(
  model: ModelGraph,
  params: readonly TargetQuantParams[],
  groupIndex: ReadonlyMap<string, Int32Array> | undefined,
): Plan[] | { reason: string } {
  const modules = new Map(model.modules.map((m) => [m.name, m]));
  const out: Plan[] = [];
  for (const p of params) {
    if (p.kind !== "parameter") continue;
    const name = p.module === "" ? p.target : `${p.module}.${p.target}`;
    const no = (why: string) => ({ reason: `${name} (config ${p.configIndex}) ${why}` });
    const ref = modules.get(p.module)?.params[p.target];
    if (ref === undefined) continue; // the writer reports the missing tensor
    if (p.target !== "weight" || p.module === "") {
      return no(
        "is not a module's weight: compressed-tensors stores only `<module>.weight` quantized",
      );
    }
    if (ref.shape.length !== 2) {
      return no(
        `has shape ${
          JSON.stringify(ref.shape)
        }: compressed-tensors packs 2-D (Linear) weights only`,
      );
    }
    if (p.bits < 2 || p.bits > 8) {
      return no(`has ${p.bits} bits: compressed-tensors packs 2 to 8 bits into int32`);
    }
    const [rows, cols] = ref.shape;
    const [k0, k1] = p.kernel;
    const whole = (k: number, n: number) => k === -1 || k === n;
    let strategy: CompressedTensorsWeights["strategy"];
    let group: number | null = null;
    if (whole(k0, rows) && whole(k1, cols)) strategy = "tensor";
    else if (k0 === 1 && whole(k1, cols)) strategy = "channel";
    else if (k0 === 1 && k1 > 0 && cols % k1 === 0) {
      strategy = "group";
      group = k1;
    } else {
      return no(
        `has granularity ${JSON.stringify(p.granularity)} (one scale per block of ${
          JSON.stringify(p.kernel)
        }): compressed-tensors has one scale per tensor, per output channel, or per group of inputs that divides a row`,
      );
    }
    const { signed } = quantDtypeRange(p.quantDtype);
    const offset = signed ? 0 : 2 ** (p.bits - 1);
    const lo = -(2 ** (p.bits - 1));
    const hi = 2 ** (p.bits - 1) - 1;
    if (p.qmin - offset < lo || p.qmax - offset > hi) {
      return no(`has codes ${p.qmin}..${p.qmax}, outside the format's ${p.bits}-bit range`);
    }
    const symmetric = p.zeroPoint.every((z) => z - offset === 0);
    const gIdx = groupIndex?.get(p.module);
    if (gIdx !== undefined) {
      if (strategy !== "group") {
        return no(
          `has a group index (activation order) but granularity ${
            JSON.stringify(p.granularity)
          }: compressed-tensors' weight_g_idx maps columns to groups of the group strategy`,
        );
      }
      const bad = groupIndexError(gIdx, cols, cols / group!, group!);
      if (bad !== undefined) return no(`has a group index that ${bad}`);
    }
    out.push({
      p,
      offset,
      ...(gIdx === undefined ? {} : { groupIndex: gIdx }),
      weights: {
        num_bits: p.bits,
        type: "int",
        symmetric,
        strategy,
        group_size: group,
        dynamic: false,
        actorder: gIdx === undefined ? null : "group",
        block_structure: null,
        observer: "minmax",
        observer_kwargs: {},
      },
    });
  }
  if (out.length === 0) return { reason: "no weight is quantized" };
  return out;
}

function configOf(planned: readonly Plan[]): CompressedTensorsConfig {
  const groups = new Map<string, { targets: string[]; weights: CompressedTensorsWeights }>();
  for (const { p, weights } of planned) {
    const key = JSON.stringify(weights);
    const g = groups.get(key) ?? { targets: [], weights };
    g.targets.push(p.module);
    groups.set(key, g);
  }
  // Targets sorted, groups in the order of their first target: the same config whatever order
  // the modules come in (a sharded checkpoint lists them shard by shard).
  const sorted = [...groups.values()].map((g) => ({ ...g, targets: g.targets.sort() }))
    .sort((a, b) => (a.targets[0] < b.targets[0] ? -1 : 1));
  const config_groups: Record<string, CompressedTensorsGroup> = {};
  for (const [i, g] of sorted.entries()) {
    config_groups[`group_${i}`] = {
      targets: g.targets,
      weights: g.weights,
      input_activations: null,
      output_activations: null,
      format: "pack-quantized",
    };
  }
  return {
    quant_method: "compressed-tensors",
    format: "pack-quantized",
    quantization_status: "compressed",
    config_groups,
    ignore: [],
    kv_cache_scheme: null,
  };
}

/**
 * Packs signed codes of `bits` bits of a `[rows, cols]` grid into int32 words along dim 0, as
 * compressed-tensors' `pack_to_int32` does for zero points (weights: `packColumns`).
 */
function packInt32(codes: ArrayLike<number>, rows: number, cols: number, bits: number): Int32Array {
  const f = packFactor(bits);
  const half = 2 ** (bits - 1);
  const mask = 2 ** bits - 1;
  const out = new Int32Array(Math.ceil(rows / f) * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const u = (codes[r * cols + c] + half) & mask;
      out[Math.floor(r / f) * cols + c] |= u << (bits * (r % f));
    }
  }
  return out;
}

/** The inverse of `packColumns` and `packInt32`: signed codes of a `[rows, cols]` grid. */
function unpackInt32(
  words: Int32Array,
  rows: number,
  cols: number,
  bits: number,
  alongRows: boolean,
): Int8Array {
  const f = packFactor(bits);
  const half = 2 ** (bits - 1);
  const mask = 2 ** bits - 1;
  const out = new Int8Array(rows * cols);
  const per = alongRows ? cols : Math.ceil(cols / f);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const w = alongRows
        ? words[Math.floor(r / f) * per + c] >>> (bits * (r % f))
        : words[r * per + Math.floor(c / f)] >>> (bits * (c % f));
      out[r * cols + c] = (w & mask) - half;
    }
  }
  return out;
}

/** Options of `streamCompressedTensors`. */
export interface StreamCompressedTensorsOptions
  extends QuantizeOptions, CompressedTensorsSchemeOptions {
  /** Extra `__metadata__` entries (the format's keys win). */
  readonly metadata?: Readonly<Record<string, string>>;
  /**
   * The config to write, for a file that is one shard of a checkpoint whose other shards hold
   * other weights (default: the config of `params`).
   */
  readonly config?: CompressedTensorsConfig;
  /** Called with each quantized tensor's values before (float32) and its codes as written. */
  readonly onQuantized?: (param: TargetQuantParams, before: Float32Array, codes: IntCodes) => void;
  /**
   * Produces a weight's `weight_packed` bytes in place of this thread (for instance on worker
   * threads; weights without a group index): it must return what `compressedPackedBytes` gives
   * for the weight's values. `onQuantized` is not called for them.
   */
  readonly codeBytes?: (param: TargetQuantParams, ref: TensorRef) => Promise<Uint8Array>;
  /**
   * The weights whose `weight_packed` bytes are in the sink's file already, at the offsets
   * `compressedTensorsLayout` gives (written with `ByteSink.writeAt`): passed over, not produced
   * again. Names are the weights' own (`fc.weight`).
   */
  readonly written?: ReadonlySet<string>;
}

/**
 * Where `streamCompressedTensors` puts each tensor of `model` quantized with `params`: byte
 * offsets by name, and the file's size. The layout depends on the parameters' configuration
 * and on whether their zero points are 0, not on their scales.
 *
 * @param model The model.
 * @param params The parameters (their configuration and zero points are read).
 * @param options The config to write and extra metadata, as for `streamCompressedTensors`.
 * @returns The offsets by tensor name and the file's size.
 * @throws {QuantizationError} Code `storage` when the parameters do not fit the format.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { safetensorsModel } from "../model/safetensors_model.ts";
 * import { quantizeWeights } from "./quantize_weights.ts";
 * import { compressedTensorsLayout, compressedTensorsSafetensors } from "./compressed_tensors.ts";
 *
 * const model = safetensorsModel(readSafetensors(writeSafetensors([
 *   { name: "fc.weight", dtype: "F32", shape: [2, 4], data: Float32Array.of(1, -2, 3, 4, 5, 6, -7, 8) },
 * ])));
 * const { params } = await quantizeWeights(model, [{ op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int8" }]);
 * const { bytes } = await compressedTensorsSafetensors(model, params);
 * const { offsets, size } = compressedTensorsLayout(model, params);
 * assert.equal(size, bytes.length);
 * assert.ok(offsets.has("fc.weight_packed"));
 * ```
 */
export function compressedTensorsLayout(
  model: ModelGraph,
  params: readonly TargetQuantParams[],
  options: Pick<StreamCompressedTensorsOptions, "config" | "metadata"> = {},
): { offsets: Map<string, number>; size: number } {
  const { inputs, metadata } = compressedInputs(model, params, options);
  return safetensorsLayout(inputs, { metadata });
}

/**
 * A 2-D weight's `weight_packed` tensor as stored: its codes (`quantizeTensor`) shifted to signed
 * and packed into int32 words along each row, as compressed-tensors' `pack_to_int32` does, in
 * little-endian bytes.
 *
 * @param values The weight, row-major `[rows, cols]`.
 * @param shape Its shape.
 * @param p Its parameters (2 to 8 bits).
 * @param options The kernels, and a callback with the codes before they are packed.
 * @returns The packed bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { safetensorsModel } from "../model/safetensors_model.ts";
 * import { quantizeWeights } from "./quantize_weights.ts";
 * import { compressedPackedBytes } from "./compressed_tensors.ts";
 *
 * const w = Float32Array.of(-4, -2, 0, 2, 4, 1, 3, -1);
 * const model = safetensorsModel(readSafetensors(writeSafetensors([
 *   { name: "fc.weight", dtype: "F32", shape: [1, 8], data: w },
 * ])));
 * const { params } = await quantizeWeights(model, [{ op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int4" }]);
 * const bytes = compressedPackedBytes(w, [1, 8], params[0]);
 * assert.equal(bytes.length, 4); // eight 4-bit codes in one int32
 * ```
 */
export function compressedPackedBytes(
  values: Float32Array,
  shape: readonly number[],
  p: TargetQuantParams,
  options: QuantizeOptions & {
    readonly onQuantized?: (p: TargetQuantParams, before: Float32Array, codes: IntCodes) => void;
    /** A buffer the 8-bit codes may be written into, and packed in place (of their size). */
    readonly into?: ArrayBuffer;
  } = {},
): Uint8Array {
  const [rows, cols] = shape;
  const offset = quantDtypeRange(p.quantDtype).signed ? 0 : 2 ** (p.bits - 1);
  // 8-bit codes in whole words: each word's bytes are its codes, shifted in place.
  const bytewise = p.bits === 8 && cols % 4 === 0 && LITTLE_ENDIAN;
  const codes = quantizeTensor(values, shape, p, {
    kernels: options.kernels ?? getKernels(),
    ...(bytewise && options.into !== undefined ? { into: options.into } : {}),
  });
  options.onQuantized?.(p, values, codes);
  if (bytewise) {
    const bytes = new Uint8Array(codes.buffer, codes.byteOffset, codes.byteLength);
    // Unsigned codes (offset 128) are stored as they are; signed ones `q + 128`, which in a
    // byte is `q` with its top bit flipped: four at a time.
    if (offset === 0) {
      const words = codes.byteOffset % 4 === 0
        ? new Uint32Array(codes.buffer, codes.byteOffset, bytes.length >>> 2)
        : undefined;
      if (words !== undefined) { for (let i = 0; i < words.length; i++) words[i] ^= 0x80808080; }
      for (let i = words === undefined ? 0 : words.length * 4; i < bytes.length; i++) {
        bytes[i] ^= 0x80;
      }
    }
    return bytes;
  }
  const packed = packColumns(codes, offset, rows, cols, p.bits);
  return new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength);
}

/** Whether typed arrays are little-endian here (as safetensors stores numbers). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * \`packInt32\` along each row of codes that are \`offset\` above signed ones (unsigned dtypes):
 * word by word, with 8-bit codes in whole words written as bytes (each word's bytes are its
 * codes, little-endian).
 */
function packColumns(
  codes: ArrayLike<number>,
  offset: number,
  rows: number,
  cols: number,
  bits: number,
): Int32Array {
  const f = packFactor(bits);
  const words = Math.ceil(cols / f);
  const mask = 2 ** bits - 1;
  const add = 2 ** (bits - 1) - offset;
  const out = new Int32Array(rows * words);
  let i = 0;
  let o = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c += f) {
      const end = Math.min(f, cols - c);
      let w = 0;
      for (let k = 0; k < end; k++) w |= ((codes[i + k] + add) & mask) << (bits * k);
      out[o++] = w;
      i += end;
    }
  }
  return out;
}

/**
 * The file of `streamCompressedTensors` in memory.
 *
 * @param model The model the parameters were computed on.
 * @param params Parameters from `quantizeWeights`.
 * @param options The kernels and extra metadata.
 * @returns The file bytes and the `quantization_config`.
 * @throws {QuantizationError} Code `storage` when the parameters do not fit the format (the
 * reason of `compressedTensorsScheme`), `missing_tensor` when a target is not in the model.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { safetensorsModel } from "../model/safetensors_model.ts";
 * import { quantizeWeights } from "./quantize_weights.ts";
 * import { compressedTensorsSafetensors } from "./compressed_tensors.ts";
 *
 * const model = safetensorsModel(readSafetensors(writeSafetensors([
 *   { name: "fc.weight", dtype: "F32", shape: [1, 8], data: Float32Array.of(0, 1, 2, 3, 4, 5, 6, 7) },
 * ])));
 * const { params } = await quantizeWeights(model, [{ op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int4" }]);
 * const { bytes } = await compressedTensorsSafetensors(model, params);
 * const t = readSafetensors(bytes).tensors.map((t) => `${t.name} ${t.dtype} [${t.shape}]`).sort();
 * assert.deepEqual(t, ["fc.weight_packed I32 [1,1]", "fc.weight_scale F32 [1]", "fc.weight_shape I64 [2]"]);
 * ```
 */
export async function compressedTensorsSafetensors(
  model: ModelGraph,
  params: readonly TargetQuantParams[],
  options: StreamCompressedTensorsOptions = {},
): Promise<{ bytes: Uint8Array; config: CompressedTensorsConfig }> {
  const { inputs, metadata, config } = compressedInputs(model, params, options);
  return { bytes: await collectSafetensors(inputs, { metadata }), config };
}

/**
 * Streams a compressed-tensors safetensors file (layout in the module doc) to a sink one tensor at
 * a time, so a lazily opened model of any size is written in the memory of one tensor.
 *
 * @param model The model the parameters were computed on.
 * @param params Parameters from `quantizeWeights`.
 * @param sink Where the bytes go.
 * @param options The kernels, extra metadata, the config to record, and `onQuantized`.
 * @returns The bytes written and the `quantization_config`.
 * @throws {QuantizationError} Code `storage` when the parameters do not fit the format,
 * `missing_tensor` when a target is not in the model.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { safetensorsModel } from "../model/safetensors_model.ts";
 * import { quantizeWeights } from "./quantize_weights.ts";
 * import { streamCompressedTensors } from "./compressed_tensors.ts";
 *
 * const model = safetensorsModel(readSafetensors(writeSafetensors([
 *   { name: "fc.weight", dtype: "F32", shape: [2, 2], data: Float32Array.of(0.5, -1, 0.25, 2) },
 * ])));
 * const { params } = await quantizeWeights(model, [{ op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int8", granularity: "out_channel" }]);
 * let n = 0;
 * const { written, config } = await streamCompressedTensors(model, params, { write: (c) => void (n += c.length) });
 * assert.equal(written, n);
 * assert.equal(config.config_groups.group_0.weights.strategy, "channel");
 * ```
 */
export async function streamCompressedTensors(
  model: ModelGraph,
  params: readonly TargetQuantParams[],
  sink: ByteSink,
  options: StreamCompressedTensorsOptions = {},
): Promise<{ written: number; config: CompressedTensorsConfig }> {
  const { inputs, metadata, config } = compressedInputs(model, params, options);
  return { written: await streamSafetensors(inputs, sink, { metadata }), config };
}

/**
 * The names of the tensors a quantized weight becomes (`weight_packed`, `weight_scale`,
 * `weight_shape`, and `weight_zero_point` when asymmetric), in the order they are written.
 *
 * @param name The weight's name (`fc.weight`).
 * @param symmetric Whether its zero points are all 0.
 * @returns The tensor names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compressedTensorNames } from "./compressed_tensors.ts";
 *
 * assert.deepEqual(compressedTensorNames("fc.weight", true), ["fc.weight_packed", "fc.weight_scale", "fc.weight_shape"]);
 * ```
 */
export function compressedTensorNames(name: string, symmetric: boolean): string[] {
  return [
    `${name}_packed`,
    `${name}_scale`,
    `${name}_shape`,
    ...(symmetric ? [] : [`${name}_zero_point`]),
  ];
}

/**
 * The bytes of tensor data a quantized weight takes in the format (codes, scales, shape and zero
 * points).
 *
 * @param shape The weight's shape `[out, in]`.
 * @param param Its quantization parameters.
 * @returns The bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compressedTensorBytes } from "./compressed_tensors.ts";
 *
 * // int4 per channel, symmetric: 16 x 2 words, 16 scales, 2 dims
 * const p = { bits: 4, scale: new Float32Array(16), zeroPoint: new Float32Array(16), quantDtype: "int4" as const };
 * assert.equal(compressedTensorBytes([16, 12], p), 16 * 2 * 4 + 16 * 4 + 16);
 * ```
 */
export function compressedTensorBytes(
  shape: readonly number[],
  param: Pick<TargetQuantParams, "bits" | "scale" | "zeroPoint" | "quantDtype">,
): number {
  const [rows, cols] = shape;
  const f = packFactor(param.bits);
  const { signed } = quantDtypeRange(param.quantDtype);
  const offset = signed ? 0 : 2 ** (param.bits - 1);
  const symmetric = param.zeroPoint.every((z) => z - offset === 0);
  let zp = 0;
  if (!symmetric) {
    const groups = param.scale.length / rows;
    zp = param.scale.length === 1 ? 1 : Math.ceil(rows / f) * groups * 4;
  }
  return rows * Math.ceil(cols / f) * 4 + param.scale.length * 4 + 16 + zp;
}

function compressedInputs(
  model: ModelGraph,
  params: readonly TargetQuantParams[],
  options: StreamCompressedTensorsOptions,
): {
  inputs: SafetensorsStreamInput[];
  metadata: Record<string, string>;
  config: CompressedTensorsConfig;
} {
  const kernels = options.kernels ?? getKernels();
  const planned = plan(model, params, options.groupIndex);
  if (!Array.isArray(planned)) throw new QuantizationError("storage", planned.reason);
  const config = options.config ?? configOf(planned);
  const byTarget = new Map(planned.map((x) => [`${x.p.module}\u0000${x.p.target}`, x]));
  const missing = new Map(
    params.filter((p) => p.kind === "parameter").map((p) => [`${p.module}\u0000${p.target}`, p]),
  );
  const tensors: SafetensorsStreamInput[] = [];
  for (const m of model.modules) {
    for (const [pname, ref] of Object.entries(m.params)) {
      const name = m.name === "" ? pname : `${m.name}.${pname}`;
      const key = `${m.name}\u0000${pname}`;
      missing.delete(key);
      const x = byTarget.get(key);
      if (x === undefined) {
        tensors.push(
          ref.transpose === undefined
            ? { name, dtype: ref.dtype, shape: ref.shape, data: () => ref.bytes() }
            : { name, dtype: "F32", shape: ref.shape, data: () => ref.data() },
        );
        continue;
      }
      const { p, offset, weights, groupIndex } = x;
      const [rows, cols] = ref.shape;
      const bits = p.bits;
      const f = packFactor(bits);
      tensors.push({
        name: `${name}_packed`,
        dtype: "I32",
        shape: [rows, Math.ceil(cols / f)],
        ...(options.written?.has(name) ? { written: true } : {}),
        data: async () => {
          if (groupIndex === undefined) {
            if (options.codeBytes !== undefined) return await options.codeBytes(p, ref);
            return compressedPackedBytes(await ref.data(), ref.shape, p, options);
          }
          const before = await ref.data();
          const codes = quantizeTensor(before, ref.shape, perColumn(p, rows, groupIndex), {
            kernels,
          });
          options.onQuantized?.(p, before, codes);
          return packColumns(codes, offset, rows, cols, bits);
        },
      });
      const scaleShape = weights.strategy === "tensor" ? [1] : [rows, p.scale.length / rows];
      tensors.push({ name: `${name}_scale`, dtype: "F32", shape: scaleShape, data: () => p.scale });
      tensors.push({
        name: `${name}_shape`,
        dtype: "I64",
        shape: [2],
        data: () => BigInt64Array.of(BigInt(rows), BigInt(cols)),
      });
      if (!weights.symmetric) {
        const zp = Int16Array.from(p.zeroPoint, (z) => z - offset);
        tensors.push(
          weights.strategy === "tensor"
            ? {
              name: `${name}_zero_point`,
              dtype: "I8",
              shape: [1],
              data: () => Int8Array.from(zp),
            }
            : {
              name: `${name}_zero_point`,
              dtype: "I32",
              shape: [Math.ceil(rows / f), scaleShape[1]],
              data: () => packInt32(zp, rows, scaleShape[1], bits),
            },
        );
      }
      if (groupIndex !== undefined) {
        tensors.push({
          name: `${name}_g_idx`,
          dtype: "I32",
          shape: [cols],
          data: () => groupIndex,
        });
      }
    }
  }
  throwIfUnmatched(missing.values());
  return {
    inputs: tensors,
    config,
    metadata: { ...options.metadata, format: "pt", [META_KEY]: JSON.stringify(config) },
  };
}

/**
 * Grouped parameters (`[rows, groups]`, group `g` in column `g`) with each column's group given
 * by `groupIndex`, as one scale and zero point per weight (`kernel [1, 1]`), so
 * `quantizeTensor` / `dequantizeTensor` apply them.
 */
function perColumn<P extends QuantParams>(p: P, rows: number, groupIndex: Int32Array): P {
  const cols = groupIndex.length;
  const groups = p.scale.length / rows;
  const scale = new Float32Array(rows * cols);
  const zeroPoint = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      scale[r * cols + c] = p.scale[r * groups + groupIndex[c]];
      zeroPoint[r * cols + c] = p.zeroPoint[r * groups + groupIndex[c]];
    }
  }
  return { ...p, kernel: [1, 1], scale, zeroPoint };
}

/** A weight read back from a compressed-tensors file. */
export interface CompressedTensor {
  /** The weight's name (`<module>.weight`). */
  readonly name: string;
  /** Its shape `[out, in]` (from `weight_shape`). */
  readonly shape: readonly number[];
  /** The signed codes, unpacked. */
  readonly codes: Int8Array;
  /**
   * Scales and zero points as `dequantizeTensor` takes them (with `groupIndex`: one per weight,
   * each column's group's, `kernel [1, 1]`).
   */
  readonly params: QuantParams;
  /**
   * `weight_g_idx` of activation-ordered groups (`actorder: "group"`): the group of each input
   * column; the file's scales are `[out, groups]`, spread over the columns in `params`.
   */
  readonly groupIndex?: Int32Array;
  /** The weight arguments of its config group. */
  readonly weights: CompressedTensorsWeights;
}

function matches(target: string, module: string): boolean {
  if (target === module || target === "Linear") return true;
  if (target.startsWith("re:")) return new RegExp(`^(?:${target.slice(3)})`).test(module);
  return false;
}

/**
 * Decodes the quantized weights of a `pack-quantized` compressed-tensors file: each
 * `<module>.weight_packed` with its scale, zero point and shape, under the weight arguments of the
 * config group whose targets match the module (an exact name, `re:<regex>`, or `Linear`).
 *
 * @param bytes The safetensors file.
 * @param config The `quantization_config` (default: the one in the file's metadata).
 * @returns The weights in file order, and the names of the other tensors.
 * @throws {ModelFormatError} When there is no config, its format is not `pack-quantized`, no
 * group matches a packed weight, or a tensor is missing or has the wrong size.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { readCompressedTensors } from "./compressed_tensors.ts";
 *
 * const plain = writeSafetensors([{ name: "w", dtype: "U8", shape: [1], data: Uint8Array.of(1) }]);
 * assert.throws(() => readCompressedTensors(plain), /quantization_config/);
 * ```
 */
export function readCompressedTensors(
  bytes: Uint8Array,
  config?: CompressedTensorsConfig,
): { quantized: CompressedTensor[]; others: string[] } {
  const file = readSafetensors(bytes);
  const at = (field: string) => ({ field, offset: 8 });
  let cfg = config;
  if (cfg === undefined) {
    const text = file.metadata[META_KEY];
    if (text === undefined) {
      throw new ModelFormatError(
        `the metadata has no "${META_KEY}": give the quantization_config of config.json`,
        at(META_KEY),
      );
    }
    try {
      cfg = JSON.parse(text) as CompressedTensorsConfig;
    } catch (e) {
      throw new ModelFormatError(`"${META_KEY}" is not JSON: ${(e as Error).message}`, {
        ...at(META_KEY),
        cause: e,
      });
    }
  }
  if (cfg.format !== "pack-quantized") {
    throw new ModelFormatError(
      `quantization_config.format must be "pack-quantized": current value is ${
        JSON.stringify(cfg.format)
      }`,
      at("quantization_config.format"),
    );
  }
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const get = (name: string) => {
    const t = byName.get(name);
    if (t === undefined) throw new ModelFormatError("the tensor is not in the file", at(name));
    return t;
  };
  const own = (data: Uint8Array) => Uint8Array.prototype.slice.call(data).buffer as ArrayBuffer;
  const used = new Set<string>();
  const quantized: CompressedTensor[] = [];
  const groups = Object.values(cfg.config_groups);
  for (const t of file.tensors) {
    if (!t.name.endsWith(".weight_packed")) continue;
    const module = t.name.slice(0, -".weight_packed".length);
    const name = `${module}.weight`;
    if (cfg.ignore.some((x) => matches(x, module))) continue;
    const group = groups.find((g) => g.targets.some((x) => matches(x, module)));
    if (group === undefined) {
      throw new ModelFormatError(
        "no config group of the quantization_config targets this module",
        at(t.name),
      );
    }
    const w = group.weights;
    const dims = new BigInt64Array(own(get(`${name}_shape`).data));
    const [rows, cols] = [Number(dims[0]), Number(dims[1])];
    const f = packFactor(w.num_bits);
    if (t.dtype !== "I32" || t.data.byteLength !== rows * Math.ceil(cols / f) * 4) {
      throw new ModelFormatError(
        `shape [${rows}, ${cols}] at ${w.num_bits} bits needs I32 [${rows}, ${
          Math.ceil(cols / f)
        }]: current value is ${t.dtype} [${t.shape}]`,
        { field: t.name, offset: t.data.byteOffset - bytes.byteOffset },
      );
    }
    const codes = unpackInt32(new Int32Array(own(t.data)), rows, cols, w.num_bits, false);
    const scale = new Float32Array(own(get(`${name}_scale`).data));
    const groupsPerRow = w.strategy === "tensor" ? 1 : scale.length / rows;
    let zeroPoint = new Float32Array(scale.length);
    if (!w.symmetric) {
      const z = get(`${name}_zero_point`);
      zeroPoint = w.strategy === "tensor"
        ? Float32Array.from(new Int8Array(own(z.data)))
        : Float32Array.from(
          unpackInt32(new Int32Array(own(z.data)), rows, groupsPerRow, w.num_bits, true),
        );
      used.add(`${name}_zero_point`);
    }
    const kernel = w.strategy === "tensor"
      ? [-1, -1]
      : w.strategy === "channel"
      ? [1, -1]
      : [1, w.group_size ?? cols];
    let params: QuantParams = {
      kernel,
      scale,
      zeroPoint,
      qmin: -(2 ** (w.num_bits - 1)),
      qmax: 2 ** (w.num_bits - 1) - 1,
    };
    // activation-ordered groups: g_idx maps each column to its group (all -1: column order, as
    // compressed-tensors initializes it)
    const g = byName.get(`${name}_g_idx`);
    let groupIndex: Int32Array | undefined;
    if (g !== undefined) {
      used.add(g.name);
      if (g.dtype !== "I32" || g.data.byteLength !== cols * 4) {
        throw new ModelFormatError(
          `the group index of [${rows}, ${cols}] must be I32 [${cols}]: current value is ${g.dtype} [${g.shape}]`,
          { field: g.name, offset: g.data.byteOffset - bytes.byteOffset },
        );
      }
      const idx = new Int32Array(own(g.data));
      if (!idx.includes(-1)) {
        const bad = w.strategy !== "group"
          ? `is given for strategy ${JSON.stringify(w.strategy)} (only "group" has one)`
          : groupIndexError(idx, cols, groupsPerRow, cols / groupsPerRow);
        if (bad !== undefined) {
          throw new ModelFormatError(`the group index ${bad}`, {
            field: g.name,
            offset: g.data.byteOffset - bytes.byteOffset,
          });
        }
        groupIndex = idx;
        params = perColumn(params, rows, idx);
      }
    }
    quantized.push({
      name,
      shape: [rows, cols],
      codes,
      weights: w,
      params,
      ...(groupIndex === undefined ? {} : { groupIndex }),
    });
    for (const k of [t.name, `${name}_scale`, `${name}_shape`]) used.add(k);
  }
  return { quantized, others: file.tensors.map((t) => t.name).filter((n) => !used.has(n)) };
}
