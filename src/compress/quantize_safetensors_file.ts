/**
 * `quantizeSafetensorsFile`: quantizes the weights of a safetensors file (or sharded checkpoint)
 * of any size into integer codes with scales and zero points, one tensor at a time.
 *
 * @module
 */

import { compressorFor } from "../config/algorithms.ts";
import { getKernels } from "../kernels/default.ts";
import { planQuantization } from "../quantization/plan_quantization.ts";
import {
  quantize,
  type QuantizeModelOptions,
  type QuantizeResult,
} from "../quantization/quantize.ts";
import { QuantizationError } from "../quantization/quantization_error.ts";
import { quantDtypeRange } from "../quantization/quant_dtype_range.ts";
import {
  quantizedLayout,
  streamQuantizedSafetensors,
} from "../quantization/quantized_safetensors.ts";
import {
  compressedTensorBytes,
  compressedTensorNames,
  type CompressedTensorsConfig,
  compressedTensorsLayout,
  compressedTensorsScheme,
  streamCompressedTensors,
} from "../quantization/compressed_tensors.ts";
import {
  computeTargetQuantParams,
  targetKey,
  type TargetQuantParams,
} from "../quantization/compute_target_quant_params.ts";
import { granularityKernel } from "../quantization/granularity_kernel.ts";
import type { TrackedRange } from "../quantization/tracked_range.ts";
import type { ConfigPlan } from "../config/plan.ts";
import type { QuantizationSetting, ResolvedTarget } from "../config/types.ts";
import type { ByteSink } from "../io/safetensors/write_safetensors.ts";
import type { ModelGraph, TensorRef } from "../model/model_graph.ts";
import { writeQuantizationConfig } from "./quantization_config_file.ts";
import type { CompressionReport } from "../report/types.ts";
import { DTYPE_BYTES } from "../tensor/dtype.ts";
import { unchangedReason } from "./compress_model.ts";
import { layerReport } from "./_layer_report.ts";
import {
  NOT_WRITTEN,
  type StreamedFileOptions,
  streamedReport,
  tensorUses,
  withStreamedRun,
} from "./_safetensors_parts.ts";
import { parameterSizes } from "./_sizes.ts";
import {
  type CodePlacer,
  type Counts,
  threadedCodes,
  threadedRangeCodes,
  threadedRanges,
} from "./_threaded.ts";
import { localCodes, localRangeCodes, localRanges } from "./_local_tasks.ts";
import type { TensorChange } from "./_tensor_change.ts";
import { taskPlace, type ZeroCounts } from "./_tensor_tasks.ts";

/** Options of `quantizeSafetensorsFile`. */
export interface QuantizeFileOptions extends StreamedFileOptions {
  /**
   * How the weights are stored: `compressed-tensors` (the format vLLM and transformers read,
   * `pack-quantized`, with its `quantization_config` in a `config.json` beside the output; see
   * `docs/quantization.md`), `int` (nncompress's `quantized-v1` layout, which holds every
   * granularity and target), or `auto` (default): compressed-tensors when the scheme fits it,
   * else `int` with a warning that says why.
   */
  readonly storage?: "auto" | "int" | "compressed-tensors";
}

/**
 * Quantizes the safetensors file at `input` into `output` (written atomically) in the
 * compressed-tensors format when the scheme fits it (`streamCompressedTensors`; its
 * `quantization_config` goes into a `config.json` beside the output, merged from the one beside
 * the input: `writeQuantizationConfig`), else in the layout of `quantizedSafetensors` (integer
 * codes, `<name>_scale`, `<name>_zero_point`; see `docs/quantization.md`), reading tensors on
 * demand. When the configuration alone decides the output's layout (integer storage, or
 * symmetric schemes; the output keeps the input's files, no `maxShardSize`), each weight is read
 * once: its range, parameters and codes are computed together and the codes written at their
 * place in their file at once. Otherwise one pass computes
 * the ranges and a second quantizes each weight as it is written. Either way each weight is
 * counted for the report as it is quantized. Memory holds about one tensor per thread, whatever
 * the file's size. A sharded checkpoint (`input` a
 * `*.safetensors.index.json`) is written with the same shard layout, each weight's scale and
 * zero point in its shard, then the index (`output` must be an index too).
 *
 * The bytes and the report are those of `compressModel` with the same storage on the same file
 * in memory. Config lists with `fuse_names` need the file in memory (`compressModel`).
 *
 * @param input The safetensors file, or a sharded checkpoint's index.
 * @param output The destination (an index for a sharded checkpoint).
 * @param options The config list, algorithm and progress callback.
 * @returns The report (`model` is `input`).
 * @throws {ConfigError} For an invalid config list.
 * @throws {QuantizationError} When a target cannot be quantized (`uncalibrated` for input and
 * output targets, which need a graph and calibration data).
 * @throws {ModelFormatError} For an unreadable file (names the file and byte offset).
 *
 * @example
 * ```ts ignore
 * import { quantizeSafetensorsFile } from "./quantize_safetensors_file.ts";
 * const report = await quantizeSafetensorsFile("llm.safetensors", "llm.int8.safetensors", {
 *   configList: [{ op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int8", granularity: "out_channel" }],
 * });
 * ```
 */
