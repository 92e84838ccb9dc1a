/**
 * `compressVariants`: the model variants transformers.js loads (`model_fp16.onnx`,
 * `model_quantized.onnx`, `model_int8.onnx`, `model_uint8.onnx`, `model_q4.onnx`,
 * `model_q4f16.onnx`, `model_bnb4.onnx`), made from one float32 ONNX model the way its
 * `scripts/quantize.py` makes them with onnxruntime's Python tools, each through `compressModel`.
 *
 * @module
 */

import type { ConvertFloat16Options } from "../io/onnx/convert_float16.ts";
import type { OnnxNode } from "../io/onnx/onnx_types.ts";
import type { OrtLike } from "../io/onnx/ort.ts";
import { QuantizationError } from "../quantization/quantization_error.ts";
import type { CompressionReport } from "../report/types.ts";
import { type CompareOptions, compareOutputs, type OutputComparison } from "./compare_outputs.ts";
import { compressModel, type CompressOptions, unchangedReason } from "./compress_model.ts";
import { type LoadedModel, loadModel } from "./load_model.ts";
import { selectedModules } from "./_onnx_half.ts";

/** A transformers.js variant, by the name its `quantize.py` gives the mode. */
export type VariantMode = "fp16" | "q8" | "int8" | "uint8" | "q4" | "q4f16" | "bnb4";

/** Every mode, in the order `quantize.py` lists them. */
export const VARIANT_MODES: readonly VariantMode[] = Object.freeze([
  "fp16",
  "q8",
  "int8",
  "uint8",
  "q4",
  "q4f16",
  "bnb4",
]);

/**
 * The file name of a variant: `<stem>_<suffix>.onnx`, the suffix being the mode except for `q8`,
 * which transformers.js names `quantized`.
 *
 * @param stem The model file's name without `.onnx` (`model`, `decoder_model_merged`).
 * @param mode The variant.
 * @returns The file name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { variantFileName } from "./variants.ts";
 * assert.equal(variantFileName("model", "q8"), "model_quantized.onnx");
 * assert.equal(variantFileName("model", "q4f16"), "model_q4f16.onnx");
 * ```
 */
export function variantFileName(stem: string, mode: VariantMode): string {
  return `${stem}_${mode === "q8" ? "quantized" : mode}.onnx`;
}

/** Options of `compressVariants`. */
export interface VariantsOptions {
  /** The variants to make (default every mode, `VARIANT_MODES`). */
  readonly modes?: readonly VariantMode[];
  /**
   * An NNI config list narrowing which modules each variant touches: float16 keeps the nodes of
   * the modules it does not select in float32, the quantized variants quantize only the
   * selected modules' weights. Default: the whole model.
   */
  readonly configList?: unknown;
  /** The file stem (default: the model's file name without `.onnx`). */
  readonly stem?: string;
  /** Float16 conversion options (block list, clamping) for `fp16` and `q4f16`. */
  readonly float16?: Omit<ConvertFloat16Options, "blockNode">;
  /** `q4`/`q4f16` block size along K (default 32, as `quantize.py`). */
  readonly q4BlockSize?: number;
  /**
   * q8/int8/uint8: one weight scale per tensor, as `quantize.py` calls `quantize_dynamic` by
   * default (`per_channel` unset). Default `false`: one scale per output channel (symmetric for
   * Conv, see the `dynamic` storage), which keeps the PP-OCRv4 recognizer's 40/40 lines where
   * per-tensor weights read 19/40 (uint8) and 0/40 (int8).
   */
  readonly perTensor?: boolean;
  /** `q4`/`q4f16` `accuracy_level` (default omitted, as `quantize.py`). */
  readonly accuracyLevel?: number;
  /**
   * Compare each variant's outputs with the original's in onnxruntime (`compareOutputs`, as
   * `eval --reference` does) on the model's inputs: deterministic random values of the declared
   * shapes unless `inputs` says otherwise.
   */
  readonly evaluate?: { readonly ort: OrtLike } & CompareOptions;
  /** Called when a variant starts and when it ends (done or failed). */
  readonly onVariant?: (event: VariantEvent) => void;
  /** A clock in milliseconds (default `performance.now`). */
  readonly now?: () => number;
}

