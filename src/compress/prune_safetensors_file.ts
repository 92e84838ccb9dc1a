/**
 * `pruneSafetensorsFile`: prunes a safetensors file of any size — tensors are read when a metric
 * or the output needs them and written one at a time, so memory holds about one tensor (plus the
 * pruning engine's histograms for global groups).
 *
 * @module
 */

import {
  NOT_WRITTEN,
  type StreamedFileOptions,
  streamedReport,
  tensorUses,
  withStreamedRun,
} from "./_safetensors_parts.ts";
import { DTYPE_BYTES } from "../tensor/dtype.ts";
import { applyTargetMask } from "../pruning/apply_target_mask.ts";
import { expandMask } from "../pruning/expand_mask.ts";
import { prune, type PruneResult } from "../pruning/prune.ts";
import { prunedLayout, streamPrunedSafetensors } from "../pruning/pruned_safetensors.ts";
import type { ByteSink } from "../io/safetensors/write_safetensors.ts";
import type { CompressionReport, LayerReport } from "../report/types.ts";
import { compressorFor } from "../config/algorithms.ts";
import { unchangedReason } from "./compress_model.ts";
import { layerReport } from "./_layer_report.ts";
import { prunedChange, type TensorChange } from "./_tensor_change.ts";
import type { PruningTarget, TargetMask } from "../pruning/types.ts";
import type { Module, TensorRef } from "../model/model_graph.ts";
import { type Counts, type Placer, threadedMasks, threadedMetrics } from "./_threaded.ts";
import { taskPlace, type ZeroCounts } from "./_tensor_tasks.ts";
import { localMasks, localMetrics } from "./_local_tasks.ts";

/** Options of `pruneSafetensorsFile` (`algorithm`: a pruner by short or NNI class name). */
export interface PruneFileOptions extends StreamedFileOptions {
  /** Largest global group ranked with all metrics in memory (`prune`'s; default 2^26). */
  readonly inMemoryEntries?: number;
}

