// Latency in `eval` and `--eval`: --runs, --backend, --threads; onnxruntime-web loaded on demand;
// the side-by-side table of size, latency and fidelity.
import { decodeOnnx } from "../../io/onnx/decode_onnx.ts";
import { graphValueTypes } from "../../io/onnx/graph_value_types.ts";
import type { OrtLike } from "../../io/onnx/ort.ts";
import {
  LATENCY_RUNS,
  LATENCY_WARMUP,
  type LatencyOptions,
  measureLatency,
} from "../../compress/measure_latency.ts";
import { formatTable } from "../../report/format_table.ts";
import type { LatencyReport } from "../../report/types.ts";
import { CliError, UsageError } from "../cli_error.ts";
import type { Command, CommandContext } from "./_context.ts";
import { loadOrt } from "./_ocr.ts";

/** The latency flags. */
export interface LatencyFlags {
  /** Timed runs per model; 0: no timing. */
  readonly runs: number;
  /** The backends to time on. */
  readonly backends: readonly ("node" | "web")[];
  /** Intra-op threads (and onnxruntime-web's `numThreads`). */
  readonly threads: number;
}

/** The latency flags of `eval` and `--eval`, checked. */
export function latencyFlags(args: Parameters<Command>[0], command: string): LatencyFlags {
  const v = args.values;
  const int = (name: string, fallback: number, min: number) => {
    const raw = v[name];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min) {
      throw new UsageError(
        `--${name} must be an integer >= ${min}: current value is ${raw}`,
        command,
      );
    }
    return n;
  };
  const backend = (v.backend as string | undefined) ?? "node";
  if (!["node", "web", "both"].includes(backend)) {
    throw new UsageError(
      `--backend must be node, web or both: current value is ${backend}`,
      command,
    );
  }
  return {
    runs: int("runs", LATENCY_RUNS, 0),
    threads: int("threads", 1, 1),
    backends: backend === "both" ? ["node", "web"] : [backend as "node" | "web"],
  };
}

/** onnxruntime-web (its WebAssembly CPU backend), with `threads` threads and no proxy worker. */
async function loadOrtWeb(ctx: CommandContext, threads: number): Promise<OrtLike> {
  if (ctx.io.loadOrtWeb === undefined) {
    throw new CliError("--backend web needs onnxruntime-web, which this runtime cannot load");
  }
  try {
    const ort = await ctx.io.loadOrtWeb() as {
      env: { wasm: { numThreads: number; proxy: boolean } };
    };
    ort.env.wasm.numThreads = threads;
    ort.env.wasm.proxy = false;
    return ort as unknown as OrtLike;
  } catch (e) {
    throw new CliError(`cannot load onnxruntime-web: ${(e as Error).message}`, {
      hint: "install it with: npm i -D onnxruntime-web, or time with --backend node",
      cause: e,
    });
  }
}

/** How the inputs of a timed run are made: one OCR line, or the comparison's inputs. */
export type LatencyInputs = Pick<LatencyOptions, "inputs" | "dims" | "shape" | "inputLabel">;

/**
 * The inputs of one PP-OCR line for the model's first input (`labelled line 0`).
 */
export function ocrLineInputs(
  model: Uint8Array,
  line: { input: Float32Array; dims: readonly number[] },
): LatencyInputs {
  const [first] = graphValueTypes(decodeOnnx(model)).inputs;
  return {
    inputs: { [first.name]: { data: line.input, dims: line.dims, type: "float32" } },
    inputLabel: `labelled line 0, ${first.name} [${line.dims.join(", ")}]`,
  };
}

/**
 * Times `result` (and `original`) on each backend of the flags. A backend that cannot run a
 * model (or inputs that do not fit one run) gets a warning on stderr instead of failing the
 * evaluation.
 */
export async function timeModels(
  ctx: CommandContext,
  flags: LatencyFlags,
  result: Uint8Array,
  original: Uint8Array | undefined,
  inputs: LatencyInputs,
  onBackend: (backend: string) => void = () => {},
): Promise<LatencyReport[]> {
  if (flags.runs === 0) return [];
  const out: LatencyReport[] = [];
  for (const backend of flags.backends) {
    onBackend(backend);
    const ort = backend === "node" ? await loadOrt(ctx) : await loadOrtWeb(ctx, flags.threads);
    try {
      out.push(
        await measureLatency(ort, result, original, {
          backend,
          runs: flags.runs,
          warmup: LATENCY_WARMUP,
          threads: flags.threads,
          ...inputs,
        }),
      );
    } catch (e) {
      // Inputs made for several --steps, or a model this backend cannot run: the evaluation
      // stands without the figure.
      ctx.io.stderr(
        `warning: onnxruntime-${backend} could not time the models: ${(e as Error).message}\n`,
      );
    }
  }
  return out;
}

const mb = (b: number) => b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : `${(b / 1e3).toFixed(1)} kB`;
const ms = (x: number) => `${x.toFixed(x >= 100 ? 0 : 2)} ms`;

/**
 * Size, latency and fidelity of the original and the result side by side, then how the time
 * was measured.
 */
export function sideBySide(r: {
  readonly originalBytes?: number;
  readonly resultBytes: number;
  readonly latency: readonly LatencyReport[];
  readonly fidelity?: readonly { name: string; original?: string; result: string }[];
}): string {
  const rows: string[][] = [["", "original", "result", "result / original"]];
  const ratio = (a: number | undefined | null, b: number) =>
    a === undefined || a === null || a === 0 ? "-" : `${(b / a).toFixed(2)}x`;
  rows.push([
    "file size",
    r.originalBytes === undefined ? "-" : mb(r.originalBytes),
    mb(r.resultBytes),
    ratio(r.originalBytes, r.resultBytes),
  ]);
  for (const l of r.latency) {
    rows.push([
      `latency, ${l.backend} (median)`,
      l.originalMs === null ? "-" : ms(l.originalMs),
      ms(l.resultMs),
      ratio(l.originalMs, l.resultMs),
    ]);
  }
  for (const f of r.fidelity ?? []) rows.push([f.name, f.original ?? "-", f.result, ""]);
  const how = [
    ...new Set(
      r.latency.map((l) =>
        `onnxruntime-${l.backend}: ${l.threads} thread${
          l.threads === 1 ? "" : "s"
        }, median of ${l.runs} runs after ${l.warmup} warm-up, input ${l.input}`
      ),
    ),
  ];
  return `${formatTable(rows, { align: ["left", "right", "right", "right"] })}\n${
    how.map((h) => `${h}\n`).join("")
  }`;
}
