// The streamed safetensors runs on worker threads: each hook hands one tensor's work to the
// pool (`_worker_pool.ts`) and works ahead by `threads` of the largest tensors, in the order the
// one-thread path takes them, so memory holds about 2 x threads tensors and the output keeps its
// order (and bytes).
import type { ResolvedTarget } from "../config/types.ts";
import type { ModelGraph, TensorRef } from "../model/model_graph.ts";
import { blockLayout } from "../pruning/block_layout.ts";
import type { MetricSummary, MetricSummaryResult } from "../pruning/metric_summary.ts";
import { type PackedMaskData, packedMaskData } from "../pruning/packed_mask.ts";
import { preselectedMetric } from "../pruning/preselected_metric.ts";
import { prunedCount } from "../pruning/pruned_count.ts";
import type { PrunerName, PruningTarget, TargetMask } from "../pruning/types.ts";
import type { TargetQuantParams } from "../quantization/compute_target_quant_params.ts";
import type { TrackedRange } from "../quantization/tracked_range.ts";
import {
  type Locate,
  taskPlace,
  type Tasks,
  taskTensor,
  TRANSFERRED_BITS,
  type WriteTo,
  type ZeroCounts,
} from "./_tensor_tasks.ts";
import type { OutputFile } from "../io/safetensors/write_safetensors.ts";
import type { TaskPool } from "./_worker_pool.ts";

export type { Locate };

/**
 * Results started ahead of their use: `take(key)` starts `key` and the keys that `next`
 * predicts after it while their sizes (`size`: elements) add up to less than `budget`, returns
 * `key`'s result and forgets it; results outside that window are dropped (memory stays bounded
 * when a prediction was wrong). A budget in elements, not a count of keys: a weight's bias
 * between two weights does not take the place of the next weight, and tensors held are bounded
 * by their size.
 */
class Lookahead<V> {
  readonly #started = new Map<string, Promise<V>>();
  constructor(
    readonly budget: number,
    readonly start: (key: string) => Promise<V> | undefined,
    readonly next: (key: string) => string | undefined,
    readonly size: (key: string) => number,
  ) {}

  #begin(key: string): Promise<V> | undefined {
    let p = this.#started.get(key);
    if (p === undefined) {
      p = this.start(key);
      if (p === undefined) return undefined;
      // A result started ahead and never taken must not fail the process.
      p.catch(() => {});
      this.#started.set(key, p);
    }
    return p;
  }

  take(key: string, direct: () => Promise<V>): Promise<V> {
    const window = new Set<string>();
    let held = 0;
    for (let k = this.next(key); k !== undefined && held < this.budget; k = this.next(k)) {
      if (k === key || window.has(k)) break;
      window.add(k);
      held += this.size(k);
    }
    const mine = this.#begin(key) ?? direct();
    this.#started.delete(key);
    for (const k of this.#started.keys()) if (!window.has(k)) this.#started.delete(k);
    for (const k of window) this.#begin(k);
    return mine;
  }
}

/**
 * The elements started ahead of the one taken: `threads` of the largest tensors. Results are
 * taken in order, so when the one taken finishes, the next is about to, and each worker must
 * find a job queued then: with fewer ahead, workers wait for this thread to take the next
 * result (measured: a Level prune, whose biases sit between its weights, kept about one worker
 * busy in two). A queued job holds no tensor until a worker starts it, so memory holds about
 * `threads + 1` tensors' results.
 */
const budgetOf = (pool: TaskPool, refs: Iterable<TensorRef>) => {
  let largest = 1;
  for (const r of refs) largest = Math.max(largest, elementsOf(r));
  return pool.threads * largest;
};

const elementsOf = (r: TensorRef) => r.shape.reduce((a, b) => a * b, 1);

const keyOf = (t: { readonly module: string; readonly target: string }) =>
  `${t.module}\u0000${t.target}`;

/**
 * The `k` of the one `kSmallestMask` call the ratio rule makes on a target's metric, when that
 * is the only rule that reads it (a `sparse_ratio` outside global and dependency groups, no
 * threshold); `undefined` otherwise.
 */
function ratioK(t: PruningTarget, entries: number): number | undefined {
  const s = t.setting;
  if (
    s.sparse_ratio == null || s.global_group_id != null || s.dependency_group_id != null ||
    s.sparse_threshold != null
  ) return undefined;
  const r = Math.min(s.max_sparse_ratio || 1, Math.max(s.min_sparse_ratio || 0, s.sparse_ratio));
  if (!(r > 0 && r < 1)) return undefined;
  return prunedCount(entries, r);
}