/** A variant starting, done or failed. */
export type VariantEvent =
  | { readonly phase: "start"; readonly mode: VariantMode; readonly file: string }
  | { readonly phase: "done"; readonly variant: Variant }
  | {
    readonly phase: "failed";
    readonly mode: VariantMode;
    readonly file: string;
    readonly error: Error;
  };

/** One variant written in memory. */
export interface Variant {
  /** The mode. */
  readonly mode: VariantMode;
  /** Its transformers.js file name. */
  readonly file: string;
  /** The model file. */
  readonly bytes: Uint8Array;
  /**
   * What was done (`q4f16`: both steps' layers; its time counts the q4 step only when no `q4`
   * variant was made before it, which it shares).
   */
  readonly report: CompressionReport;
  /** Compression time in milliseconds (evaluation not included). */
  readonly timeMs: number;
  /** The outputs against the original's, with `evaluate`. */
  readonly comparison?: readonly OutputComparison[];
}

/** The variants made, and the modes that failed with their errors. */
export interface VariantsResult {
  /** Why nothing was made: the config list selects no module (then both lists are empty). */
  readonly unchanged?: string;
  /** The variants, in the order of `modes`. */
  readonly variants: readonly Variant[];
  /** Modes that could not be made, with why. */
  readonly failed: readonly {
    readonly mode: VariantMode;
    readonly file: string;
    readonly error: Error;
  }[];
}

/**
 * The modules dynamic quantization takes (onnxruntime's `quantize_dynamic` with
 * `MatMulConstBOnly`): MatMul `Linear` modules with a constant 2-D weight and Conv modules,
 * among `selected`.
 */
function dynamicModules(model: LoadedModel, selected: Set<string>): string[] {
  return model.graph.modules.filter((m) =>
    selected.has(m.name) && m.quantized === undefined && m.params.weight?.dtype === "F32" &&
    ((m.type === "Linear" && m.opType === "MatMul" && m.params.weight.shape.length === 2) ||
      (m.opType === "Conv" && /^Conv[123]d$/.test(m.type)))
  ).map((m) => m.name);
}

/**
 * The modules q4 quantizes: MatMul `Linear` modules with a constant 2-D float weight (what
 * onnxruntime's `MatMul4BitsQuantizer` takes; Gemm is left as it is), among `selected`.
 */
function q4Modules(model: LoadedModel, selected: Set<string>): string[] {
  return model.graph.modules.filter((m) =>
    selected.has(m.name) && m.type === "Linear" && m.opType === "MatMul" &&
    m.quantized === undefined && m.params.weight?.shape.length === 2 &&
    ["F32", "F16", "BF16"].includes(m.params.weight.dtype)
  ).map((m) => m.name);
}

/** The output names of the nodes of modules not in `selected`, in every graph. */
function unselectedOutputs(model: LoadedModel, selected: Set<string>): Set<string> {
  const out = new Set<string>();
  const graph = model.graph.graph;
  const nodes = [
    ...(graph?.nodes ?? []),
    ...Object.values(graph?.subgraphs ?? {}).flat(),
  ];
  for (const n of nodes) {
    if (n.module !== undefined && !selected.has(n.module)) {
      for (const o of n.outputs) if (o !== "") out.add(o);
    }
  }
  return out;
}