export async function quantizeSafetensorsFile(
  input: string,
  output: string,
  options: QuantizeFileOptions,
): Promise<CompressionReport> {
  const start = performance.now();
  const progress = options.onProgress ?? (() => {});
  const { algorithm } = compressorFor("quantization", options.algorithm);
  const kernels = getKernels();
  return await withStreamedRun(input, output, options, async (run) => {
    // One thread: tasks run in \`here\`, reading into one buffer reused by every tensor; workers
    // read their tensors from the file themselves (\`located\`).
    const { parts, all, fileBytes, writeIndex, writeParts, graph, pool, here, located } = run;
    const plan = planQuantization(graph, options.configList, {
      algorithm,
      ...(options.registry === undefined ? {} : { registry: options.registry }),
    });
    const runQuantize = async (rangeOf: QuantizeModelOptions["rangeOf"]) => {
      progress("ranges", 0, 1);
      const result = await quantize(graph, plan, {
        kernels,
        ...(rangeOf === undefined ? {} : { rangeOf }),
      });
      if (result.model !== graph) {
        throw new TypeError(
          "fuse_names folds modules into others: quantize the model in memory (compressModel)",
        );
      }
      progress("ranges", 1, 1);
      return result;
    };
    const modules = new Map(graph.modules.map((m) => [m.name, m]));
    const wanted = options.storage ?? "auto";
    // Each part's modules (a module's tensors may be split between shards).
    const views = parts.map((part) => {
      const names = new Set(part.lazy.entries.map((e) => e.name));
      const view = parts.length === 1 ? graph : {
        ...graph,
        modules: graph.modules.flatMap((m) => {
          const params = Object.fromEntries(
            Object.entries(m.params).filter(([, r]) => names.has(r.name)),
          );
          return Object.keys(params).length === 0 ? [] : [{ ...m, params }];
        }),
      };
      return { view, names };
    });
    const mineOf = (params: readonly TargetQuantParams[], i: number) =>
      params.filter((p) => {
        const ref = modules.get(p.module)?.params[p.target];
        return ref !== undefined && views[i].names.has(ref.name);
      });
    // When the configuration alone decides the output's storage (integer storage, or
    // compressed-tensors with symmetric schemes: no zero point to wait for) and its files keep
    // the input's parts, the outputs are opened before the ranges are tracked: each weight is
    // read once (on a worker, or here) for its range, parameters and codes, and the codes are
    // written at their place in their part at once (`threadedRangeCodes`, `localRangeCodes`);
    // the writer then passes over them.
    const ahead = options.maxShardSize === undefined
      ? plannedOutput(
        graph,
        plan,
        wanted,
        views.map((v, i) => ({ view: v.view, mine: (params) => mineOf(params, i) })),
      )
      : undefined;
    const aheadOfParams = ahead !== undefined;
    const rangesOf = () =>
      pool === undefined ? localRanges(here, located) : threadedRanges(pool, located);
    let result = aheadOfParams ? undefined : await runQuantize(rangesOf());
    const changes = new Map<string, TensorChange>();
    const counts: Counts = new Map();
    /** The parameters of the codes written ahead, by target. */
    const placed = new Map<string, TargetQuantParams>();
    const placer = (sinks: readonly ByteSink[]): CodePlacer | undefined => {
      if (sinks.some((s) => s.writeAt === undefined || s.skip === undefined) || !ahead) {
        return undefined;
      }
      const { layouts } = ahead;
      const suffix = ahead.config === undefined ? "" : "_packed";
      const partOf = new Map<string, number>();
      views.forEach(({ names }, i) => names.forEach((n) => partOf.set(n, i)));
      const placeOf = (t: { module: string; target: string }, ref: TensorRef) =>
        layouts[partOf.get(ref.name) ?? -1]?.offsets.get(codesName(t) + suffix);
      // A tensor two params share keeps the ordinary path.
      const uses = tensorUses(graph);
      return {
        packed: ahead.config !== undefined,
        accepts: (t, ref) => uses.get(ref.name) === 1 && placeOf(t, ref) !== undefined,
        async write(t, ref, coded) {
          await sinks[partOf.get(ref.name)!].writeAt!(placeOf(t, ref)!, coded.bytes);
          placed.set(keyOf(t), coded.param);
          counts.set(keyOf(t), coded.counts);
        },
        // File outputs: the worker writes the codes itself, so this thread, which hands out the
        // tasks, is never held up by a write.
        ...(sinks.every((s) => s.file !== undefined)
          ? {
            placeOf: (t: ResolvedTarget, ref: TensorRef) =>
              taskPlace(sinks[partOf.get(ref.name)!].file!, placeOf(t, ref)!),
            written(
              t: ResolvedTarget,
              ref: TensorRef,
              coded: { param: TargetQuantParams; counts: ZeroCounts },
              bytes: number,
            ) {
              sinks[partOf.get(ref.name)!].file!.wrote(bytes);
              placed.set(keyOf(t), coded.param);
              counts.set(keyOf(t), coded.counts);
            },
          }
          : {}),
      };
    };
    let settled = result === undefined ? undefined : settle(result);
    let written = 0;
    if (
      settled === undefined || settled.unchanged === undefined || options.writeUnchanged !== false
    ) {
      if (settled !== undefined) progress("write", 0, parts.length);
      // Writing ahead: the ranges and codes are made once every part's file is open.
      const prepare = async (sinks: readonly ByteSink[]) => {
        const place = placer(sinks);
        result = await runQuantize(
          place === undefined
            ? rangesOf()
            : pool === undefined
            ? localRangeCodes(here, place, located)
            : threadedRangeCodes(pool, place, located),
        );
        settled = settle(result);
        if (settled.unchanged !== undefined && options.writeUnchanged === false) {
          throw NOT_WRITTEN;
        }
        keepPlaced(views.map((v) => v.view), settled, placed, ahead!);
        progress("write", 0, parts.length);
      };
      const done = await writeParts(async (i, sink) => {
        const { view, mine, order } = settled!.plans[i];
        const config = settled!.config;
        const rest = order.filter((o) => !placed.has(keyOf(o.param)));
        // The codes are encoded on the workers, or by the same tasks here.
        const packed = config !== undefined;
        const codeBytes = pool === undefined
          ? localCodes(here, counts, located, packed)
          : threadedCodes(pool, rest, counts, located, packed);
        const passOver = placed.size === 0 ? {} : {
          written: new Set(
            order.filter((o) => placed.has(keyOf(o.param))).map((o) => codesName(o.param)),
          ),
        };
        if (config === undefined) {
          await streamQuantizedSafetensors(view, mine, sink, {
            kernels,
            codeBytes,
            ...passOver,
          });
        } else {
          await streamCompressedTensors(view, mine, sink, {
            kernels,
            codeBytes,
            config,
            ...passOver,
          });
        }
      }, (i) => {
        for (const { param: p, ref } of settled!.plans[i].order) {
          const c = counts.get(keyOf(p));
          if (c === undefined) continue;
          changes.set(keyOf(p), {
            module: p.module,
            target: p.target,
            type: modules.get(p.module)!.type,
            granularity: p.granularity,
            ref,
            ...c,
            bits: p.bits,
            blocks: p.scale.length,
            zeroPoints: p.quantScheme === "affine",
          });
        }
        progress("write", i + 1, parts.length);
      }, settled === undefined ? prepare : undefined).catch((e) => {
        if (e === NOT_WRITTEN) return undefined;
        throw e;
      });
      if (done !== undefined) {
        written += done.written;
        if (!done.resharded) written += await writeIndex(settled!.names, settled!.outTotal);
        if (settled!.config !== undefined) {
          await writeQuantizationConfig(input, output, settled!.config);
        }
      }
    }
    result ??= await runQuantize(rangesOf());
    settled ??= settle(result);
    const { parameters, unchanged, outTotal, inTotal, warnings, config } = settled;
    // The report lists the quantized parameters in the engine's order.
    const ordered = parameters.flatMap((p) => {
      const c = changes.get(keyOf(p));
      return c === undefined ? [] : [c];
    });
    const sizes = parameterSizes(graph);
    const report = streamedReport({
      label: options.label ?? "quantization",
      model: input,
      mode: "quantization",
      algorithm,
      configList: options.configList,
      fileBytes,
      written,
      packedBefore: sizes.before,
      packedAfter: sizes.before + outTotal - inTotal,
      parameters: sizes.parameters,
      layers: ordered.map(layerReport),
      warnings,
      start,
      unchanged,
    });
    return config === undefined ? report : { ...report, storage: "compressed-tensors" };

    /** What the engine's parameters decide: storage, the output's tensors per part, sizes. */
    function settle(result: QuantizeResult) {
      const parameters = result.params.filter((p) => p.kind === "parameter");
      const unchanged = plan.targets.length === 0
        ? unchangedReason(options.configList)
        : parameters.length === 0
        ? "the config list sets no sparsity or quantization for the targets it selects"
        : undefined;
      const fit = wanted === "int" || parameters.length === 0
        ? undefined
        : compressedTensorsScheme(graph, parameters);
      if (wanted === "compressed-tensors" && fit?.fits !== true) {
        throw new QuantizationError(
          "storage",
          fit === undefined ? "no weight is quantized" : fit.reason,
        );
      }
      const config = fit?.fits === true ? fit.config : undefined;
      const warnings = [...result.report.warnings];
      if (fit !== undefined && !fit.fits) {
        warnings.push(
          `stored in nncompress's integer layout (quantized-v1), not compressed-tensors: ${fit.reason}`,
        );
      }
      // Tensor data in and out: the report's packed sizes are the bytes as written.
      const inTotal = all.entries.reduce((n, e) => n + e.end - e.begin, 0);
      const outTotal = dataBytes(parameters, graph, inTotal, config !== undefined);
      const names: string[][] = [];
      const plans = views.map(({ view }, i) => {
        const mine = mineOf(parameters, i);
        const out: string[] = [];
        const order: { param: TargetQuantParams; ref: TensorRef }[] = [];
        for (const m of view.modules) {
          for (const [pname, ref] of Object.entries(m.params)) {
            const p = mine.find((p) => p.module === m.name && p.target === pname);
            if (p !== undefined) order.push({ param: p, ref });
            if (p === undefined) out.push(ref.name);
            else if (config === undefined) {
              out.push(ref.name, `${ref.name}_scale`, `${ref.name}_zero_point`);
            } else out.push(...compressedTensorNames(ref.name, symmetricOf(p)));
          }
        }
        names.push(out);
        return { view, mine, order };
      });
      return { parameters, unchanged, config, warnings, inTotal, outTotal, names, plans };
    }
  });
}

