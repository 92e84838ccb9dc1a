// The per-tensor work that runs on worker threads (`_tensor_worker.ts`, `_worker_pool.ts`):
// each task gets a tensor's stored bytes (transferred, or read here from the file) and returns what the one-thread path
// computes from the same values, by the same functions, so the output is the same byte for byte.
import { ConfigError } from "../config/config_error.ts";
import type { ResolvedTarget } from "../config/types.ts";
import { FileError } from "../io/file_error.ts";
import { type FileSource, openFile, openFileRange, writeFileRange } from "../io/fs.ts";
import { ModelFormatError } from "../io/model_format_error.ts";
import type { OutputFile } from "../io/safetensors/write_safetensors.ts";
import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import { toFileBytes } from "../model/from_float32.ts";
import type { TensorRef } from "../model/model_graph.ts";
import { toFloat32 } from "../model/to_float32.ts";
import { applyTargetMask } from "../pruning/apply_target_mask.ts";
import { expandMask } from "../pruning/expand_mask.ts";
import { blockLayout } from "../pruning/block_layout.ts";
import type { MetricSummary, MetricSummaryResult } from "../pruning/metric_summary.ts";
import { packedMask, type PackedMaskData } from "../pruning/packed_mask.ts";
import { parameterMetric } from "../pruning/parameter_metric.ts";
import {
  maskSmallestMagnitude,
  maskSmallestMagnitudeInPieces,
  maskStoredInPlace,
  smallestMagnitudeBits,
  storedMagnitudeReadable,
} from "../pruning/stored_magnitude.ts";
import { PruningError } from "../pruning/pruning_error.ts";
import type { PrunerName, PruningTarget, TargetMask } from "../pruning/types.ts";
import {
  computeTargetQuantParams,
  targetKey,
  type TargetQuantParams,
} from "../quantization/compute_target_quant_params.ts";
import { compressedPackedBytes } from "../quantization/compressed_tensors.ts";
import { dequantizedZeros } from "../quantization/dequantized_zeros.ts";
import { QuantizationError } from "../quantization/quantization_error.ts";
import { quantizedCodeBytes } from "../quantization/quantized_safetensors.ts";
import { trackParameterRanges } from "../quantization/track_parameter_ranges.ts";
import type { TrackedRange } from "../quantization/tracked_range.ts";
import type { DType } from "../tensor/dtype.ts";
import { summaryTask } from "./_summary_task.ts";
import { zeros } from "./_tensor_change.ts";

/** Where a tensor's stored bytes are in a file: the worker reads them with a handle of its own. */
export interface FileRange {
  readonly file: string;
  readonly offset: number;
  readonly length: number;
}

/**
 * A tensor as a task gets it: its stored bytes (transferred), or where to read them (`at`), and
 * what decodes them.
 */
export interface TensorBytes {
  readonly name: string;
  readonly dtype: DType;
  /** PyTorch layout. */
  readonly shape: readonly number[];
  readonly fileShape: readonly number[];
  readonly transpose?: readonly number[];
  readonly bytes?: Uint8Array;
  readonly at?: FileRange;
}

/**
 * Where a tensor's stored bytes are in a file (the streamed runs know it for every tensor of
 * their input), so that a task reads them itself: on a worker, this thread then reads nothing,
 * and workers read at the same time with handles of their own. `undefined`: the bytes are read
 * here and passed on.
 */
export type Locate = (ref: TensorRef) => FileRange | undefined;

/**
 * A tensor as a task gets it: where to read it, or its stored bytes in a buffer of their own
 * (listed in `transfer`, for a worker). The bytes are copied when they are not a whole buffer,
 * and always with `copy` (a task on this thread masks them in place: they must not be the
 * source's own).
 */
export async function taskTensor(
  ref: TensorRef,
  locate: Locate | undefined,
  copy = false,
): Promise<{ tensor: TensorBytes; transfer: ArrayBuffer[] }> {
  const base = {
    name: ref.name,
    dtype: ref.dtype,
    shape: ref.shape,
    fileShape: ref.fileShape,
    ...(ref.transpose === undefined ? {} : { transpose: ref.transpose }),
  };
  const at = locate?.(ref);
  if (at !== undefined) return { tensor: { ...base, at }, transfer: [] };
  const stored = await ref.bytes();
  const bytes = copy ? stored.slice() : own(stored);
  return { tensor: { ...base, bytes }, transfer: [bytes.buffer as ArrayBuffer] };
}

