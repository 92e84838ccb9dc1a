// The per-tensor tasks of `_tensor_tasks.ts` run on this thread, for the one-thread streamed
// prune and integer quantization: the same functions as on the workers, with one context per run (a read buffer reused
// from tensor to tensor, the file opened once), so one thread and many give the same bytes.
import type { ResolvedTarget } from "../config/types.ts";
import type { TensorRef } from "../model/model_graph.ts";
import type { MetricSummary, MetricSummaryResult } from "../pruning/metric_summary.ts";
import { packedMaskData } from "../pruning/packed_mask.ts";
import { preselectedMetric } from "../pruning/preselected_metric.ts";
import type { PrunerName, PruningTarget, TargetMask } from "../pruning/types.ts";
import type { TargetQuantParams } from "../quantization/compute_target_quant_params.ts";
import type { TrackedRange } from "../quantization/tracked_range.ts";
import {
  type Locate,
  runTask,
  type TaskContext,
  type Tasks,
  taskTensor,
  type TensorBytes,
} from "./_tensor_tasks.ts";
import { type CodePlacer, type Counts, type Placer, selectedK } from "./_threaded.ts";

/** A tensor as a task on this thread gets it: where to read it, or a copy of its bytes. */
const localTensor = async (ref: TensorRef, locate: Locate | undefined): Promise<TensorBytes> =>
  (await taskTensor(ref, locate, true)).tensor;

const keyOf = (t: { readonly module: string; readonly target: string }) =>
  `${t.module}\u0000${t.target}`;

/**
 * `prune`'s `metricOf` on this thread: each tensor read into the context's buffer; for a target
 * only the ratio rule reads, with an element-wise `|w|` metric, its mask selected from the
 * value bits and given as a `preselectedMetric`; and `metricSummaryOf`, a global group's
 * summaries (`summarizeMetric`) made from each member's values.
 */
export function localMetrics(
  context: TaskContext,
  pruner: PrunerName,
  locate?: Locate,
  place?: Placer,
): {
  metricOf: (t: PruningTarget, ref: TensorRef) => Promise<Float32Array>;
  metricSummaryOf: (
    t: PruningTarget,
    ref: TensorRef,
    summary: MetricSummary,
  ) => Promise<MetricSummaryResult>;
} {
  return {
    async metricOf(t, ref) {
      const k = selectedK(t, ref);
      // A tensor whose mask this selection decides is masked and written at its place in the
      // output file while it is read (`WriteTo`): read once, not again for its mask.
      const writeTo = place !== undefined && k !== undefined && place.accepts(ref)
        ? place.placeOf?.(ref)
        : undefined;
      const args: Tasks["metric"]["args"] = {
        tensor: await localTensor(ref, locate),
        target: t,
        pruner,
        ...(k === undefined ? {} : { k }),
        ...(writeTo === undefined ? {} : { fuse: true, writeTo }),
      };
      const { result } = await runTask({ task: "metric", args }, context);
      const r = result as Tasks["metric"]["result"];
      if ("metric" in r) return r.metric;
      if (r.masked !== undefined && r.masked.bytes === undefined) {
        place!.written!(t, ref, r.masked.counts, r.wrote!);
      }
      return preselectedMetric(r.length, k!, r.bits);
    },
    // A large global group's summaries, made from the values as the workers make them.
    async metricSummaryOf(t, ref, summary) {
      const args: Tasks["summary"]["args"] = {
        tensor: await localTensor(ref, locate),
        target: t,
        pruner,
        summary,
      };
      return (await runTask({ task: "summary", args }, context)).result as MetricSummaryResult;
    },
  };
}

/**
 * `streamPrunedSafetensors`'s `maskedBytes` on this thread, counting zeros into `counts`. The
 * bytes returned may be the context's read buffer: the writer writes them before it asks for
 * the next tensor.
 */