const keyOf = (t: { readonly module: string; readonly target: string }) =>
  `${t.module}\u0000${t.target}`;

/** The name of a parameter's codes in the integer layout (its module's name, then its own). */
const codesName = (t: { readonly module: string; readonly target: string }) =>
  t.module === "" ? t.target : `${t.module}.${t.target}`;

/** Outputs whose layouts are known before any range: their storage, config and layouts. */
interface PlannedOutput {
  /** compressed-tensors' config (`undefined`: the integer layout). */
  readonly config?: CompressedTensorsConfig;
  /** Each part's layout. */
  readonly layouts: readonly { offsets: Map<string, number>; size: number }[];
}

/** A part's modules, and the parameters of a list that are its own. */
interface PartView {
  readonly view: ModelGraph;
  mine(params: readonly TargetQuantParams[]): TargetQuantParams[];
}

/** The layout of a part quantized with `params` (`config`: compressed-tensors). */
function layoutOf(
  view: ModelGraph,
  params: readonly TargetQuantParams[],
  config: CompressedTensorsConfig | undefined,
): { offsets: Map<string, number>; size: number } {
  return config === undefined
    ? quantizedLayout(view, params)
    : compressedTensorsLayout(view, params, { config });
}

/**
 * The outputs of the plan's parameter targets before any range is known, when the configuration
 * alone decides them: parameters of the same configuration from a stand-in range of [-1, 1] in
 * each block give the layouts (they depend on the configuration only). Integer storage always;
 * `auto` and compressed-tensors when every target's scheme is symmetric (compressed-tensors'
 * fit reads the zero points, which a symmetric scheme fixes). `undefined` otherwise, or when a
 * target does not fit (the engine reports it).
 */