/** Zeros before and after, for the report. */
export interface ZeroCounts {
  readonly elements: number;
  readonly zerosBefore: number;
  readonly zerosAfter: number;
}

/**
 * Where a task's output bytes go when the thread that makes them writes them itself: the output
 * file being written (`ByteSink.file`, its data) and the bytes' offset in it (`writeFileRange`).
 * The result then carries no bytes, and the thread keeps its buffers.
 */
export interface WriteTo {
  readonly file: Pick<OutputFile, "path" | "destination" | "label">;
  readonly offset: number;
}

/** The place of a tensor at `offset` in `file`, as a task carries it (no `wrote` callback). */
export function taskPlace(file: OutputFile, offset: number): WriteTo {
  return { file: { path: file.path, destination: file.destination, label: file.label }, offset };
}

/**
 * Masks of this many bytes (their bits, or their blocks) or more cross to a worker and back
 * transferred, in buffers the pool's thread reuses (`mask` task): Deno copies a cloned array at
 * about 150 MB/s (a [4096, 4096] tensor's 2 MiB of bits: 13-19 ms of the thread that hands out
 * the jobs).
 */
export const TRANSFERRED_BITS = 64 * 1024;

/** The tasks and their arguments and results. */
export interface Tasks {
  /** A pruning target's metric (`parameterMetric`). */
  metric: {
    /**
     * `k`: the ratio rule's one use of the metric is the mask of its `k` smallest entries
     * (`kSmallestMask`). For an element-wise `|w|` metric the result is then that mask as bits
     * and the metric's length, without the metric (for `preselectedMetric`).
     */
    args: {
      tensor: TensorBytes;
      target: PruningTarget;
      pruner: PrunerName;
      k?: number;
      spare?: ArrayBuffer;
      /**
       * With `k` and that mask: also the tensor masked by it (`maskStoredInPlace`, what the
       * `mask` task gives when the mask is final: `apply_method` mul), so the output can be
       * written from this one read.
       */
      fuse?: boolean;
      /**
       * With `fuse`: the masked bytes are written here (the output file being written, at the
       * tensor's offset: `writeFileRange`) by the thread that masked them, and the result's
       * `masked` carries only the counts.
       */
      writeTo?: WriteTo;
    };
    result: { metric: Float32Array } | {
      bits: Uint8Array;
      length: number;
      /** The masked bytes (absent when written to `writeTo`) and the zero counts. */
      masked?: { bytes?: Uint8Array; counts: ZeroCounts };
      /** The bytes written to `writeTo`. */
      wrote?: number;
    };
  };
  /** A summary of a pruning target's metric (`summarizeMetric` of `parameterMetric`). */
  summary: {
    args: {
      tensor: TensorBytes;
      target: PruningTarget;
      pruner: PrunerName;
      summary: MetricSummary;
    };
    result: MetricSummaryResult;
  };
  /** A masked tensor's stored bytes (`applyTargetMask`, `toFileBytes`), with its zeros. */
  mask: {
    /** `spare`: a buffer this thread may read tensors into (one it returned before). */
    args: {
      tensor: TensorBytes;
      target: PruningTarget;
      mask: TargetMask | PackedMaskData;
      spare?: ArrayBuffer;
      writeTo?: WriteTo;
    };
    /**
     * `bytes`: absent when written to `writeTo` (`wrote` bytes). `bitsBack`: the buffer the
     * mask's bits or blocks came in, handed back for the next mask's (a worker's only).
     */
    result: { bytes?: Uint8Array; counts: ZeroCounts; wrote?: number; bitsBack?: ArrayBuffer };
  };
  /** A quantization target's tracked range (`trackParameterRanges`). */
  range: { args: { tensor: TensorBytes; target: ResolvedTarget }; result: TrackedRange };
  /** A quantized tensor's stored codes (`quantizedCodeBytes`), with its zeros (`dequantizedZeros`). */
  quantize: {
    /**
     * `spare`: a buffer of codes this thread returned before, to write the codes into; `packed`:
     * compressed-tensors' `weight_packed` bytes (`compressedPackedBytes`) in place of the
     * integer layout's codes.
     */
    args: { tensor: TensorBytes; param: TargetQuantParams; spare?: ArrayBuffer; packed?: boolean };
    result: { bytes: Uint8Array; counts: ZeroCounts };
  };
  /**
   * A parameter's range, its parameters (`computeTargetQuantParams` of that range alone) and its
   * stored codes with their zeros, from one read: what `range` and then `quantize` give, for a
   * run that writes the codes before the engine has every range. `coded` is absent when the
   * parameters or codes fail: the engine then computes them and reports the error in its order.
   */
  rangeCodes: {
    /** `spare` and `packed`: as for `quantize`. */
    args: {
      tensor: TensorBytes;
      target: ResolvedTarget;
      spare?: ArrayBuffer;
      packed?: boolean;
      writeTo?: WriteTo;
    };
    /** `coded.bytes`: absent when written to `writeTo` (`wrote` bytes). */
    result: {
      range: TrackedRange;
      coded?: { param: TargetQuantParams; bytes?: Uint8Array; counts: ZeroCounts };
      wrote?: number;
    };
  };
}