/**
 * Makes the transformers.js variants of an ONNX model, one `compressModel` run each:
 *
 * | mode | file | what |
 * | --- | --- | --- |
 * | `fp16` | `<stem>_fp16.onnx` | storage `float16`: float16 computation, float32 inputs/outputs, transformers.js's block list |
 * | `q8` | `<stem>_quantized.onnx` | dynamic quantization, uint8 weights when the model has a Conv, int8 otherwise |
 * | `int8`, `uint8` | `<stem>_int8.onnx`, `<stem>_uint8.onnx` | dynamic quantization with int8 / uint8 weights |
 * | `q4` | `<stem>_q4.onnx` | MatMul weights as `MatMulNBits`, 4 bits, blocks of 32, symmetric on onnxruntime's grid, no zero points, no `accuracy_level` |
 * | `q4f16` | `<stem>_q4f16.onnx` | `q4`, then `fp16` |
 * | `bnb4` | `<stem>_bnb4.onnx` | MatMul weights as `MatMulBnb4`, NF4, blocks of 64 |
 *
 * A mode that fails (a model it cannot take, e.g. no MatMul weight for q4) is listed in
 * `failed` with its error; the others are still made.
 *
 * @param model A float32 ONNX model from `loadModel`.
 * @param options Modes, narrowing config list, evaluation, progress.
 * @returns The variants in memory and the failures.
 * @throws {TypeError} When the model is not ONNX, or a mode is unknown.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildOnnx } from "../io/onnx/build_onnx.ts";
 * import { loadModel } from "./load_model.ts";
 * import { compressVariants } from "./variants.ts";
 *
 * const w = new Float32Array(64 * 32).map((_, i) => Math.sin(i));
 * const bytes = buildOnnx({
 *   opsets: [{ domain: "", version: 13 }],
 *   nodes: [{ name: "fc", opType: "MatMul", inputs: ["x", "fc.weight"], outputs: ["y"] }],
 *   initializers: [{ name: "fc.weight", dataType: 1, dims: [64, 32], raw: new Uint8Array(w.buffer) }],
 *   inputs: [{ name: "x", type: { elemType: 1, dims: [1, 64] } }],
 *   outputs: [{ name: "y", type: { elemType: 1, dims: [1, 32] } }],
 * });
 * const { variants } = await compressVariants(loadModel(bytes, "model.onnx"), { modes: ["fp16", "q4"] });
 * assert.deepEqual(variants.map((v) => v.file), ["model_fp16.onnx", "model_q4.onnx"]);
 * assert.ok(variants[0].bytes.length < bytes.length * 0.55); // 8 kB of weights become 4 kB
 * ```
 */
