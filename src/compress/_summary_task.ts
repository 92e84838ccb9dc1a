// The `summary` task of the workers (`_tensor_tasks.ts`): a summary of a pruning target's metric
// for a global group's selection (`summarizeMetric`), made from the tensor's values.
import type { Kernels } from "../kernels/types.ts";
import {
  isMagnitudeMetric,
  type MetricSummary,
  type MetricSummaryResult,
  summarizeMetric,
  summaryBuffers,
} from "../pruning/metric_summary.ts";
import { parameterMetric } from "../pruning/parameter_metric.ts";
import type { PrunerName, PruningTarget } from "../pruning/types.ts";

/** The summary of `parameterMetric(values, target)`, and the buffers to transfer with it. */
export function summaryTask(
  values: Float32Array,
  target: PruningTarget,
  pruner: PrunerName,
  summary: MetricSummary,
  kernels: Kernels,
): { result: MetricSummaryResult; transfer: ArrayBuffer[] } {
  // Values that are not all finite get the metric's own error.
  const r =
    (isMagnitudeMetric(target, pruner)
      ? summarizeMetric(values, summary, { kernels, magnitude: true })
      : undefined) ??
      summarizeMetric(parameterMetric(values, target, { pruner, kernels }), summary, { kernels })!;
  // Each array owns its buffer (a kernel's result may be a view): transferred, not copied.
  const result: MetricSummaryResult = {
    ...(r.histogram === undefined ? {} : { histogram: whole(r.histogram) }),
    ...(r.mask === undefined ? {} : { mask: whole(r.mask) }),
    ...(r.positions === undefined ? {} : { positions: whole(r.positions) }),
    ...(r.lows === undefined ? {} : { lows: whole(r.lows) }),
  };
  return { result, transfer: summaryBuffers(result) };
}

/** A view that owns its whole buffer, copied when it does not. */
function whole<T extends Uint8Array | Uint16Array | Uint32Array | Float64Array>(view: T): T {
  return view.byteOffset === 0 && view.byteLength === view.buffer.byteLength &&
      view.buffer instanceof ArrayBuffer
    ? view
    : view.slice() as T;
}