/**
 * Prunes the safetensors file at `input` into `output` (written atomically), reading tensors on
 * demand: the pruning engine computes each metric from one tensor at a time, and its exporter
 * streams the output with every masked tensor replaced, counting each for the per-layer report
 * as it goes. A sharded checkpoint (`input` a `*.safetensors.index.json`) is pruned as one model
 * — a global group spans its shards — and written with the same shard layout: each shard next
 * to `output` (also an index), named as `outputShardNames` says, then the index.
 *
 * @param input The safetensors file, or a sharded checkpoint's index.
 * @param output The destination (an index for a sharded checkpoint).
 * @param options The config list, algorithm and progress callback.
 * @returns The report (`model` is `input`).
 * @throws {ConfigError} For an invalid config list.
 * @throws {ModelFormatError} For an unreadable file (names the file and byte offset), or shards
 * that do not match their index.
 * @throws {TypeError} When a sharded checkpoint's `output` is not an index path.
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
  return await withStreamedRun(input, output, options, async (run) => {
    // One thread: tasks run in \`here\`, reading into one buffer reused by every tensor; workers
    // read their tensors from the file themselves (\`located\`).
    const { parts, all, fileBytes, writeIndex, writeParts, graph, pool, here, located } = run;
    const modules = new Map(graph.modules.map((m) => [m.name, m]));
    const runPrune = async (place?: Placer) => {
      progress("masks", 0, 1);
      const r = await prune(graph, options.configList, {
        pruner: pruner!.name,
        ...(options.registry === undefined ? {} : { registry: options.registry }),
        ...(options.inMemoryEntries === undefined
          ? {}
          : { inMemoryEntries: options.inMemoryEntries }),
        ...(pool === undefined
          ? localMetrics(here, pruner!.name, located, place)
          : threadedMetrics(pool, graph, pruner!.name, located, place)),
      });
      progress("masks", 1, 1);
      return r;
    };
    // A single output file is opened before the masks are made: a tensor whose mask its own
    // selection decides is masked where it was read (by a worker, or on this thread) and
    // written at its place at once, while the other masks are made; the output's writer then
    // passes over it. With workers the writes overlap the selection (the page-cache writes of a
    // 1 GB output took as long as the selection itself here); on any thread count each such
    // tensor is read once.
    const aheadOfMasks = parts.length === 1 && options.maxShardSize === undefined;
    let result = aheadOfMasks ? undefined : await runPrune();
    let written = 0;
    // The per-layer counts are taken as each masked tensor is written (one read of the file).
    const seen = new Map<string, TensorChange>();
    const key = (t: { module: string; target: string }) => `${t.module}\u0000${t.target}`;
    const changeFor = (t: PruningTarget, before: Float32Array, after: Float32Array) => {
      const module = modules.get(t.module);
      const ref = module?.params[t.target];
      if (module === undefined || ref === undefined) return;
      seen.set(key(t), prunedChange(t, module.type, ref, before, after));
    };
    const counts: Counts = new Map();
    const placed = new Set<string>();
    /** Writes masked tensors ahead of the rest of the output, into `sink`'s file. */
    const placer = (sink: ByteSink): Placer | undefined => {
      if (sink.writeAt === undefined || sink.skip === undefined) return undefined;
      const { offsets } = prunedLayout(parts[0].lazy);
      // A tensor two params share keeps the ordinary path (its mask combines theirs).
      const uses = tensorUses(graph);
      const file = sink.file;
      return {
        accepts: (ref) => uses.get(ref.name) === 1 && offsets.has(ref.name),
        async write(t, ref, bytes, c) {
          await sink.writeAt!(offsets.get(ref.name)!, bytes);
          placed.add(ref.name);
          counts.set(key(t), c);
        },
        // A file output: the worker writes the tensor itself, so this thread, which hands out
        // the tasks, is never held up by a write (64 MiB took it 100-180 ms, during which the
        // workers that finished waited for their next tensor).
        ...(file === undefined ? {} : {
          placeOf: (ref: TensorRef) => taskPlace(file, offsets.get(ref.name)!),
          written(t: PruningTarget, ref: TensorRef, c: ZeroCounts, bytes: number) {
            file.wrote(bytes);
            placed.add(ref.name);
            counts.set(key(t), c);
          },
        }),
      };
    };
    const unchangedOf = (r: PruneResult) =>
      r.targets.length === 0 ? unchangedReason(options.configList) : undefined;
    if (
      result === undefined || unchangedOf(result) === undefined || options.writeUnchanged !== false
    ) {
      // (Writing ahead of the masks: the write stage starts once they are made.)
      if (result !== undefined) progress("write", 0, parts.length);
      const mineOf = (r: PruneResult, i: number) => {
        // Each shard gets the targets whose tensors it holds.
        const here = new Set(parts[i].lazy.entries.map((e) => e.name));
        return parts.length === 1 ? r : {
          ...r,
          targets: r.targets.filter((t) => {
            const ref = modules.get(t.module)?.params[t.target];
            return ref === undefined || here.has(ref.name);
          }),
        };
      };
      const done = await writeParts(async (i, sink) => {
        if (result === undefined) {
          result = await runPrune(placer(sink));
          // Nothing to prune and no unchanged copy wanted: the file is not written after all.
          if (unchangedOf(result) !== undefined && options.writeUnchanged === false) {
            throw NOT_WRITTEN;
          }
          progress("write", 0, parts.length);
        }
        const mine = mineOf(result, i);
        const threaded = pool === undefined ? undefined : threadedMasks(
          pool,
          maskedInOrder(parts[i].lazy.entries, mine, modules).filter((o) =>
            !placed.has(o.ref.name)
          ),
          counts,
          located,
          sink.file === undefined
            ? undefined
            : { file: sink.file, offsets: prunedLayout(parts[i].lazy).offsets },
        );
        await streamPrunedSafetensors(parts[i].lazy, mine, sink, {
          onMasked: changeFor,
          maskedBytes: threaded ?? localMasks(here, counts, located),
          ...(placed.size === 0 ? {} : { written: placed }),
        });
      }, (i) => {
        for (const t of mineOf(result!, i).targets) {
          const c = counts.get(key(t));
          const module = modules.get(t.module);
          const ref = module?.params[t.target];
          if (c === undefined || module === undefined || ref === undefined) continue;
          seen.set(key(t), {
            module: t.module,
            target: t.target,
            type: module.type,
            granularity: t.setting.granularity,
            ref,
            ...c,
            bits: null,
          });
        }
        progress("write", i + 1, parts.length);
      }).catch((e) => {
        if (e === NOT_WRITTEN) return undefined;
        throw e;
      });
      written += done?.written ?? 0;
      // Pruning keeps every tensor's name, dtype and shape.
      if (done !== undefined && !done.resharded) {
        written += await writeIndex(
          parts.map((p) => p.lazy.entries.map((e) => e.name)),
          all.entries.reduce((n, e) => n + e.end - e.begin, 0),
        );
      }
    }
    result ??= await runPrune();
    const unchanged = unchangedOf(result);
    let parameters = 0;
    let packed = 0;
    for (const e of all.entries) {
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
    return streamedReport({
      label: options.label ?? "pruning",
      model: input,
      mode: "pruning",
      algorithm,
      configList: options.configList,
      fileBytes,
      written,
      packedBefore: packed,
      packedAfter: packed,
      parameters,
      layers,
      warnings: result.report.warnings,
      start,
      unchanged,
    });
  });
}

/** The masked parameters of `pruned` in the order a part's entries are written. */
function maskedInOrder(
  entries: readonly { readonly name: string }[],
  pruned: { targets: readonly PruningTarget[]; masks: PruneResultMasks },
  modules: ReadonlyMap<string, Module>,
): { target: PruningTarget; mask: TargetMask; ref: TensorRef }[] {
  const byName = new Map<string, { target: PruningTarget; mask: TargetMask; ref: TensorRef }>();
  for (const target of pruned.targets) {
    const mask = pruned.masks[target.module]?.[target.target];
    const ref = modules.get(target.module)?.params[target.target];
    if (mask === undefined || ref === undefined || target.setting.apply_method === "bypass") {
      continue;
    }
    if (target.kind === "parameter") byName.set(ref.name, { target, mask, ref });
  }
  return entries.flatMap((e) => byName.get(e.name) ?? []);
}

type PruneResultMasks = Readonly<Record<string, Readonly<Record<string, TargetMask>>>>;