function plannedOutput(
  graph: ModelGraph,
  plan: ConfigPlan,
  wanted: "auto" | "int" | "compressed-tensors",
  parts: readonly PartView[],
): PlannedOutput | undefined {
  try {
    const modules = new Map(graph.modules.map((m) => [m.name, m]));
    const targets = plan.targets.filter((t) => t.kind === "parameter");
    const ranges = new Map<string, TrackedRange>();
    for (const t of targets) {
      const ref = modules.get(t.module)?.params[t.target];
      if (ref === undefined) return undefined;
      const kernel = granularityKernel(
        (t.setting as QuantizationSetting).granularity ?? null,
        t.kind,
        ref.shape,
      );
      const blocks = kernel.reduce((n, k, d) => n * (k === -1 ? 1 : ref.shape[d] / k), 1);
      ranges.set(targetKey(t.module, t.target), {
        shape: ref.shape,
        min: new Float32Array(blocks).fill(-1),
        max: new Float32Array(blocks).fill(1),
      });
    }
    const params = computeTargetQuantParams(targets, ranges);
    let config: CompressedTensorsConfig | undefined;
    if (wanted !== "int" && params.length > 0) {
      const symmetric = targets.every((t) => {
        const scheme = (t.setting as QuantizationSetting).quant_scheme;
        return scheme == null || scheme === "symmetric";
      });
      if (!symmetric) return undefined;
      const fit = compressedTensorsScheme(graph, params);
      if (fit.fits) config = fit.config;
      else if (wanted === "compressed-tensors") return undefined;
    }
    const layouts = parts.map((p) => layoutOf(p.view, p.mine(params), config));
    return config === undefined ? { layouts } : { config, layouts };
  } catch {
    return undefined;
  }
}

