// A safetensors model on disk as the files it is written to: one file, or each shard of a
// sharded checkpoint (`*.safetensors.index.json`) with one lazy view over all of them, so a
// global setting spans the shards while each shard is streamed into its own output file.
import { FileError } from "../io/file_error.ts";
import { openFile, writeFileAtomic } from "../io/fs.ts";
import { type LazySafetensors, openSafetensors } from "../io/safetensors/open_safetensors.ts";
import { isShardIndexPath, shardIndexText } from "../io/safetensors/shard_index.ts";
import type { CompressionReport, LayerReport } from "../report/types.ts";
import type { ExtraRegistry } from "../config/types.ts";
import type { Progress } from "./_tensor_change.ts";
import { openShardedCheckpoint, outputShardNames } from "./sharded_checkpoint.ts";
import type { ByteSink } from "../io/safetensors/write_safetensors.ts";
import { writeResharded } from "./_reshard.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import { safetensorsModel } from "../model/safetensors_model.ts";
import { type Locate, TaskContext } from "./_tensor_tasks.ts";
import { openTaskPool, type TaskPool } from "./_worker_pool.ts";

/**
 * Thrown out of an output's producer to leave no file (`writeUnchanged: false` when the run,
 * made with the output open, finds nothing to change).
 */
export const NOT_WRITTEN = new Error("not written: nothing to change");

/**
 * How many module parameters each stored tensor is (by name): a tensor two params share is
 * written by the ordinary path of a streamed run, never ahead of it.
 */
export function tensorUses(graph: ModelGraph): Map<string, number> {
  const uses = new Map<string, number>();
  for (const m of graph.modules) {
    for (const r of Object.values(m.params)) uses.set(r.name, (uses.get(r.name) ?? 0) + 1);
  }
  return uses;
}

/** Options of the streamed safetensors runs (`pruneSafetensorsFile`, `quantizeSafetensorsFile`). */
export interface StreamedFileOptions {
  /** The NNI config list. */
  readonly configList: unknown;
  /** The algorithm whose defaults apply (`PRUNER_TABLE`; default Level, or `PtqQuantizer`). */
  readonly algorithm?: string;
  /**
   * Whether to write `output` when the config list selects no target (default `true`: a copy).
   * With `false` nothing is written and the report's `unchanged` says why.
   */
  readonly writeUnchanged?: boolean;
  /**
   * Extra default targets per mode and module class, like NNI's `ModuleSetting.register` (see
   * `compressModel`).
   */
  readonly registry?: ExtraRegistry;
  /** A label for the report. */
  readonly label?: string;
  /** Called as work advances. */
  readonly onProgress?: Progress;
  /**
   * Worker threads for the per-tensor work (default 1: all on this thread). The output is the
   * same byte for byte with any number; memory holds about 2 tensors per thread.
   */
  readonly threads?: number;
  /**
   * Writes the output as a sharded checkpoint with shards of at most this many bytes of tensor
   * data (`output` must be a `*.safetensors.index.json`), named like Hugging Face's
   * `save_pretrained` (`model-00001-of-00003.safetensors`); a tensor larger than this gets a
   * shard of its own. Default: one output file per input file.
   */
  readonly maxShardSize?: number;
}

/** One input file and where its output goes. */
export interface Part {
  readonly lazy: LazySafetensors;
  /** The input file's path. */
  readonly path: string;
  readonly output: string;
  /** The output shard's file name (sharded checkpoints only). */
  readonly shard?: string;
}

/** The parts of a model, the view over all of them, and how to finish. */
export interface SafetensorsParts {
  readonly parts: readonly Part[];
  readonly all: LazySafetensors;
  /** The bytes of every input file together. */
  readonly fileBytes: number;
  /** Whether the input is a sharded checkpoint. */
  readonly sharded: boolean;
  /** Where a tensor's stored bytes are: its file, absolute offset and length. */
  locate(name: string): { file: string; offset: number; length: number } | undefined;
  /**
   * Writes the output index (sharded checkpoints; nothing otherwise) mapping each part's output
   * tensors to its shard; returns the bytes written.
   */
  writeIndex(names: readonly (readonly string[])[], totalSize: number): Promise<number>;
  /**
   * Writes every part's stream (`produce(i, sink)`) into `output`: one file per part, or shards
   * of at most `maxShardSize` bytes with their index (`writeResharded`). Returns the bytes
   * written, without `writeIndex`'s. With `prepare` (not with `maxShardSize`), every part's
   * file is open before any is produced: `prepare` gets all their sinks first (to write into
   * any of them at known places), then each part is produced in order, and the files are
   * flushed and renamed once all are written (a failure anywhere leaves none of them).
   */
  writeParts(
    produce: (part: number, sink: ByteSink) => Promise<unknown>,
    onPart: (part: number) => void,
    prepare?: (sinks: readonly ByteSink[]) => Promise<unknown>,
  ): Promise<{ written: number; resharded: boolean }>;
  close(): Promise<void>;
}

