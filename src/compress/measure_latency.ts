/**
 * `measureLatency`: inference time of an original model and its compressed result in
 * onnxruntime (node or web), measured the same way for both.
 *
 * @module
 */

import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
import { graphValueTypes } from "../io/onnx/graph_value_types.ts";
import { type InputTensor, type OrtLike, type OrtSession, toOrtTensor } from "../io/onnx/ort.ts";
import type { LatencyReport } from "../report/types.ts";
import { inputFeeds, type InputSpec } from "./input_feeds.ts";

/** Runs after the warm-up by default. */
export const LATENCY_RUNS = 10;
/** Warm-up runs by default (not timed: the first runs allocate and plan). */
export const LATENCY_WARMUP = 2;

/** Options of `measureLatency`. */
export interface LatencyOptions {
  /** The backend's name for the report (`node`, `web`). */
  readonly backend: string;
  /** Timed runs per model (default `LATENCY_RUNS`); the median is reported. */
  readonly runs?: number;
  /** Untimed runs per model first (default `LATENCY_WARMUP`). */
  readonly warmup?: number;
  /**
   * Threads per session (`intraOpNumThreads`; default 1, so figures are reproducible on a
   * shared machine and comparable between backends). For onnxruntime-web set
   * `ort.env.wasm.numThreads` as well: it is global there.
   */
  readonly threads?: number;
  /** The inputs, exactly (an OCR line); otherwise they are built from `inputs`. */
  readonly feeds?: Readonly<Record<string, InputTensor>>;
  /** Per-input specs as `compareOutputs` takes them (default: random values, seed 1234). */
  readonly inputs?: Readonly<Record<string, InputSpec>>;
  /** Sizes of symbolic dims by name. */
  readonly dims?: Readonly<Record<string, number>>;
  /** The first input's shape. */
  readonly shape?: readonly number[];
  /** What the inputs are, for the report (default: their dims). */
  readonly inputLabel?: string;
  /** More session options (e.g. `executionProviders: ["wasm"]`). */
  readonly sessionOptions?: Readonly<Record<string, unknown>>;
  /** A clock in milliseconds (default `performance.now`). */
  readonly now?: () => number;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function count(value: number | undefined, fallback: number, name: string, min: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min) {
    throw new RangeError(`"${name}" must be an integer >= ${min}: current value is ${value}`);
  }
  return v;
}

/**
 * Times `result` and, when given, `original` on the same inputs: each model gets its own
 * session (`threads` intra-op threads, one inter-op thread), `warmup` untimed runs, then `runs`
 * timed runs taken in turn (original, result, original, …) so that a change in the machine's
 * load falls on both alike; the median of each is reported, with the fastest run.
 *
 * @param ort `await import("onnxruntime-node")` or `onnxruntime-web`.
 * @param result The compressed model's bytes.
 * @param original The original model's bytes (omit to time `result` alone).
 * @param options The backend name, runs, warm-up, threads and inputs.
 * @returns The figures for the report (`originalMs` is `null` without `original`).
 * @throws {RangeError} For a bad count, or inputs that do not fit the model.
 * @throws {Error} onnxruntime's error when a model does not load or run.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildOnnx } from "../io/onnx/build_onnx.ts";
 * import { measureLatency } from "./measure_latency.ts";
 *
 * const model = buildOnnx({
 *   opsets: [{ domain: "", version: 17 }],
 *   nodes: [{ name: "r", opType: "Relu", inputs: ["x"], outputs: ["y"] }],
 *   initializers: [],
 *   inputs: [{ name: "x", type: { elemType: 1, dims: ["n", 4] } }],
 *   outputs: [{ name: "y", type: { elemType: 1, dims: ["n", 4] } }],
 * });
 * const ort = await import("onnxruntime-node");
 * let t = 0;
 * const l = await measureLatency(ort, model, model, { backend: "node", runs: 3, now: () => (t += 2) });
 * assert.deepEqual([l.runs, l.warmup, l.threads, l.resultMs, l.originalMs], [3, 2, 1, 2, 2]);
 * assert.equal(l.input, "x [8, 4]");
 * ```
 */
export async function measureLatency(
  ort: OrtLike,
  result: Uint8Array,
  original: Uint8Array | undefined,
  options: LatencyOptions,
): Promise<LatencyReport> {
  const runs = count(options.runs, LATENCY_RUNS, "runs", 1);
  const warmup = count(options.warmup, LATENCY_WARMUP, "warmup", 0);
  const threads = count(options.threads, 1, "threads", 1);
  const now = options.now ?? (() => performance.now());
  let feeds: Readonly<Record<string, InputTensor>>;
  if (options.feeds !== undefined) feeds = options.feeds;
  else {
    const declared = graphValueTypes(decodeOnnx(original ?? result)).inputs;
    const specs: Record<string, InputSpec> = { ...options.inputs };
    if (options.shape !== undefined && declared.length > 0) {
      specs[declared[0].name] = { ...specs[declared[0].name], dims: options.shape };
    }
    feeds = inputFeeds(declared, specs, {
      ...(options.dims === undefined ? {} : { dims: options.dims }),
      seed: 1234,
    });
  }
  const ortFeeds: Record<string, unknown> = {};
  for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrtTensor(ort, t);
  const sessionOptions = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    logSeverityLevel: 4,
    ...options.sessionOptions,
  };
  const sessions: OrtSession[] = [];
  try {
    for (const m of original === undefined ? [result] : [original, result]) {
      sessions.push(await ort.InferenceSession.create(m, sessionOptions));
    }
    for (const s of sessions) {
      for (let i = 0; i < warmup; i++) await s.run(ortFeeds);
    }
    const times: number[][] = sessions.map(() => []);
    for (let i = 0; i < runs; i++) {
      for (const [k, s] of sessions.entries()) {
        const t0 = now();
        await s.run(ortFeeds);
        times[k].push(now() - t0);
      }
    }
    const mine = times[times.length - 1];
    return {
      backend: options.backend,
      threads,
      runs,
      warmup,
      input: options.inputLabel ??
        Object.entries(feeds).map(([n, t]) => `${n} [${t.dims.join(", ")}]`).join(", "),
      resultMs: median(mine),
      resultMinMs: Math.min(...mine),
      originalMs: original === undefined ? null : median(times[0]),
      originalMinMs: original === undefined ? null : Math.min(...times[0]),
    };
  } finally {
    for (const s of sessions) await s.release?.();
  }
}