/** A task's name. */
export type TaskName = keyof Tasks;

/** A message to a worker. */
export interface TaskRequest {
  readonly task: TaskName;
  readonly args: unknown;
}

/** An error as it crosses threads: its class, message and own fields. */
export interface ErrorData {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly fields: Record<string, unknown>;
}

/** A worker's answer. */
export interface TaskReply {
  readonly result?: unknown;
  readonly error?: ErrorData;
}

/** A tensor's values as `safetensorsModel`'s `data()` gives them. */
function valuesOf(t: TensorBytes, context?: TaskContext): Float32Array {
  const b = t.bytes!;
  if (t.dtype === "F32" && b.byteOffset % 4 === 0) {
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  }
  // Half-precision tensors (the common stored type besides F32) decode into the reused buffer.
  const half = t.dtype === "F16" || t.dtype === "BF16";
  return toFloat32(b, t.dtype, getKernels(), half ? context?.floats(b.byteLength / 2) : undefined);
}

/** A stand-in `TensorRef` for the encoders (they read only its name, dtype and layout). */
function refOf(t: TensorBytes): TensorRef {
  return {
    name: t.name,
    dtype: t.dtype,
    shape: t.shape,
    fileShape: t.fileShape,
    ...(t.transpose === undefined ? {} : { transpose: t.transpose }),
    data: () => Promise.resolve(valuesOf(t)),
    bytes: () => Promise.resolve(t.bytes!),
  };
}

/** A view that owns its whole buffer (so it can be transferred), copied when it does not. */
export function own<T extends Uint8Array | Float32Array>(view: T): T {
  const whole = view.byteOffset === 0 && view.byteLength === view.buffer.byteLength &&
    view.buffer instanceof ArrayBuffer &&
    !(view.buffer as unknown as { resizable?: boolean }).resizable;
  return whole ? view : view.slice() as T;
}

/**
 * What a thread keeps from task to task: the files it reads tensors from, each opened once (per
 * thread: reads of different threads do not wait for each other, as reads of one handle do), and
 * the buffer they are read into: reused from tensor to tensor (a fresh tensor-sized buffer costs
 * about as much as the read itself), replaced only when a larger tensor comes or a result took
 * it. A worker has one for its life; the one-thread path makes one per run and closes it.
 */
export class TaskContext {
  readonly #files = new Map<string, Promise<FileSource>>();
  /** The buffer tensors are read into. */
  scratch = new Uint8Array(0);

  /** A buffer of codes this thread wrote itself (`WriteTo`), for the next task's codes. */
  codes: ArrayBuffer | undefined;

  /** Buffers handed back (results' bytes, once written), for when a result took the scratch. */
  readonly #spares: ArrayBuffer[] = [];