/**
 * Writes a tensor whose mask the metric's selection decided (`selectedK`: the ratio rule's alone)
 * into the output, masked, while the other masks are made (`ByteSink.writeAt`), and counts its
 * change; the output's writer then passes over it.
 */
export interface Placer {
  /** Whether the tensor can be written this way (one target masks it, and it has a place). */
  accepts(ref: TensorRef): boolean;
  /** Writes the masked bytes at the tensor's place and records its change. */
  write(
    target: PruningTarget,
    ref: TensorRef,
    bytes: Uint8Array,
    counts: ZeroCounts,
  ): Promise<void>;
  /**
   * Where the worker that masks the tensor may write it itself (the output file and the
   * tensor's offset: `writeFileRange`), so this thread is not held up writing it; `undefined`
   * for `write`.
   */
  placeOf?(ref: TensorRef): Tasks["metric"]["args"]["writeTo"];
  /** Records the change of a tensor a worker wrote at `placeOf(ref)` (`bytes` of it). */
  written?(target: PruningTarget, ref: TensorRef, counts: ZeroCounts, bytes: number): void;
}

/**
 * `prune`'s `metricOf` on the pool: metrics are computed ahead in the order the pipeline asked
 * for them last (a global group reads its members in passes), else in target order; for a
 * target only the ratio rule reads, with an element-wise `|w|` metric, the worker selects its
 * mask from the value bits and the pipeline gets it as a `preselectedMetric` (the same mask as
 * `kSmallestMask` on the metric).
 * A large global group's selection runs on the workers too (`metricSummaryOf`): each returns its
 * members' histograms and masks, this thread merges them and picks the threshold.
 */
export function threadedMetrics(
  pool: TaskPool,
  graph: ModelGraph,
  pruner: PrunerName,
  locate?: Locate,
  place?: Placer,
): {
  metricOf: (
    t: PruningTarget,
    ref: TensorRef,
    targets: readonly PruningTarget[],
  ) => Promise<Float32Array>;
  metricSummaryOf: (
    t: PruningTarget,
    ref: TensorRef,
    summary: MetricSummary,
  ) => Promise<MetricSummaryResult>;
} {
  const modules = new Map(graph.modules.map((m) => [m.name, m]));
  let ahead: Lookahead<Float32Array> | undefined;
  let last: string | undefined;
  const seen = new Map<string, string>();
  const spares = new Spares(pool.threads);
  const run = (t: PruningTarget, ref: TensorRef) => {
    const k = selectedK(t, ref);
    const fuse = place !== undefined && k !== undefined && place.accepts(ref);
    const writeTo = fuse ? place.placeOf?.(ref) : undefined;
    return pool.run<Tasks["metric"]["result"]>(async () => {
      const { tensor, transfer } = await taskTensor(ref, locate);
      const args: Tasks["metric"]["args"] = {
        tensor,
        target: t,
        pruner,
        ...(k === undefined ? {} : { k }),
        ...(fuse ? { fuse } : {}),
        ...(writeTo === undefined ? {} : { writeTo }),
      };
      // A worker that writes the tensor itself keeps its read buffer: no spare goes with it.
      return {
        task: "metric",
        ...(fuse && writeTo === undefined ? spares.attach(args, transfer) : { args, transfer }),
      };
    }).then(async (r) => {
      if ("metric" in r) return r.metric;
      if (r.masked !== undefined && r.masked.bytes === undefined) {
        place!.written!(t, ref, r.masked.counts, r.wrote!);
      } else if (r.masked?.bytes !== undefined) {
        // The tensor's final bytes (its mask is this selection): written at its place now, and
        // the buffer goes back to a worker to read a later tensor into.
        await place!.write(t, ref, r.masked.bytes, r.masked.counts);
        spares.give(r.masked.bytes);
      }
      return preselectedMetric(r.length, k!, r.bits);
    });
  };
  const metricOf = (t: PruningTarget, ref: TensorRef, targets: readonly PruningTarget[]) => {
    if (ahead === undefined) {
      const params = targets.filter((u) =>
        u.kind === "parameter" && modules.get(u.module)?.params[u.target] !== undefined
      );
      const byKey = new Map(params.map((u) => [keyOf(u), u]));
      const order = params.map(keyOf);
      const index = new Map(order.map((k, i) => [k, i]));
      const refOf = (u: PruningTarget) => modules.get(u.module)!.params[u.target];
      ahead = new Lookahead(
        budgetOf(pool, params.map(refOf)),
        (k) => {
          const u = byKey.get(k);
          return u === undefined ? undefined : run(u, refOf(u));
        },
        (k) => seen.get(k) ?? order[(index.get(k) ?? order.length) + 1],
        (k) => {
          const u = byKey.get(k);
          return u === undefined ? 0 : elementsOf(refOf(u));
        },
      );
    }
    const key = keyOf(t);
    if (last !== undefined) seen.set(last, key);
    last = key;
    return ahead.take(key, () => run(t, ref));
  };
  // A global group's summaries: the pipeline asks for all members at once, the pool runs them
  // as workers free up, and only histograms and masks come back.
  const metricSummaryOf = (t: PruningTarget, ref: TensorRef, summary: MetricSummary) =>
    pool.run<Tasks["summary"]["result"]>(async () => {
      const { tensor, transfer } = await taskTensor(ref, locate);
      const args: Tasks["summary"]["args"] = { tensor, target: t, pruner, summary };
      return { task: "summary", args, transfer };
    });
  return { metricOf, metricSummaryOf };
}