/**
 * Keeps the codes written ahead whose parameters are the engine's (same scales and zero points,
 * bit for bit; the others are written again by the writer, at the same place), once the storage
 * and layouts of the engine's parameters are checked to be those they were written into.
 */
function keepPlaced(
  views: readonly ModelGraph[],
  settled: {
    parameters: readonly TargetQuantParams[];
    config?: CompressedTensorsConfig;
    plans: readonly { mine: readonly TargetQuantParams[] }[];
  },
  placed: Map<string, TargetQuantParams>,
  planned: PlannedOutput,
): void {
  if (placed.size === 0) return;
  const { parameters, config } = settled;
  const same = JSON.stringify(config) === JSON.stringify(planned.config) &&
    views.every((view, i) => {
      const actual = layoutOf(view, settled.plans[i].mine, config);
      const want = planned.layouts[i];
      return actual.size === want.size && actual.offsets.size === want.offsets.size &&
        [...actual.offsets].every(([name, at]) => want.offsets.get(name) === at);
    });
  if (!same) {
    throw new Error(
      "internal error: the quantized output's layout differs from the one codes were written into ahead",
    );
  }
  for (const p of parameters) {
    const ahead = placed.get(keyOf(p));
    if (ahead !== undefined && !sameParams(ahead, p)) placed.delete(keyOf(p));
  }
}

/** Whether two parameters quantize alike: same grid, codes range, scales and zero points. */
function sameParams(a: TargetQuantParams, b: TargetQuantParams): boolean {
  const bitsEqual = (x: Float32Array, y: Float32Array) => {
    if (x.length !== y.length) return false;
    const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
    const v = new Uint32Array(y.buffer, y.byteOffset, y.length);
    for (let i = 0; i < u.length; i++) if (u[i] !== v[i]) return false;
    return true;
  };
  return a.bits === b.bits && a.qmin === b.qmin && a.qmax === b.qmax &&
    a.quantScheme === b.quantScheme && bitsEqual(a.scale, b.scale) &&
    bitsEqual(a.zeroPoint, b.zeroPoint);
}

/**
 * The bytes of tensor data after quantization: the input's, with each target's codes, scales and
 * zero points in place of its float values.
 */
function dataBytes(
  parameters: readonly TargetQuantParams[],
  graph: ModelGraph,
  inputTotal: number,
  compressedTensors: boolean,
): number {
  const modules = new Map(graph.modules.map((m) => [m.name, m]));
  let total = inputTotal;
  for (const p of parameters) {
    const ref = modules.get(p.module)?.params[p.target];
    if (ref === undefined) continue;
    const n = ref.shape.reduce((a, b) => a * b, 1);
    if (compressedTensors) {
      total += compressedTensorBytes(ref.shape, p) - n * DTYPE_BYTES[ref.dtype];
      continue;
    }
    const last = ref.shape.length === 0 ? 1 : ref.shape[ref.shape.length - 1];
    const codes = p.bits <= 4 ? (n / last) * Math.ceil(last / 2) : n * (p.bits <= 8 ? 1 : 2);
    const zp = p.bits <= 8 ? 1 : 2;
    total += codes + p.scale.length * (4 + zp) - n * DTYPE_BYTES[ref.dtype];
  }
  return total;
}

/** Whether a parameter's zero points are all 0 in the format's signed codes. */
function symmetricOf(p: TargetQuantParams): boolean {
  const offset = quantDtypeRange(p.quantDtype).signed ? 0 : 2 ** (p.bits - 1);
  return p.zeroPoint.every((z) => z - offset === 0);
}