  #floats = new Float32Array(0);

  /**
   * A float32 buffer of `n` elements for a tensor's decoded values (F16, BF16 and the other
   * stored types), reused from task to task: on this machine fresh memory costs about 3 ms per
   * MiB to touch, more than decoding into it. One element more than the largest tensor, so the
   * view is never a whole buffer (`own` copies it rather than hand it to another thread).
   */
  floats(n: number): Float32Array {
    if (this.#floats.length < n + 1) this.#floats = new Float32Array(n + 1);
    return this.#floats.subarray(0, n);
  }

  /** Keeps a buffer handed back, for a later read (at most two are kept). */
  adopt(spare: ArrayBuffer | undefined): void {
    if (spare === undefined || spare.byteLength === 0) return;
    this.#spares.push(spare);
    this.#spares.sort((a, b) => b.byteLength - a.byteLength);
    this.#spares.length = Math.min(this.#spares.length, 2);
  }

  /** The file a range is in, opened once for this thread. */
  #source(at: FileRange): Promise<FileSource> {
    let file = this.#files.get(at.file);
    if (file === undefined) {
      file = openFile(at.file, { label: "model file" });
      this.#files.set(at.file, file);
      file.catch(() => this.#files.delete(at.file));
    }
    return file;
  }

  /**
   * Whether a tensor of `length` bytes would be read into a buffer not yet used (the scratch
   * and the buffers handed back are all smaller): fresh memory, whose pages cost about 3 ms per
   * MiB to fault in here.
   */
  wouldTouchFresh(length: number): boolean {
    return this.scratch.buffer.byteLength < length &&
      !this.#spares.some((b) => b.byteLength >= length);
  }

  #piece: Uint8Array | undefined;

  /** The 1 MiB buffer tensors read in pieces go through (`readPiece`), reused. */
  get piece(): Uint8Array {
    return this.#piece ??= new Uint8Array(PIECE_BYTES);
  }

  /** Reads bytes `[offset, offset + into.length)` of tensor `t`'s range into `into`. */
  async readPiece(t: TensorBytes, offset: number, into: Uint8Array): Promise<void> {
    const at = t.at!;
    const source = await this.#source(at);
    // Pieces of 1 MiB from the page cache: a synchronous read where the runtime has one.
    const n = source.readIntoSync?.(at.offset + offset, into) ??
      await source.readInto(at.offset + offset, into);
    if (n !== into.length) {
      throw new ModelFormatError(
        `read ${offset + n} of ${at.length} bytes: file is truncated`,
        { file: at.file, field: t.name, offset: at.offset + offset + n },
      );
    }
  }

  /** The tensor with its stored bytes: read into the scratch when it comes as a file range. */
  async load(t: TensorBytes): Promise<TensorBytes> {
    if (t.bytes !== undefined) return t;
    const at = t.at!;
    const source = await this.#source(at);
    if (this.scratch.buffer.byteLength < at.length) {
      const i = this.#spares.findIndex((b) => b.byteLength >= at.length);
      this.scratch = new Uint8Array(
        i < 0 ? new ArrayBuffer(at.length) : this.#spares.splice(i, 1)[0],
      );
    }
    const bytes = new Uint8Array(this.scratch.buffer, 0, at.length);
    const n = await source.readInto(at.offset, bytes);
    if (n !== at.length) {
      throw new ModelFormatError(`read ${n} of ${at.length} bytes: file is truncated`, {
        file: at.file,
        field: t.name,
        offset: at.offset,
      });
    }
    return { ...t, bytes };
  }

  #last: Promise<unknown> = Promise.resolve();

  /** Runs `fn` after every task started before it has settled. */
  serially<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#last.then(fn, fn);
    this.#last = p.catch(() => {});
    return p;
  }