/**
 * `ratioK` of a parameter target with its metric's length from its layout; `undefined` also
 * for a granularity that does not fit (it fails in the pipeline, with its own error).
 */
export function selectedK(t: PruningTarget, ref: TensorRef): number | undefined {
  try {
    return ratioK(t, parameterMetricLength(t, ref));
  } catch {
    return undefined;
  }
}

/** The entries of a parameter target's metric: one per block of its granularity. */
function parameterMetricLength(t: PruningTarget, ref: TensorRef): number {
  return blockLayout(t.setting.granularity, ref.shape, {
    module: t.module,
    target: t.target,
    kind: t.kind,
  }).gridSize;
}

/** The change counts of the tensors a hook produced, by `module\0target`. */
export type Counts = Map<string, ZeroCounts>;

/** `streamPrunedSafetensors`'s `maskedBytes` on the pool, working ahead in `order` (tensor names). */
export function threadedMasks(
  pool: TaskPool,
  order: readonly { target: PruningTarget; mask: TargetMask; ref: TensorRef }[],
  counts: Counts,
  locate?: Locate,
  place?: { readonly file: OutputFile; readonly offsets: ReadonlyMap<string, number> },
): (target: PruningTarget, mask: TargetMask, ref: TensorRef) => Promise<Uint8Array | null> {
  const byName = new Map(order.map((o) => [o.ref.name, o]));
  const index = new Map(order.map((o, i) => [o.ref.name, i]));
  const spares = new Spares(pool.threads);
  const maskBuffers = new MaskBuffers(pool.threads);
  // With the output file known, the worker that masks a tensor writes it at its place itself
  // (`WriteTo`) and keeps its buffer; the writer passes over it.
  const writeToOf = (ref: TensorRef): WriteTo | undefined => {
    const offset = place?.offsets.get(ref.name);
    if (place === undefined || offset === undefined) return undefined;
    return taskPlace(place.file, offset);
  };
  const run = (target: PruningTarget, mask: TargetMask, ref: TensorRef) =>
    pool.run<Tasks["mask"]["result"]>(async () => {
      const { tensor, transfer } = await taskTensor(ref, locate);
      const writeTo = writeToOf(ref);
      // A mask held as bits crosses as its bits (an eighth of its blocks), transferred.
      const sent = maskBuffers.send(packedMaskData(mask));
      const args: Tasks["mask"]["args"] = {
        tensor,
        target,
        mask: sent.mask,
        ...(writeTo === undefined ? {} : { writeTo }),
      };
      const all = [...transfer, ...sent.transfer];
      return {
        task: "mask",
        ...(writeTo === undefined ? spares.attach(args, all) : { args, transfer: all }),
      };
    }).then((r) => {
      maskBuffers.give(r.bitsBack);
      return r;
    });
  const ahead = new Lookahead(
    budgetOf(pool, order.map((o) => o.ref)),
    (name) => {
      const o = byName.get(name);
      return o === undefined ? undefined : run(o.target, o.mask, o.ref);
    },
    (name) => order[(index.get(name) ?? order.length) + 1]?.ref.name,
    (name) => {
      const o = byName.get(name);
      return o === undefined ? 0 : elementsOf(o.ref);
    },
  );
  let last: Uint8Array | undefined;
  return async (target, mask, ref) => {
    // The writer asks for a tensor once the one before is written: its buffer goes back to a
    // worker, to read a later tensor into (a fresh tensor-sized buffer costs about a read).
    if (last !== undefined) spares.give(last);
    last = undefined;
    const o = byName.get(ref.name);
    const same = o !== undefined && o.target === target && o.mask === mask;
    const r = same
      ? await ahead.take(ref.name, () => run(target, mask, ref))
      : await run(target, mask, ref);
    counts.set(keyOf(target), r.counts);
    if (r.bytes === undefined) {
      place!.file.wrote(r.wrote!);
      return null;
    }
    last = r.bytes;
    return r.bytes;
  };
}