export async function compressVariants(
  model: LoadedModel,
  options: VariantsOptions = {},
): Promise<VariantsResult> {
  if (model.format !== "onnx") {
    throw new TypeError(`variants are made from an ONNX model: the model is ${model.format}`);
  }
  const now = options.now ?? (() => performance.now());
  const modes = options.modes ?? VARIANT_MODES;
  for (const m of modes) {
    if (!VARIANT_MODES.includes(m)) {
      throw new TypeError(
        `a variant mode must be one of ${VARIANT_MODES.join(", ")}: current value is ${
          JSON.stringify(m)
        }`,
      );
    }
  }
  const stem = options.stem ?? model.name.split(/[\\/]/).pop()!.replace(/\.onnx$/i, "");
  const { modules: selected } = selectedModules(model.graph, options.configList);
  if (options.configList !== undefined && selected.size === 0) {
    return { variants: [], failed: [], unchanged: unchangedReason(options.configList) };
  }
  const blocked = options.configList === undefined ? undefined : unselectedOutputs(model, selected);
  const blockNode = blocked === undefined
    ? undefined
    : (node: OnnxNode) => node.outputs.some((o) => blocked.has(o));
  const float16: ConvertFloat16Options = {
    ...options.float16,
    ...(blockNode === undefined ? {} : { blockNode }),
  };
  // q4f16 starts from q4: made once when both are asked for.
  let q4Made: Promise<{ bytes: Uint8Array; report: CompressionReport }> | undefined;
  const q4 = () => q4Made ??= makeQ4();
  const makeQ4 = async (): Promise<{ bytes: Uint8Array; report: CompressionReport }> => {
    const names = q4Modules(model, selected);
    const common: CompressOptions = {
      mode: "quantization",
      configList: [{
        op_names: names,
        target_names: ["weight"],
        quant_dtype: "int4",
        quant_scheme: "symmetric",
        granularity: "per_channel",
      }],
      storage: "nbits",
      blockSize: options.q4BlockSize ?? 32,
      nbits: {
        grid: "onnxruntime",
        ...(options.accuracyLevel === undefined ? {} : { accuracyLevel: options.accuracyLevel }),
      },
    };
    if (names.length === 0) throw none("q4 quantizes MatMul weights (constant, 2-D)");
    return await compressModel(model, { ...common, label: "q4" });
  };
  const none = (what: string) =>
    new QuantizationError(
      "storage",
      `${what} and the model has none` +
        (options.configList === undefined ? "" : " among the modules the config list selects"),
    );
  // q8: int8 weights, uint8 when the model has a Conv (transformers.js's rule: onnxruntime-web
  // had no int8 ConvInteger); int8 / uint8: that weight type. No reduced range, as quantize.py
  // calls quantize_dynamic by default; int8 symmetric, uint8 affine, as onnxruntime's
  // WeightSymmetric default; per channel unless perTensor (quantize.py's default).
  const dynamic = async (mode: "q8" | "int8" | "uint8") => {
    const names = dynamicModules(model, selected);
    if (names.length === 0) throw none(`${mode} quantizes MatMul (constant, 2-D) and Conv weights`);
    return await compressModel(model, {
      mode: "quantization",
      configList: [{
        op_names: names,
        target_names: ["weight"],
        quant_dtype: mode === "uint8" ? "uint8" : "int8",
        quant_scheme: mode === "uint8" ? "affine" : "symmetric",
        granularity: options.perTensor === true ? "default" : "per_channel",
      }],
      storage: "dynamic",
      dynamic: { uint8WhenConv: mode === "q8" },
      label: mode,
    });
  };
  // bnb4: MatMul weights as MatMulBnb4, NF4, blocks of 64 (quantize.py's defaults).
  const bnb4 = async () => {
    const names = q4Modules(model, selected);
    if (names.length === 0) throw none("bnb4 quantizes MatMul weights (constant, 2-D)");
    return await compressModel(model, {
      mode: "quantization",
      configList: [{ op_names: names, target_names: ["weight"], quant_dtype: "int4" }],
      storage: "bnb4",
      blockSize: 64,
      bnb4: { quantType: "nf4" },
      label: "bnb4",
    });
  };
  const fp16 = async (from: LoadedModel, label: string) =>
    await compressModel(from, {
      mode: "quantization",
      configList: from === model ? options.configList : undefined,
      storage: "float16",
      float16: from === model ? { ...options.float16 } : float16,
      label,
    });
  const variants: Variant[] = [];
  const failed: { mode: VariantMode; file: string; error: Error }[] = [];
  for (const mode of modes) {
    const file = variantFileName(stem, mode);
    options.onVariant?.({ phase: "start", mode, file });
    const start = now();
    try {
      let out: { bytes: Uint8Array; report: CompressionReport };
      if (mode === "fp16") out = await fp16(model, "fp16");
      else if (mode === "q4") out = await q4();
      else if (mode === "bnb4") out = await bnb4();
      else if (mode === "q8" || mode === "int8" || mode === "uint8") out = await dynamic(mode);
      else if (mode === "q4f16") {
        const first = await q4();
        const q4Model = loadModel(first.bytes, `${stem}_q4.onnx`);
        out = await fp16(q4Model, "q4f16");
        out = {
          bytes: out.bytes,
          report: {
            ...out.report,
            model: model.name,
            before: first.report.before,
            layers: [...first.report.layers, ...out.report.layers],
            warnings: [...first.report.warnings, ...out.report.warnings],
          },
        };
      } else throw new TypeError(`unknown variant mode ${mode}`);
      const timeMs = now() - start;
      const comparison = options.evaluate === undefined
        ? undefined
        : await compareOutputs(options.evaluate.ort, out.bytes, model.bytes, options.evaluate);
      const variant: Variant = {
        mode,
        file,
        bytes: out.bytes,
        report: { ...out.report, label: mode, timeMs },
        timeMs,
        ...(comparison === undefined ? {} : { comparison }),
      };
      variants.push(variant);
      options.onVariant?.({ phase: "done", variant });
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      failed.push({ mode, file, error });
      options.onVariant?.({ phase: "failed", mode, file, error });
    }
  }
  return { variants, failed };
}