/** What a streamed run works with: the file's parts, its model view, and where tasks run. */
export interface StreamedRun extends SafetensorsParts {
  /** The model view over every part. */
  readonly graph: ModelGraph;
  /** The workers (`threads` > 1), or `undefined`: tasks run on this thread, in `here`. */
  readonly pool: TaskPool | undefined;
  /** This thread's task context: one read buffer reused by every tensor. */
  readonly here: TaskContext;
  /** Where a tensor's stored bytes are (workers read them themselves). */
  readonly located: Locate;
}

/**
 * Opens `input` for writing into `output`, starts `threads` workers (one: none), runs `body`,
 * then stops the workers and closes the files, whatever happened.
 */
export async function withStreamedRun<T>(
  input: string,
  output: string,
  options: { readonly maxShardSize?: number; readonly threads?: number },
  body: (run: StreamedRun) => Promise<T>,
): Promise<T> {
  const parts = await openSafetensorsParts(input, output, options.maxShardSize);
  let pool: TaskPool | undefined;
  const here = new TaskContext();
  try {
    const threads = options.threads ?? 1;
    if (threads > 1) pool = openTaskPool(threads);
    const graph = safetensorsModel(parts.all);
    return await body({ ...parts, graph, pool, here, located: (ref) => parts.locate(ref.name) });
  } finally {
    pool?.close();
    await here.close();
    await parts.close();
  }
}

function folderOf(path: string): string {
  return path.slice(0, Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1);
}

/** Opens `input` (a safetensors file or a shard index) for writing into `output`. */
export async function openSafetensorsParts(
  input: string,
  output: string,
  maxShardSize?: number,
): Promise<SafetensorsParts> {
  if (maxShardSize !== undefined) {
    if (!Number.isSafeInteger(maxShardSize) || maxShardSize < 1) {
      throw new RangeError(
        `"maxShardSize" must be a positive integer: current value is ${maxShardSize}`,
      );
    }
    if (!isShardIndexPath(output)) {
      throw new TypeError(
        `the output of a run with a maximum shard size is a shard index (*.safetensors.index.json): current value is ${output}`,
      );
    }
  }
  const parts = await openParts(input, output);
  const ranges = new Map<string, { file: string; offset: number; length: number }>();
  for (const p of parts.parts) {
    for (const e of p.lazy.entries) {
      ranges.set(e.name, {
        file: p.path,
        offset: p.lazy.dataOffset + e.begin,
        length: e.end - e.begin,
      });
    }
  }
  return {
    ...parts,
    locate: (name) => ranges.get(name),
    async writeParts(produce, onPart, prepare) {
      if (prepare !== undefined) {
        if (maxShardSize !== undefined) {
          throw new TypeError("writing every part at once is not for resharded outputs");
        }
        const sinks: (ByteSink & { bytes: number })[] = [];
        const label = parts.parts.length === 1 ? {} : { label: "model shard" };
        // Each part's file is opened inside the one before: the innermost produces them all,
        // and each file is flushed and renamed as the calls return (or removed on a failure).
        const open = async (i: number): Promise<void> => {
          if (i === parts.parts.length) {
            await prepare(sinks);
            for (const [j, sink] of sinks.entries()) await produce(j, sink);
            return;
          }
          await writeFileAtomic(parts.parts[i].output, async (sink) => {
            sinks.push(counting(sink));
            await open(i + 1);
          }, label);
        };
        await open(0);
        parts.parts.forEach((_, i) => onPart(i));
        return { written: sinks.reduce((n, s) => n + s.bytes, 0), resharded: false };
      }
      if (maxShardSize !== undefined) {
        const written = await writeResharded(
          parts.parts.map((_, i) => (sink: ByteSink) => produce(i, sink)),
          output,
          maxShardSize,
          parts.indexMetadata,
        );
        parts.parts.forEach((_, i) => onPart(i));
        return { written, resharded: true };
      }
      let written = 0;
      for (const [i, part] of parts.parts.entries()) {
        await writeFileAtomic(part.output, async (sink) => {
          const counted = counting(sink);
          await produce(i, counted);
          written += counted.bytes;
        }, parts.parts.length === 1 ? {} : { label: "model shard" });
        onPart(i);
      }
      return { written, resharded: false };
    },
  };
}