  /** Closes the files. */
  async close(): Promise<void> {
    const files = [...this.#files.values()];
    this.#files.clear();
    for (const f of await Promise.allSettled(files)) {
      if (f.status === "fulfilled") await f.value.close();
    }
  }
}

/** A worker's context (a worker thread runs one task at a time). */
const WORKER = new TaskContext();

/**
 * Runs a task (reading its tensor first when it comes as a file range); returns its result and
 * the buffers to transfer back. On the thread that writes the output (`context` of the run), a
 * result's bytes may be a view of the context's scratch: write them before the next task.
 */
export function runTask(
  request: TaskRequest,
  context: TaskContext = WORKER,
): Promise<{ result: unknown; transfer: ArrayBuffer[] }> {
  // One task at a time per context: they share its read buffer (callers may ask for several
  // at once, as the quantization engine does for ranges; a worker gets one job at a time).
  return context.serially(() => runNow(request, context));
}

async function runNow(
  request: TaskRequest,
  context: TaskContext,
): Promise<{ result: unknown; transfer: ArrayBuffer[] }> {
  const args = request.args as { tensor: TensorBytes; spare?: ArrayBuffer };
  // A mask or metric task's spare is for reading tensors into; a quantize task's, for codes.
  if (request.task !== "quantize" && request.task !== "rangeCodes") context.adopt(args.spare);
  if (request.task === "metric") {
    const streamed = await maskedInPieces(request.args as Tasks["metric"]["args"], context);
    if (streamed !== undefined) return streamed;
  }
  const tensor = await context.load(args.tensor);
  const result = compute({ task: request.task, args: { ...args, tensor } }, context);
  // A result may own the read buffer (a view of all of it): the next read gets a new one.
  if (context.scratch.buffer.byteLength === 0) context.scratch = new Uint8Array(0);
  const writeTo = (args as { writeTo?: WriteTo }).writeTo;
  if (writeTo !== undefined) return await written(result, writeTo, context);
  return result;
}

/**
 * A result whose output bytes (`masked.bytes` of a metric, `bytes` of a mask, `coded.bytes` of
 * range codes) this thread writes to `writeTo` itself; returned without them. A buffer of codes
 * is kept for the next task's codes.
 */
async function written(
  out: { result: unknown; transfer: ArrayBuffer[] },
  writeTo: WriteTo,
  context: TaskContext,
): Promise<{ result: unknown; transfer: ArrayBuffer[] }> {
  const r = out.result as {
    bytes?: Uint8Array;
    bitsBack?: ArrayBuffer;
    masked?: { bytes?: Uint8Array; counts: ZeroCounts };
    coded?: { param: TargetQuantParams; bytes?: Uint8Array; counts: ZeroCounts };
  };
  const bytes = r.masked?.bytes ?? r.coded?.bytes ?? r.bytes;
  if (bytes === undefined) return out;
  await writeFileRange(writeTo.file, writeTo.offset, bytes);
  const wrote = bytes.length;
  const result = r.masked !== undefined
    ? { ...r, masked: { counts: r.masked.counts }, wrote }
    : r.coded !== undefined
    ? { ...r, coded: { param: r.coded.param, counts: r.coded.counts }, wrote }
    : {
      counts: (r as { counts: ZeroCounts }).counts,
      wrote,
      ...(r.bitsBack === undefined ? {} : { bitsBack: r.bitsBack }),
    };
  if (r.coded !== undefined) context.codes = bytes.buffer as ArrayBuffer;
  return { result, transfer: out.transfer.filter((b) => b !== bytes.buffer) };
}

/** The piece a tensor read in pieces goes through: 1 MiB stays in the core's cache. */
const PIECE_BYTES = 1 << 20;

/**
 * A Level (or l1, l2, slim) selection on element-wise `|w|` that a worker masks and writes
 * itself (`fuse` with `writeTo`), of a tensor in a file that would otherwise be read into fresh
 * memory: read, selected, masked and written in 1 MiB pieces (`maskSmallestMagnitudeInPieces`),
 * the result `written` gives for the whole read. `undefined` when it does not apply, or for a
 * NaN or an infinity (nothing written: the whole read then reports it).
 *
 * Workers only. On the 1.07 GB benchmark file a two-thread Level prune peaks at 149-152 MiB
 * instead of 302-303, in the same time (medians of four, interleaved: 2.06 against 2.13 s). The
 * one-thread run (the run's own context) keeps the whole read: in pieces it was 0.3-0.5 s slower
 * there in two interleaved runs, in waiting, not CPU, and as fast with the background flushes
 * of the output turned off (docs/performance.md, "Deno's own copy of the file, and a Level
 * prune's weights read in pieces").
 */
async function maskedInPieces(
  a: Tasks["metric"]["args"],
  context: TaskContext,
): Promise<{ result: unknown; transfer: ArrayBuffer[] } | undefined> {
  const t = a.tensor;
  const method = a.target.setting.apply_method;
  if (
    context !== WORKER || a.k === undefined || a.fuse !== true || a.writeTo === undefined ||
    t.at === undefined ||
    t.bytes !== undefined || !MAGNITUDE.has(a.pruner) || (method != null && method !== "mul") ||
    !context.wouldTouchFresh(t.at.length) ||
    !elementwiseMagnitude(t, a.target, t.at.length, storedMagnitudeReadable(context.piece, t.dtype))
  ) return undefined;
  const writeTo = a.writeTo;
  const out = await openFileRange(writeTo.file, writeTo.offset);
  let masked;
  try {
    masked = await maskSmallestMagnitudeInPieces(
      (offset, into) => context.readPiece(t, offset, into),
      (offset, bytes) => out.write(offset, bytes),
      t.at.length,
      t.dtype,
      a.k,
      context.piece,
      getKernels(),
    );
  } finally {
    await out.close();
  }
  if (masked === undefined) return undefined;
  const { bits, zerosBefore, zerosAfter } = masked;
  const elements = t.at.length / (t.dtype === "F32" ? 4 : 2);
  return {
    result: {
      bits,
      length: elements,
      masked: { counts: { elements, zerosBefore, zerosAfter } },
      wrote: t.at.length,
    },
    transfer: [bits.buffer as ArrayBuffer],
  };
}

/** The pruners whose element-wise metric is `|w|` (`computeMetric`: l1 of one-element blocks). */
const MAGNITUDE: ReadonlySet<PrunerName> = new Set<PrunerName>(["level", "l1", "l2", "slim"]);

/**
 * Whether a target's metric is `|w|` of each element and its stored bytes can be read as such
 * (`smallestMagnitudeBits`, `maskStoredInPlace`): a parameter in PyTorch layout stored as F32,
 * F16 or BF16, with one-element blocks.
 */
function elementwiseMagnitude(
  t: TensorBytes,
  target: PruningTarget,
  byteLength = t.bytes!.byteLength,
  readable = storedMagnitudeReadable(t.bytes!, t.dtype),
): boolean {
  if (
    target.kind !== "parameter" || target.shape === null || t.transpose !== undefined ||
    !readable
  ) return false;
  try {
    const layout = blockLayout(target.setting.granularity, target.shape, {
      module: target.module,
      target: target.target,
      kind: target.kind,
    });
    const width = t.dtype === "F32" ? 4 : 2;
    return layout.blockSize === 1 && layout.gridSize === byteLength / width;
  } catch {
    // A granularity that does not fit fails in `parameterMetric`, with its own error.
    return false;
  }
}

function compute(
  request: TaskRequest,
  context: TaskContext,
): { result: unknown; transfer: ArrayBuffer[] } {
  const kernels = getKernels();
  switch (request.task) {
    case "metric": {
      const a = request.args as Tasks["metric"]["args"];
      if (
        a.k !== undefined && MAGNITUDE.has(a.pruner) && elementwiseMagnitude(a.tensor, a.target)
      ) {
        // `undefined`: a NaN or an infinity, which `parameterMetric` below reports.
        const bytes = a.tensor.bytes!;
        const length = bytes.byteLength / (a.tensor.dtype === "F32" ? 4 : 2);
        const method = a.target.setting.apply_method;
        const fuse = a.fuse === true && (method == null || method === "mul");
        if (!fuse) {
          const bits = smallestMagnitudeBits(bytes, a.tensor.dtype, a.k, kernels);
          if (bits !== undefined) {
            return { result: { bits, length }, transfer: [bits.buffer as ArrayBuffer] };
          }
        }
        // Masked where it was read, as the `mask` task would, in the pass that makes the bits:
        // the output's bytes from one read.
        const masked = fuse
          ? maskSmallestMagnitude(bytes, a.tensor.dtype, a.k, kernels)
          : undefined;
        if (masked !== undefined) {
          const { bits, zerosBefore, zerosAfter } = masked;
          const counts = { elements: length, zerosBefore, zerosAfter };
          // Written to the file by this thread (`runNow`), the bytes stay in its read buffer.
          const send = context === WORKER && a.writeTo === undefined;
          const owned = send ? own(bytes) : bytes;
          // The bits cross to the pool's thread transferred: Deno copies a cloned 2 MiB array
          // (a [4096, 4096] tensor's bits) in 13-19 ms there, where the next jobs are handed out.
          const whole = context === WORKER ? own(bits) : bits;
          return {
            result: { bits: whole, length, masked: { bytes: owned, counts } },
            transfer: context !== WORKER
              ? []
              : [whole.buffer as ArrayBuffer, ...(send ? [owned.buffer as ArrayBuffer] : [])],
          };
        }
      }
      // Other metrics are small (one entry per block) or rare: the ratio rule selects them.
      const metric = own(
        parameterMetric(valuesOf(a.tensor, context), a.target, { pruner: a.pruner, kernels }),
      );
      return { result: { metric }, transfer: [metric.buffer as ArrayBuffer] };
    }
    case "summary": {
      const a = request.args as Tasks["summary"]["args"];
      return summaryTask(valuesOf(a.tensor, context), a.target, a.pruner, a.summary, kernels);
    }
    case "mask": {
      const a = request.args as Tasks["mask"]["args"];
      const r = maskTask(a, context, kernels);
      // The mask's buffer came over to this worker: it goes back with the result.
      const back = context !== WORKER
        ? undefined
        : "bits" in a.mask
        ? a.mask.bits.buffer
        : a.mask.blocks.buffer;
      if (!(back instanceof ArrayBuffer) || back.byteLength < TRANSFERRED_BITS) return r;
      return {
        result: { ...(r.result as object), bitsBack: back },
        transfer: [...r.transfer, back],
      };
    }
    case "range": {
      const a = request.args as Tasks["range"]["args"];
      const range = rangeOf(valuesOf(a.tensor, context), a.tensor.shape, a.target);
      return { result: range, transfer: [] };
    }
    case "quantize": {
      const a = request.args as Tasks["quantize"]["args"];
      const { bytes, counts } = codesOf(
        valuesOf(a.tensor, context),
        a.tensor.shape,
        a.param,
        a.spare,
        a.packed,
      );
      return { result: { bytes, counts }, transfer: [bytes.buffer as ArrayBuffer] };
    }
    case "rangeCodes": {
      const a = request.args as Tasks["rangeCodes"]["args"];
      const values = valuesOf(a.tensor, context);
      const range = rangeOf(values, a.tensor.shape, a.target);
      let param: TargetQuantParams;
      try {
        const key = targetKey(a.target.module, a.target.target);
        param = computeTargetQuantParams([a.target], new Map([[key, range]]))[0];
      } catch {
        // The engine computes them again and throws, in target order.
        return { result: { range }, transfer: [] };
      }
      // Codes this thread writes itself go into the buffer it wrote the last ones from.
      const spare = a.spare ?? (a.writeTo === undefined ? undefined : context.codes);
      if (a.writeTo !== undefined) context.codes = undefined;
      const { bytes, counts } = codesOf(values, a.tensor.shape, param, spare, a.packed);
      return {
        result: { range, coded: { param, bytes, counts } },
        transfer: [bytes.buffer as ArrayBuffer],
      };
    }
  }
}

/** The `mask` task: the tensor masked, as stored bytes, with its zeros. */
function maskTask(
  a: Tasks["mask"]["args"],
  context: TaskContext,
  kernels: Kernels,
): { result: Tasks["mask"]["result"]; transfer: ArrayBuffer[] } {
  const method = a.target.setting.apply_method;
  if (
    "bits" in a.mask && a.mask.layout.blockSize === 1 && (method == null || method === "mul") &&
    elementwiseMagnitude(a.tensor, a.target)
  ) {
    // Masked where it was read: no float copy, no mask of bytes.
    const bytes = a.tensor.bytes!;
    const bits = a.mask.bits;
    const c = maskStoredInPlace(bytes, a.tensor.dtype, bits, kernels);
    const counts = { elements: a.mask.layout.gridSize, ...c };
    // Written to the file by this thread (`written`), the bytes stay in its read buffer.
    const send = context === WORKER && a.writeTo === undefined;
    const owned = send ? own(bytes) : bytes;
    return {
      result: { bytes: owned, counts },
      transfer: send ? [owned.buffer as ArrayBuffer] : [],
    };
  }
  const before = valuesOf(a.tensor, context);
  const mask = "bits" in a.mask ? packedMask(a.mask) : a.mask;
  const zerosBefore = zeros(before);
  // The values are this thread's (read or decoded here, or transferred): masked in place,
  // without a tensor-sized temporary.
  const after = applyTargetMask(before, expandMask(mask, { kernels }), {
    method: a.target.setting.apply_method,
    kernels,
    out: before,
  });
  const counts = { elements: after.length, zerosBefore, zerosAfter: zeros(after) };
  const bytes = own(toFileBytes(refOf(a.tensor), after, kernels));
  return { result: { bytes, counts }, transfer: [bytes.buffer as ArrayBuffer] };
}

/** A parameter target's tracked range (`trackParameterRanges` of its values alone). */
function rangeOf(values: Float32Array, shape: readonly number[], target: ResolvedTarget) {
  const key = targetKey(target.module, target.target);
  const tensors = new Map([[key, { data: values, shape }]]);
  return trackParameterRanges([target], tensors, { kernels: getKernels() }).get(key)!;
}

/**
 * A tensor's stored codes (`quantizedCodeBytes`, or `compressedPackedBytes` when `packed`; into
 * `spare` when it fits) and its zeros.
 */
function codesOf(
  values: Float32Array,
  shape: readonly number[],
  param: TargetQuantParams,
  spare: ArrayBuffer | undefined,
  packed = false,
): { bytes: Uint8Array; counts: ZeroCounts } {
  let counts: ZeroCounts | undefined;
  const bytes = own((packed ? compressedPackedBytes : quantizedCodeBytes)(values, shape, param, {
    kernels: getKernels(),
    ...(spare === undefined ? {} : { into: spare }),
    // Counted, not kept: the zeros after are the codes at their block's zero point (no
    // fake-quantized copy of the tensor: that and its count took more than half the task).
    onQuantized: (p, before, codes) => {
      counts = {
        elements: before.length,
        zerosBefore: zeros(before),
        zerosAfter: dequantizedZeros(codes, shape, p),
      };
    },
  }));
  return { bytes, counts: counts! };
}

/** The error classes that cross threads as themselves (for `instanceof` and their fields). */
const CLASSES: Record<string, { prototype: object }> = {
  ConfigError,
  FileError,
  ModelFormatError,
  PruningError,
  QuantizationError,
  RangeError,
  TypeError,
  Error,
};

/** An error as data for `postMessage`. */
export function errorData(e: unknown): ErrorData {
  if (!(e instanceof Error)) return { name: "Error", message: String(e), fields: {} };
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    try {
      structuredClone(v);
      fields[k] = v;
    } catch {
      // A field that cannot cross threads is left out.
    }
  }
  return {
    name: e.constructor.name in CLASSES ? e.constructor.name : "Error",
    message: e.message,
    ...(e.stack === undefined ? {} : { stack: e.stack }),
    fields: { ...fields, name: e.name },
  };
}

/** The error `errorData` describes, of its class when it is one of the library's. */
export function reviveError(d: ErrorData): Error {
  const e = Object.create((CLASSES[d.name] ?? Error).prototype) as Error;
  Object.defineProperty(e, "message", { value: d.message, writable: true, configurable: true });
  if (d.stack !== undefined) {
    Object.defineProperty(e, "stack", { value: d.stack, writable: true, configurable: true });
  }
  Object.assign(e, d.fields);
  return e;
}
