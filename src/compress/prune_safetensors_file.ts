/**
 * `pruneSafetensorsFile`: prunes a safetensors file of any size — tensors are read when a metric
 * or the output needs them and written one at a time, so memory holds about one tensor (plus the
 * pruning engine's histograms for global groups).
 *
 * @module
 */

import { FileError } from "../io/file_error.ts";
import { openFile, writeFileAtomic } from "../io/fs.ts";
import { openSafetensors } from "../io/safetensors/open_safetensors.ts";
import { DTYPE_BYTES } from "../tensor/dtype.ts";
import { safetensorsModel } from "../model/safetensors_model.ts";
import { applyTargetMask } from "../pruning/apply_target_mask.ts";
import { expandMask } from "../pruning/expand_mask.ts";
import { prune } from "../pruning/prune.ts";
import { streamPrunedSafetensors } from "../pruning/pruned_safetensors.ts";
import type { CompressionReport, LayerReport } from "../report/types.ts";
import { compressorFor } from "../config/algorithms.ts";
import { unchangedReason } from "./compress_model.ts";
import { layerReport } from "./_layer_report.ts";
import { type Progress, prunedChange, type TensorChange } from "./_tensor_change.ts";
import type { PruningTarget } from "../pruning/types.ts";

/** Options of `pruneSafetensorsFile`. */
export interface PruneFileOptions {
  /** The NNI config list. */
  readonly configList: unknown;
  /** The pruner, by short or NNI class name (`PRUNER_TABLE`; default `level`). */
  readonly algorithm?: string;
  /**
   * Whether to write `output` when the config list selects no target (default `true`: a copy).
   * With `false` nothing is written and the report's `unchanged` says why.
   */
  readonly writeUnchanged?: boolean;
  /** A label for the report. */
  readonly label?: string;
  /** Called as work advances. */
  readonly onProgress?: Progress;
}

/**
 * Prunes the safetensors file at `input` into `output` (written atomically), reading tensors on
 * demand: the pruning engine computes each metric from one tensor at a time, its exporter streams
 * the output with every masked tensor replaced, and a last pass reads the masked tensors once
 * more for the per-layer report.
 *
 * @param input The safetensors file.
 * @param output The destination.
 * @param options The config list, algorithm and progress callback.
 * @returns The report (`model` is `input`).
 * @throws {ConfigError} For an invalid config list.
 * @throws {ModelFormatError} For an unreadable file (names the file and byte offset).
 *
 * @example
 * ```ts ignore
 * import { pruneSafetensorsFile } from "./prune_safetensors_file.ts";
 * const report = await pruneSafetensorsFile("llm.safetensors", "llm.pruned.safetensors", {
 *   configList: [{ op_types: ["Linear"], sparse_ratio: 0.5, global_group_id: 0 }],
 * });
 * ```
 */
export async function pruneSafetensorsFile(
  input: string,
  output: string,
  options: PruneFileOptions,
): Promise<CompressionReport> {
  const start = performance.now();
  const progress = options.onProgress ?? (() => {});
  const { algorithm, pruner } = compressorFor("pruning", options.algorithm);
  const source = await openFile(input, { label: "model file" }).catch((e) => {
    throw FileError.from("read", "model file", input, e);
  });
  try {
    const lazy = await openSafetensors(source, { file: input });
    const graph = safetensorsModel(lazy);
    progress("masks", 0, 1);
    const result = await prune(graph, options.configList, { pruner: pruner!.name });
    progress("masks", 1, 1);
    const modules = new Map(graph.modules.map((m) => [m.name, m]));
    let written = 0;
    const unchanged = result.targets.length === 0 ? unchangedReason(options.configList) : undefined;
    // The per-layer counts are taken as each masked tensor is written (one read of the file).
    const seen = new Map<string, TensorChange>();
    const key = (t: { module: string; target: string }) => `${t.module}\u0000${t.target}`;
    const changeFor = (t: PruningTarget, before: Float32Array, after: Float32Array) => {
      const module = modules.get(t.module);
      const ref = module?.params[t.target];
      if (module === undefined || ref === undefined) return;
      seen.set(key(t), prunedChange(t, module.type, ref, before, after));
    };
    if (unchanged === undefined || options.writeUnchanged !== false) {
      progress("write", 0, 1);
      await writeFileAtomic(output, async (sink) => {
        written = await streamPrunedSafetensors(lazy, result, sink, { onMasked: changeFor });
      });
      progress("write", 1, 1);
    }
    let parameters = 0;
    let packed = 0;
    for (const e of lazy.entries) {
      const n = e.shape.reduce((a, b) => a * b, 1);
      parameters += n;
      packed += n * DTYPE_BYTES[e.dtype];
    }
    const layers: LayerReport[] = [];
    for (const [i, t] of result.targets.entries()) {
      progress("report", i, result.targets.length);
      const mask = result.masks[t.module]?.[t.target];
      const ref = modules.get(t.module)?.params[t.target];
      if (mask === undefined || ref === undefined) continue;
      if (!seen.has(key(t))) {
        // Not written (bypass, or no output asked for): counted from the file.
        const before = await ref.data();
        changeFor(
          t,
          before,
          applyTargetMask(before, expandMask(mask), {
            method: t.setting.apply_method,
          }),
        );
      }
      const change = seen.get(key(t));
      if (change !== undefined) layers.push(layerReport(change));
    }
    return {
      label: options.label ?? "pruning",
      model: input,
      format: "safetensors",
      mode: "pruning",
      algorithm,
      configList: options.configList,
      storage: "float",
      before: { fileBytes: source.size, packedBytes: packed },
      after: { fileBytes: written, packedBytes: packed },
      parameters,
      layers,
      warnings: [...result.report.warnings],
      evaluation: [],
      timeMs: performance.now() - start,
      ...(unchanged === undefined ? {} : { unchanged }),
    };
  } finally {
    await source.close();
  }
}