/** A sink that counts what passes through (and what it passes over: written ahead). */
function counting(sink: ByteSink): ByteSink & { bytes: number } {
  const out: ByteSink & { bytes: number } = {
    bytes: 0,
    write(chunk: Uint8Array) {
      out.bytes += chunk.length;
      return sink.write(chunk);
    },
    ...(sink.writeAt === undefined || sink.skip === undefined ? {} : {
      writeAt: (offset: number, chunk: Uint8Array) => sink.writeAt!(offset, chunk),
      skip(n: number) {
        out.bytes += n;
        return sink.skip!(n);
      },
    }),
    ...(sink.file === undefined ? {} : { file: sink.file }),
  };
  return out;
}

async function openParts(
  input: string,
  output: string,
): Promise<
  Omit<SafetensorsParts, "writeParts" | "locate"> & { indexMetadata: Record<string, unknown> }
> {
  if (isShardIndexPath(input)) {
    if (!isShardIndexPath(output)) {
      throw new TypeError(
        `the output of a sharded checkpoint is a shard index (*.safetensors.index.json): current value is ${output}`,
      );
    }
    const ckpt = await openShardedCheckpoint(input);
    const names = outputShardNames(ckpt.index, output);
    const folder = folderOf(output);
    return {
      parts: ckpt.shards.map((s) => ({
        lazy: s.lazy,
        path: s.path,
        output: folder + names.get(s.name)!,
        shard: names.get(s.name)!,
      })),
      all: ckpt.all,
      fileBytes: ckpt.fileBytes,
      sharded: true,
      indexMetadata: { ...ckpt.index.index.metadata },
      async writeIndex(tensorNames, totalSize) {
        const map = new Map<string, string>();
        ckpt.shards.forEach((s, i) => {
          for (const t of tensorNames[i]) map.set(t, names.get(s.name)!);
        });
        const text = new TextEncoder().encode(
          shardIndexText(map, totalSize, ckpt.index.index.metadata),
        );
        await writeFileAtomic(output, text, { label: "shard index" });
        return text.length;
      },
      close: ckpt.close,
    };
  }
  const source = await openFile(input, { label: "model file" }).catch((e) => {
    throw FileError.from("read", "model file", input, e);
  });
  try {
    const all = await openSafetensors(source, { file: input });
    return {
      parts: [{ lazy: all, path: input, output }],
      all,
      fileBytes: source.size,
      sharded: false,
      indexMetadata: {},
      writeIndex: () => Promise.resolve(0),
      close: () => source.close(),
    };
  } catch (e) {
    await source.close();
    throw e;
  }
}

/** The report of a streamed run: sizes before and after, the layers, how long it took. */
export function streamedReport(r: {
  readonly label: string;
  readonly model: string;
  readonly mode: "pruning" | "quantization";
  readonly algorithm: string;
  readonly configList: unknown;
  readonly fileBytes: number;
  readonly written: number;
  readonly packedBefore: number;
  readonly packedAfter: number;
  readonly parameters: number;
  readonly layers: LayerReport[];
  readonly warnings: readonly string[];
  readonly start: number;
  readonly unchanged: string | undefined;
}): CompressionReport {
  return {
    label: r.label,
    model: r.model,
    format: "safetensors",
    mode: r.mode,
    algorithm: r.algorithm,
    configList: r.configList,
    storage: r.mode === "pruning" ? "float" : "int",
    before: { fileBytes: r.fileBytes, packedBytes: r.packedBefore },
    after: { fileBytes: r.written, packedBytes: r.packedAfter },
    parameters: r.parameters,
    layers: r.layers,
    warnings: [...r.warnings],
    evaluation: [],
    timeMs: performance.now() - r.start,
    ...(r.unchanged === undefined ? {} : { unchanged: r.unchanged }),
  };
}