export function localMasks(
  context: TaskContext,
  counts: Counts,
  locate?: Locate,
): (target: PruningTarget, mask: TargetMask, ref: TensorRef) => Promise<Uint8Array> {
  return async (target, mask, ref) => {
    const args: Tasks["mask"]["args"] = {
      tensor: await localTensor(ref, locate),
      target,
      mask: packedMaskData(mask),
    };
    const { result } = await runTask({ task: "mask", args }, context);
    const r = result as Tasks["mask"]["result"];
    counts.set(keyOf(target), r.counts);
    // On this thread the bytes always come back (no `writeTo`).
    return r.bytes!;
  };
}

/** `quantize`'s `rangeOf` on this thread, each tensor read into the context's buffer. */
export function localRanges(
  context: TaskContext,
  locate?: Locate,
): (target: ResolvedTarget, ref: TensorRef) => Promise<TrackedRange> {
  return async (target, ref) => {
    const args: Tasks["range"]["args"] = { tensor: await localTensor(ref, locate), target };
    return (await runTask({ task: "range", args }, context)).result as TrackedRange;
  };
}

/**
 * `quantize`'s `rangeOf` on this thread for a run whose output is open (`threadedRangeCodes`'s
 * counterpart): each parameter read once for its range, parameters and codes, the codes written
 * at their place before the next is read, into the buffer of the codes written before.
 */
export function localRangeCodes(
  context: TaskContext,
  place: CodePlacer,
  locate?: Locate,
): (target: ResolvedTarget, ref: TensorRef) => Promise<TrackedRange> {
  let last: ArrayBuffer | undefined;
  let chain: Promise<unknown> = Promise.resolve();
  const ranges = localRanges(context, locate);
  const one = async (target: ResolvedTarget, ref: TensorRef): Promise<TrackedRange> => {
    if (!place.accepts(target, ref)) return await ranges(target, ref);
    const args: Tasks["rangeCodes"]["args"] = {
      tensor: await localTensor(ref, locate),
      target,
      ...(last === undefined ? {} : { spare: last }),
      ...(place.packed ? { packed: true } : {}),
    };
    last = undefined;
    const r = (await runTask({ task: "rangeCodes", args }, context))
      .result as Tasks["rangeCodes"]["result"];
    if (r.coded !== undefined) {
      // On this thread the codes always come back (no `writeTo`).
      const coded = { ...r.coded, bytes: r.coded.bytes! };
      await place.write(target, ref, coded);
      last = wholeBuffer(coded.bytes);
    }
    return r.range;
  };
  // The engine asks for every range at once: one tensor at a time, each written before the next.
  return (target, ref) => {
    const p = chain.then(() => one(target, ref), () => one(target, ref));
    chain = p.catch(() => {});
    return p;
  };
}

/** The buffer of `b` when `b` is all of it (to write later codes into), else `undefined`. */
const wholeBuffer = (b: Uint8Array): ArrayBuffer | undefined =>
  b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer
    ? b.buffer
    : undefined;

/**
 * `streamQuantizedSafetensors`'s `codeBytes` on this thread (`packed`: `streamCompressedTensors`'s),
 * each tensor read into the context's buffer, its zeros after quantization counted into `counts`
 * (on the codes).
 */
export function localCodes(
  context: TaskContext,
  counts: Counts,
  locate?: Locate,
  packed = false,
): (param: TargetQuantParams, ref: TensorRef) => Promise<Uint8Array> {
  // The codes of the tensor written last: the next codes are written into its buffer (the
  // writer asks for a tensor once the one before is written).
  let last: ArrayBuffer | undefined;
  return async (param, ref) => {
    const args: Tasks["quantize"]["args"] = {
      tensor: await localTensor(ref, locate),
      param,
      ...(last === undefined ? {} : { spare: last }),
      ...(packed ? { packed } : {}),
    };
    last = undefined;
    const r = (await runTask({ task: "quantize", args }, context))
      .result as Tasks["quantize"]["result"];
    counts.set(keyOf(param), r.counts);
    last = wholeBuffer(r.bytes);
    return r.bytes;
  };
}