/**
 * Written results' buffers on their way back to the workers (the `spare` of `mask` and
 * `quantize` tasks): at most `2 x threads` of them, each of 1 MiB or more and whole (a view of
 * all its buffer). On this machine a fresh buffer of 16 MiB costs 34-67 ms to fill, a reused one
 * under 1 ms (its pages are mapped already; bench/parallel_scaling_bench.ts measures the steps).
 */
class Spares {
  readonly #buffers: ArrayBuffer[] = [];
  constructor(readonly threads: number) {}

  give(bytes: Uint8Array): void {
    const b = bytes.buffer;
    if (
      b instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === b.byteLength &&
      b.byteLength >= 2 ** 20 && this.#buffers.length < 2 * this.threads
    ) this.#buffers.push(b);
  }

  /** A job's arguments and transfer list, with a spare buffer added when one is here. */
  attach<A extends object>(
    args: A,
    transfer: ArrayBuffer[],
  ): { args: A & { spare?: ArrayBuffer }; transfer: ArrayBuffer[] } {
    const spare = this.#buffers.pop();
    return spare === undefined
      ? { args, transfer }
      : { args: { ...args, spare }, transfer: [...transfer, spare] };
  }
}

/**
 * Buffers for the masks sent to the workers (`mask` task), which hand them back with their
 * results: a mask of `TRANSFERRED_BITS` bytes or more is copied into one (the pipeline keeps
 * its own) and transferred, not cloned (Deno clones at about 150 MB/s on the thread that hands
 * out the jobs; a copy into a buffer used before takes well under a millisecond for 2 MiB). At
 * most `2 x threads` are kept.
 */
class MaskBuffers {
  readonly #free: ArrayBuffer[] = [];
  constructor(readonly threads: number) {}

  /** The mask with its bits (or blocks) in a buffer of their own, and that buffer to transfer. */
  send(data: TargetMask | PackedMaskData): {
    mask: TargetMask | PackedMaskData;
    transfer: ArrayBuffer[];
  } {
    const array = "bits" in data ? data.bits : data.blocks;
    const n = array.byteLength;
    if (n < TRANSFERRED_BITS) return { mask: data, transfer: [] };
    const i = this.#free.findIndex((b) => b.byteLength >= n);
    const buffer = i < 0 ? new ArrayBuffer(n) : this.#free.splice(i, 1)[0];
    const copy = new Uint8Array(buffer, 0, n);
    copy.set(array);
    const mask = "bits" in data ? { ...data, bits: copy } : { ...data, blocks: copy };
    return { mask, transfer: [buffer] };
  }

  /** Keeps a buffer a worker handed back. */
  give(buffer: ArrayBuffer | undefined): void {
    if (buffer !== undefined && this.#free.length < 2 * this.threads) this.#free.push(buffer);
  }
}

/** `quantize`'s `rangeOf` on the pool (the pool bounds how many tensors are read at once). */
export function threadedRanges(
  pool: TaskPool,
  locate?: Locate,
): (target: ResolvedTarget, ref: TensorRef) => Promise<TrackedRange> {
  return (target, ref) =>
    pool.run<TrackedRange>(async () => {
      const { tensor, transfer } = await taskTensor(ref, locate);
      const args: Tasks["range"]["args"] = { tensor, target };
      return { task: "range", args, transfer };
    });
}

/**
 * Writes a parameter's codes into the output while the other ranges are tracked (`ByteSink.writeAt`,
 * at the place `quantizedLayout` gives), and records the parameters they were made with; the
 * output's writer passes over them when the engine's parameters are the same.
 */
export interface CodePlacer {
  /** Whether the codes are compressed-tensors' `weight_packed` (`compressedPackedBytes`). */
  readonly packed: boolean;
  /** Whether the tensor's codes can be written this way (one target quantizes it, it has a place). */
  accepts(target: ResolvedTarget, ref: TensorRef): boolean;
  /** Writes the codes at their place and records the parameters and the change. */
  write(
    target: ResolvedTarget,
    ref: TensorRef,
    coded: { param: TargetQuantParams; bytes: Uint8Array; counts: ZeroCounts },
  ): Promise<void>;
  /**
   * Where the worker that makes the codes may write them itself (`WriteTo`), so this thread is
   * not held up writing them; `undefined` for `write`.
   */
  placeOf?(target: ResolvedTarget, ref: TensorRef): WriteTo | undefined;
  /**
   * Records the parameters and change of codes a worker wrote at `placeOf(target, ref)`
   * (`bytes` of them).
   */
  written?(
    target: ResolvedTarget,
    ref: TensorRef,
    coded: { param: TargetQuantParams; counts: ZeroCounts },
    bytes: number,
  ): void;
}

/**
 * `quantize`'s `rangeOf` on the pool for a run whose output is open: each worker reads a
 * parameter once for its range, its parameters and its codes, and the codes are written at their
 * place as they come (`CodePlacer`). The engine asks for every range at once: a job starts only
 * while fewer than `threads` results wait to be written, so memory holds about `2 x threads`
 * tensors' codes however fast the workers are. Tensors the placer does not accept get a range
 * alone.
 */
export function threadedRangeCodes(
  pool: TaskPool,
  place: CodePlacer,
  locate?: Locate,
): (target: ResolvedTarget, ref: TensorRef) => Promise<TrackedRange> {
  const packed = place.packed;
  const ranges = threadedRanges(pool, locate);
  const spares = new Spares(pool.threads);
  let waiting = 0;
  const wakers: (() => void)[] = [];
  const room = async () => {
    while (waiting >= pool.threads) await new Promise<void>((r) => wakers.push(r));
  };
  return (target, ref) => {
    if (!place.accepts(target, ref)) return ranges(target, ref);
    const writeTo = place.placeOf?.(target, ref);
    return pool.run<Tasks["rangeCodes"]["result"]>(async () => {
      // Codes the worker writes itself are not waited for here: no room is needed.
      if (writeTo === undefined) await room();
      const { tensor, transfer } = await taskTensor(ref, locate);
      const args: Tasks["rangeCodes"]["args"] = {
        tensor,
        target,
        ...(packed ? { packed } : {}),
        ...(writeTo === undefined ? {} : { writeTo }),
      };
      return {
        task: "rangeCodes",
        ...(writeTo === undefined ? spares.attach(args, transfer) : { args, transfer }),
      };
    }).then(async (r) => {
      if (r.coded === undefined) return r.range;
      const bytes = r.coded.bytes;
      if (bytes === undefined) {
        place.written!(target, ref, r.coded, r.wrote!);
        return r.range;
      }
      waiting++;
      try {
        await place.write(target, ref, { ...r.coded, bytes });
        spares.give(bytes);
      } finally {
        waiting--;
        wakers.shift()?.();
      }
      return r.range;
    });
  };
}

/**
 * `streamQuantizedSafetensors`'s `codeBytes` on the pool, working ahead in `order` (`packed`:
 * `streamCompressedTensors`'s).
 */
export function threadedCodes(
  pool: TaskPool,
  order: readonly { param: TargetQuantParams; ref: TensorRef }[],
  counts: Counts,
  locate?: Locate,
  packed = false,
): (param: TargetQuantParams, ref: TensorRef) => Promise<Uint8Array> {
  const byName = new Map(order.map((o) => [o.ref.name, o]));
  const index = new Map(order.map((o, i) => [o.ref.name, i]));
  const spares = new Spares(pool.threads);
  const run = (param: TargetQuantParams, ref: TensorRef) =>
    pool.run<Tasks["quantize"]["result"]>(async () => {
      const { tensor, transfer } = await taskTensor(ref, locate);
      // A written tensor's codes buffer goes back, to write later codes into.
      const args: Tasks["quantize"]["args"] = { tensor, param, ...(packed ? { packed } : {}) };
      return { task: "quantize", ...spares.attach(args, transfer) };
    });
  const ahead = new Lookahead(
    budgetOf(pool, order.map((o) => o.ref)),
    (name) => {
      const o = byName.get(name);
      return o === undefined ? undefined : run(o.param, o.ref);
    },
    (name) => order[(index.get(name) ?? order.length) + 1]?.ref.name,
    (name) => {
      const o = byName.get(name);
      return o === undefined ? 0 : elementsOf(o.ref);
    },
  );
  let last: Uint8Array | undefined;
  return async (param, ref) => {
    // The writer asks for a tensor once the one before is written.
    if (last !== undefined) spares.give(last);
    last = undefined;
    const o = byName.get(ref.name);
    const r = o !== undefined && o.param === param
      ? await ahead.take(ref.name, () => run(param, ref))
      : await run(param, ref);
    counts.set(keyOf(param), r.counts);
    last = r.bytes;
    return r.bytes;
  };
}
