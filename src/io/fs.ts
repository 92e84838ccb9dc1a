/**
 * The file-system module: the only code that touches files. It uses `Deno` APIs under Deno and
 * `node:fs/promises` (loaded with a dynamic import, so browser bundles never include it) under
 * Node and Bun. The in-memory API never imports this module.
 *
 * @module
 */

import { FileError } from "./file_error.ts";
import { ModelFormatError } from "./model_format_error.ts";
import type { RandomAccessSource } from "./random_access.ts";
import type { ByteSink, OutputFile } from "./safetensors/write_safetensors.ts";

/** A file opened for random access; close it when done. */
export interface FileSource extends RandomAccessSource {
  /**
   * Reads `target.length` bytes starting at `offset` straight into `target` (no intermediate
   * buffer: reading a whole file this way holds the file once, not once plus its chunks).
   *
   * @returns The number of bytes read (less than `target.length` only at the end of the file).
   */
  readInto(offset: number, target: Uint8Array): Promise<number>;
  /**
   * `readInto` without a promise, for reads of a few MiB from the page cache in a row (an
   * asynchronous read goes through another thread: a seek and a read on Deno, a read on Node;
   * for such pieces that costs more than the copy).
   * `undefined` when the file cannot be read this way now (an asynchronous read of the same
   * handle is under way) or at all: use `readInto`.
   */
  readIntoSync?(offset: number, target: Uint8Array): number | undefined;
  /** Releases the file handle. */
  close(): Promise<void>;
}

type NodeFs = typeof import("node:fs/promises");

// deno-lint-ignore no-explicit-any
const deno = (globalThis as any).Deno as typeof Deno | undefined;

let nodeFs: Promise<NodeFs> | undefined;
// A specifier in a variable: bundlers leave the import to run time, so browser bundles that
// include this module never try to resolve a Node built-in.
const NODE_FS = "node:fs/promises";
function node(): Promise<NodeFs> {
  return nodeFs ??= import(NODE_FS) as Promise<NodeFs>;
}

/**
 * Reads a whole file.
 *
 * @param path The file path.
 * @returns The bytes.
 * @throws {Error} The runtime's error when the file cannot be read.
 *
 * @example
 * ```ts ignore
 * import { readFile } from "./fs.ts";
 * const bytes = await readFile("model.safetensors");
 * ```
 */
export async function readFile(path: string): Promise<Uint8Array> {
  if (deno) return await deno.readFile(path);
  const b = await (await node()).readFile(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

async function statPath(
  path: string,
): Promise<{ isFile: boolean; isDirectory: boolean; size: number }> {
  if (deno) {
    const st = await deno.stat(path);
    return { isFile: st.isFile, isDirectory: st.isDirectory, size: st.size };
  }
  const st = await (await node()).stat(path);
  return { isFile: st.isFile(), isDirectory: st.isDirectory(), size: st.size };
}

/** Options of `readFileBounded`. */
export interface ReadFileBoundedOptions {
  /** The largest file accepted, in bytes. */
  readonly maxBytes: number;
  /** What the file is, for messages (`"config file"`). */
  readonly label: string;
  /** Accept FIFOs, devices and other non-regular files (read up to `maxBytes`). */
  readonly allowSpecial?: boolean;
}

/**
 * Reads a whole file that must be a regular file of at most `maxBytes` bytes: a FIFO, a device
 * (`/dev/zero`) or a folder is refused before it is read (never blocks, never grows without
 * bound), unless `allowSpecial` is set, in which case at most `maxBytes` bytes are read.
 *
 * @param path The file path.
 * @param options The size limit, the label for messages and whether special files are read.
 * @returns The bytes.
 * @throws {FileError} When the file is missing, unreadable, not a regular file or too large.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFileBounded, writeFileAtomic } from "./fs.ts";
 *
 * const path = `${await Deno.makeTempDir()}/c.json`;
 * await writeFileAtomic(path, new TextEncoder().encode("[]"));
 * assert.equal((await readFileBounded(path, { maxBytes: 16, label: "config file" })).length, 2);
 * await assert.rejects(readFileBounded(path, { maxBytes: 1, label: "config file" }), /larger than 1 bytes/);
 * ```
 */
export async function readFileBounded(
  path: string,
  options: ReadFileBoundedOptions,
): Promise<Uint8Array> {
  const { maxBytes, label } = options;
  let info: { isFile: boolean; isDirectory: boolean; size: number };
  try {
    info = await statPath(path);
  } catch (e) {
    throw FileError.from("read", label, path, e);
  }
  if (info.isDirectory) throw FileError.from("read", label, path, "is_directory");
  if (!info.isFile && options.allowSpecial !== true) {
    throw new FileError(
      "not_regular",
      `cannot read ${label} "${path}": it is not a regular file (a FIFO, socket or device)`,
      path,
    );
  }
  if (info.isFile && info.size > maxBytes) {
    throw new FileError(
      "too_large",
      `cannot read ${label} "${path}": it is larger than ${maxBytes} bytes: current size is ${info.size}`,
      path,
    );
  }
  let file: FileSource;
  try {
    file = info.isFile ? await openFile(path, { label }) : await openRaw(path);
  } catch (e) {
    throw FileError.from("read", label, path, e);
  }
  try {
    const want = info.isFile ? info.size : maxBytes + 1;
    const bytes = await file.read(0, want);
    if (bytes.length > maxBytes) {
      throw new FileError(
        "too_large",
        `cannot read ${label} "${path}": it is larger than ${maxBytes} bytes`,
        path,
      );
    }
    return bytes;
  } catch (e) {
    if (e instanceof FileError) throw e;
    throw FileError.from("read", label, path, e);
  } finally {
    await file.close().catch(() => {});
  }
}

/**
 * Opens a file for random access: each `read(offset, length)` reads only that range, so files
 * larger than memory can be processed piecewise.
 *
 * @param path The file path.
 * @param options `label`: what the file is, for messages (default `"file"`).
 * @returns The source; call `close()` when done.
 * @throws {FileError} When the path is missing, a folder, a FIFO or device, or unreadable.
 *
 * @example
 * ```ts ignore
 * import { openFile } from "./fs.ts";
 * const file = await openFile("model.safetensors");
 * try { console.log(file.size, await file.read(0, 8)); } finally { await file.close(); }
 * ```
 */
export async function openFile(
  path: string,
  options: { readonly label?: string } = {},
): Promise<FileSource> {
  // Check the kind first: opening a FIFO blocks until a writer comes, and a folder opens but
  // fails on the first read.
  const label = options.label ?? "file";
  const info = await statPath(path).catch((e) => {
    throw FileError.from("read", label, path, e);
  });
  if (info.isDirectory) throw FileError.from("read", label, path, "is_directory");
  if (!info.isFile) {
    throw new FileError(
      "not_regular",
      `cannot read ${label} "${path}": it is not a regular file (a FIFO, socket or device)`,
      path,
    );
  }
  return await openRaw(path);
}

/** The largest piece one read call gets: 4 MiB (see `readInPieces`). */
const READ_PIECE_BYTES = 4 * 2 ** 20;

/** The largest piece one write call gets: 256 KiB (see `writeInPieces`). */
const WRITE_PIECE_BYTES = 256 * 1024;

/**
 * Writes all of `bytes` by calls of `write` (each writes a prefix of its argument and returns
 * its length), at most `WRITE_PIECE_BYTES` a call. The piece size is what decides the cost on
 * this project's VMs: a write into new file pages costs about 0.3 s per GiB in pieces of 64-512
 * KiB, but 1.5 s per GiB in 1 MiB pieces and 3.1-3.5 s in pieces of 4 MiB or more once the
 * memory has been free for a few seconds (the guest hands free memory back to the host; `dd`
 * shows the same, `cp`'s `copy_file_range` does not). Writing 16 fresh 64 MiB buffers, settled:
 * 0.29 s in 256 KiB pieces straight from each buffer, 3.2 s through the 4 MiB staging buffer
 * this function copied through before (`bench/fresh_pages_bench.ts`; docs/performance.md, "The
 * output's fresh pages, and the size of a write call").
 */
async function writeInPieces(
  bytes: Uint8Array,
  write: (part: Uint8Array) => number | Promise<number>,
): Promise<void> {
  for (let at = 0; at < bytes.length;) {
    at += await write(bytes.subarray(at, Math.min(bytes.length, at + WRITE_PIECE_BYTES)));
  }
}

/**
 * Fills `out` by calls of `read` (each reads at most its argument's length and returns the
 * bytes read, 0 at the end of the file), straight into `out`, at most `READ_PIECE_BYTES` a call;
 * returns the bytes read. Reads went through a reused 4 MiB staging buffer before, copied into
 * `out`; straight reads are faster here whether `out` is fresh or reused (a cached 64 MiB tensor
 * into a reused buffer: 10.8-12.3 ms in 4-16 MiB pieces against 15.9-35.2 ms staged; into fresh
 * buffers, settled: 55-61 against 61-75 ms).
 */
async function readInPieces(
  out: Uint8Array,
  read: (into: Uint8Array) => Promise<number>,
): Promise<number> {
  let at = 0;
  while (at < out.length) {
    const n = await read(out.subarray(at, Math.min(out.length, at + READ_PIECE_BYTES)));
    if (n === 0) break;
    at += n;
  }
  return at;
}

/** Opens any path for reading (no kind check). */
async function openRaw(path: string): Promise<FileSource> {
  if (deno) {
    const f = await deno.open(path, { read: true });
    const size = (await f.stat()).size;
    // Deno has no positional read: a seek and its reads must not interleave with another
    // read's (worker threads read tensors ahead), so reads run one after the other.
    let last: Promise<unknown> = Promise.resolve();
    let pending = 0;
    const readInto = (offset: number, out: Uint8Array): Promise<number> => {
      const run = async () => {
        await f.seek(offset, deno.SeekMode.Start);
        return await readInPieces(out, (into) => f.read(into).then((n: number | null) => n ?? 0));
      };
      pending++;
      const p = last.then(run, run).finally(() => pending--);
      last = p.catch(() => {});
      return p;
    };
    return {
      size,
      async read(offset, length) {
        const out = new Uint8Array(length);
        const at = await readInto(offset, out);
        return at === length ? out : out.subarray(0, at);
      },
      readInto,
      readIntoSync(offset, out) {
        if (pending > 0) return undefined;
        f.seekSync(offset, deno.SeekMode.Start);
        let at = 0;
        while (at < out.length) {
          const n = f.readSync(out.subarray(at));
          if (!n) break;
          at += n;
        }
        return at;
      },
      close: () => Promise.resolve(f.close()),
    };
  }
  const h = await (await node()).open(path, "r");
  const size = (await h.stat()).size;
  const { readSync } = nodeFsSync ??= await import(NODE_FS_SYNC) as typeof import("node:fs");
  const readInto = (offset: number, out: Uint8Array) => {
    let position = offset;
    return readInPieces(out, async (into) => {
      const { bytesRead } = await h.read(into, 0, into.length, position);
      position += bytesRead;
      return bytesRead;
    });
  };
  return {
    size,
    async read(offset, length) {
      const out = new Uint8Array(length);
      const at = await readInto(offset, out);
      return at === length ? out : out.subarray(0, at);
    },
    readInto,
    readIntoSync(offset, out) {
      let at = 0;
      while (at < out.length) {
        const n = readSync(h.fd, out, at, out.length - at, offset + at);
        if (n === 0) break;
        at += n;
      }
      return at;
    },
    close: () => h.close(),
  };
}

/**
 * Writes `bytes` at `offset` of the file a `writeFileAtomic` sink is writing (`ByteSink.file`),
 * through a handle of its own: a worker thread writes the range it owns, and the thread that
 * streams the rest is not held up by the write. The range must not overlap what others write,
 * and the sink must be told (`file.wrote`) once it is written. Large writes go in pieces
 * (`writeInPieces`).
 *
 * @param file The sink's `file` (its data: it may have crossed to a worker): the temporary path,
 * and the destination and label for errors.
 * @param offset The byte offset in the file.
 * @param bytes The bytes.
 * @throws {FileError} When the write fails, naming the destination.
 *
 * @example
 * ```ts ignore
 * import { writeFileAtomic, writeFileRange } from "./fs.ts";
 * await writeFileAtomic("out.bin", async (sink) => {
 *   await writeFileRange(sink.file!, 2, new Uint8Array([3, 4]));
 *   sink.file!.wrote(2);
 *   await sink.write(new Uint8Array([1, 2]));
 *   await sink.skip!(2);
 * });
 * ```
 */
export async function writeFileRange(
  file: Pick<OutputFile, "path" | "destination" | "label">,
  offset: number,
  bytes: Uint8Array,
): Promise<void> {
  const range = await openFileRange(file, offset);
  try {
    await range.write(0, bytes);
  } finally {
    await range.close();
  }
}

/** Writes into a range of a file through one handle (`openFileRange`). */
export interface FileRangeWriter {
  /** Writes `bytes` at `offset` of the range (from the range's start). */
  write(offset: number, bytes: Uint8Array): Promise<void>;
  /** Closes the handle; never throws. */
  close(): Promise<void>;
}

/**
 * `writeFileRange` in several calls through one handle: for a range written a piece at a time.
 * The same rules: the range is the caller's alone, and the sink is told once it is written.
 *
 * @param file The sink's `file`: the temporary path, and the destination and label for errors.
 * @param offset The range's byte offset in the file.
 * @returns The writer; close it when done.
 * @throws {FileError} When the file cannot be opened (or, from `write`, written), naming the
 *   destination.
 *
 * @example
 * ```ts ignore
 * import { openFileRange, writeFileAtomic } from "./fs.ts";
 * await writeFileAtomic("out.bin", async (sink) => {
 *   const range = await openFileRange(sink.file!, 0);
 *   await range.write(0, new Uint8Array([1, 2]));
 *   await range.write(2, new Uint8Array([3, 4]));
 *   await range.close();
 *   sink.file!.wrote(4);
 * });
 * ```
 */
export async function openFileRange(
  file: Pick<OutputFile, "path" | "destination" | "label">,
  offset: number,
): Promise<FileRangeWriter> {
  const fail = (e: unknown) => writeError(file.destination, e, file.label);
  if (deno) {
    let f: {
      seekSync(o: number, w: number): number;
      writeSync(p: Uint8Array): number;
      close(): void;
    };
    try {
      f = deno.openSync(file.path, { write: true });
    } catch (e) {
      throw fail(e);
    }
    return {
      async write(at, bytes) {
        try {
          f.seekSync(offset + at, deno!.SeekMode.Start);
          await writeInPieces(bytes, (part) => f.writeSync(part));
        } catch (e) {
          throw fail(e);
        }
      },
      close() {
        try {
          f.close();
        } catch {
          // Already closed.
        }
        return Promise.resolve();
      },
    };
  }
  const fs = await node();
  let h: Awaited<ReturnType<typeof fs.open>>;
  try {
    h = await fs.open(file.path, "r+");
  } catch (e) {
    throw fail(e);
  }
  return {
    async write(start, bytes) {
      let at = offset + start;
      try {
        await writeInPieces(bytes, async (part) => {
          const n = (await h.write(part, 0, part.length, at)).bytesWritten;
          at += n;
          return n;
        });
      } catch (e) {
        throw fail(e);
      }
    },
    close: () => h.close().catch(() => {}),
  };
}

/** Produces a file's content by writing to a sink (see `streamSafetensors`). */
export type FileProducer = (sink: ByteSink) => Promise<unknown>;

// Temporary files are named `<destination>.tmp-<pid>-<12 hex digits>`: the process id tells a
// live writer's file from one a killed run left behind (see `removeStaleTempFiles`).
const TEMP_PATTERN = /\.tmp-(\d+)-[0-9a-f]{12}$/;

function processId(): number {
  // deno-lint-ignore no-explicit-any
  return deno?.pid ?? (globalThis as any).process?.pid ?? 0;
}

/** The temporary files this process is writing now (removed on a signal by `removeTempFiles`). */
const LIVE_TEMPS = new Set<string>();

let nodeFsSync: typeof import("node:fs") | undefined;
const NODE_FS_SYNC = "node:fs";

function tempName(path: string): string {
  const id = Array.from(
    crypto.getRandomValues(new Uint8Array(6)),
    (b) => b.toString(16).padStart(2, "0"),
  );
  return `${path}.tmp-${processId()}-${id.join("")}`;
}

/** Prepares a temporary file's bookkeeping: the sync fs for signal handlers, stale files gone. */
async function beginTemp(path: string): Promise<string> {
  if (!deno) nodeFsSync ??= await import(NODE_FS_SYNC) as typeof import("node:fs");
  await removeStaleTempFiles(path).catch(() => {});
  const temp = tempName(path);
  LIVE_TEMPS.add(temp);
  return temp;
}

/**
 * Removes, synchronously, every temporary file this process is writing — for a signal handler
 * (SIGINT, SIGTERM) that exits right after, so an interrupted write leaves nothing behind.
 *
 * @returns How many files were removed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { removeTempFiles } from "./fs.ts";
 *
 * assert.equal(removeTempFiles(), 0); // no write in progress
 * ```
 */
export function removeTempFiles(): number {
  let n = 0;
  for (const temp of LIVE_TEMPS) {
    try {
      if (deno) deno.removeSync(temp);
      else nodeFsSync?.rmSync(temp, { force: true });
      n++;
    } catch { /* already gone */ }
    LIVE_TEMPS.delete(temp);
  }
  return n;
}

let cleanupInstalled = false;

/**
 * Makes SIGINT and SIGTERM remove this process's temporary files before it exits (with status
 * 130 or 143, as a shell reports those signals). Installed once; the CLI calls it at start.
 * Runs on Deno, Bun and Node (through `node:process`); a no-op where there are no signals
 * (browsers, edge functions).
 *
 * @example
 * ```ts ignore
 * import { exitCleanlyOnSignals } from "./fs.ts";
 * await exitCleanlyOnSignals();
 * ```
 */
export async function exitCleanlyOnSignals(): Promise<void> {
  if (cleanupInstalled) return;
  let proc: typeof import("node:process") | undefined;
  try {
    proc = (await import(NODE_PROCESS)).default as typeof import("node:process");
  } catch {
    return;
  }
  if (!deno) nodeFsSync ??= await import(NODE_FS_SYNC) as typeof import("node:fs");
  cleanupInstalled = true;
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    proc.on(signal, () => {
      removeTempFiles();
      proc!.exit(code);
    });
  }
}

const NODE_PROCESS = "node:process";

function isAlive(pid: number): boolean {
  if (pid === processId()) return true;
  try {
    // deno-lint-ignore no-explicit-any
    const proc = (globalThis as any).process;
    if (proc?.kill) {
      proc.kill(pid, 0);
      return true;
    }
    if (deno) {
      // Deno without the Node global: signal 0 is not offered, so probe /proc (Linux).
      deno.statSync(`/proc/${pid}`);
      return true;
    }
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM";
  }
}

/**
 * Removes the temporary files that killed runs left next to `path` (same folder, any
 * destination): files named `<name>.tmp-<pid>-<hex>` whose process no longer runs. A live
 * writer's files are never touched.
 *
 * @param path A file in the folder to clean (the folder itself is not removed).
 * @returns The removed files' paths.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { removeStaleTempFiles } from "./fs.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/m.onnx.tmp-999999999-00112233aabb`, new Uint8Array(1));
 * assert.deepEqual(await removeStaleTempFiles(`${dir}/m.onnx`), [`${dir}/m.onnx.tmp-999999999-00112233aabb`]);
 * ```
 */
export async function removeStaleTempFiles(path: string): Promise<string[]> {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  const dir = cut < 0 ? "." : path.slice(0, cut) || "/";
  const prefix = cut < 0 ? "" : path.slice(0, cut + 1);
  const names: string[] = [];
  if (deno) {
    for await (const e of deno.readDir(dir)) if (e.isFile) names.push(e.name);
  } else {
    for (const e of await (await node()).readdir(dir, { withFileTypes: true })) {
      if (e.isFile()) names.push(e.name);
    }
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_PATTERN.exec(name);
    if (m === null || isAlive(Number(m[1]))) continue;
    const file = prefix + name;
    try {
      if (deno) await deno.remove(file);
      else await (await node()).rm(file, { force: true });
      removed.push(file);
    } catch { /* raced with another cleaner */ }
  }
  return removed;
}

/** The runtime's error of a write to `path`, as a `FileError` naming the destination. */
function writeError(path: string, e: unknown, label = "output file"): unknown {
  return e instanceof FileError ? e : FileError.from("write", label, path, e);
}

// A streamed output is flushed in the background every FLUSH_BYTES, one flush at a time, on the
// handle that writes it. Flushing every 256 MiB through a second handle was tried first: on
// this 2-core machine the kernel's writeback then took a core for the whole run, and a 2-thread
// prune of a 1.07 GB safetensors ran 0.97x as fast as one thread.

/** Bytes written between two background flushes of a streamed output (`BackgroundFlush`). */
const FLUSH_BYTES = 128 * 2 ** 20;

/**
 * Flushes a file being written to disk in the background, every `FLUSH_BYTES` written, one
 * flush at a time, so the final `fsync` finds little left: the disk writes overlap the work that
 * produces the rest of the file. A flush's failure is left to the final `fsync` to report (a
 * runtime or file system without the call writes as before).
 */
class BackgroundFlush {
  #since = 0;
  #running: Promise<void> | undefined;
  constructor(readonly flush: (() => Promise<void>) | undefined) {}

  wrote(n: number): void {
    this.#since += n;
    if (this.#since < FLUSH_BYTES || this.#running !== undefined || this.flush === undefined) {
      return;
    }
    this.#since = 0;
    let flushing: Promise<void>;
    try {
      flushing = this.flush();
    } catch {
      return;
    }
    this.#running = flushing.catch(() => {}).finally(() => {
      this.#running = undefined;
    });
  }

  /** Waits for the flush under way (before the final `fsync`, or before the file is closed). */
  async settled(): Promise<void> {
    await this.#running;
  }
}

/**
 * Writes a file atomically: the content goes to a temporary file in the same folder, which is
 * renamed over `path` only when complete (after an `fsync`). On any failure the temporary file
 * is deleted and `path` is left as it was. A streamed file is flushed to disk in the background
 * as it is written (every 128 MiB), so the final `fsync` finds little left.
 *
 * @param path The destination.
 * @param content The bytes, or a function that streams them to a sink.
 * @param options `label`: what the file is, for messages (default `"output file"`).
 * @throws {FileError} When the file system fails (names `path`: no space, permission, a
 * folder in the way); the producer's own errors unchanged. Nothing is left behind: the temporary
 * file is removed on any error, `removeTempFiles()` removes it from a signal handler, and a
 * killed run's leftovers are removed by the next write to the same folder.
 *
 * @example
 * ```ts ignore
 * import { writeFileAtomic } from "./fs.ts";
 * await writeFileAtomic("out.bin", new Uint8Array([1, 2, 3]));
 * ```
 */
export async function writeFileAtomic(
  path: string,
  content: Uint8Array | FileProducer,
  options: { readonly label?: string } = {},
): Promise<void> {
  const label = options.label ?? "output file";
  const temp = await beginTemp(path);
  // Errors of the file system become FileErrors naming `path`; the producer's own errors
  // (a pruning or quantization problem found while streaming) pass through unchanged.
  const io = <T>(p: Promise<T>): Promise<T> =>
    p.catch((e) => Promise.reject(writeError(path, e, label)));
  try {
    if (deno) {
      // Typed explicitly: the npm build's type check sees `Deno` as `any`.
      const f: {
        write(p: Uint8Array): Promise<number>;
        writeSync?(p: Uint8Array): number;
        seek(offset: number, whence: number): Promise<number>;
        sync?(): Promise<void>;
        syncData?(): Promise<void>;
        close(): void;
      } = await io(deno.open(temp, { write: true, createNew: true }));
      const flush = new BackgroundFlush(f.syncData === undefined ? undefined : () => f.syncData!());
      try {
        // The append position; `writeAt` writes elsewhere and comes back to it. One handle, one
        // position: the operations run one after another, in the order they are called.
        let position = 0;
        let last: Promise<unknown> = Promise.resolve();
        const serially = (fn: () => Promise<void>): Promise<void> => {
          const p = last.then(fn, fn);
          last = p.catch(() => {});
          return p;
        };
        const sink: ByteSink = {
          writeAt: (offset: number, chunk: Uint8Array) =>
            serially(async () => {
              await io(f.seek(offset, deno.SeekMode.Start));
              await put(chunk);
              await io(f.seek(position, deno.SeekMode.Start));
            }),
          skip: (n: number) =>
            serially(async () => {
              position += n;
              await io(f.seek(position, deno.SeekMode.Start));
            }),
          write: (chunk: Uint8Array) =>
            serially(async () => {
              await put(chunk);
              position += chunk.length;
            }),
          file: { path: temp, destination: path, label, wrote: (n) => flush.wrote(n) },
        };
        const put = async (chunk: Uint8Array) => {
          // Written synchronously: Deno's asynchronous write took 2-3x as long for large
          // chunks (1 GB in 64 MiB chunks: 1.5-3.3 s against 0.7-0.9 s, the page cache's
          // speed), so a streamed output of a large model wrote at a third of the disk's.
          const writeSync = f.writeSync?.bind(f);
          await writeInPieces(chunk, (part) => {
            if (writeSync === undefined) return io<number>(f.write(part));
            try {
              return writeSync(part);
            } catch (e) {
              throw writeError(path, e, label);
            }
          });
          flush.wrote(chunk.length);
        };
        if (content instanceof Uint8Array) await sink.write(content);
        else await content(sink);
        await flush.settled();
        await io(f.sync?.() ?? Promise.resolve());
        f.close();
        await io(deno.rename(temp, path));
      } catch (e) {
        await flush.settled();
        try {
          f.close();
        } catch { /* already closed */ }
        await deno.remove(temp).catch(() => {});
        throw e;
      }
      return;
    }
    const fs = await node();
    const h = await io(fs.open(temp, "wx"));
    let open = true;
    const flush = new BackgroundFlush(
      typeof h.datasync === "function" ? () => h.datasync() : undefined,
    );
    try {
      // Positional writes: `writeAt` writes ahead, `skip` passes over what it wrote.
      let position = 0;
      const put = async (chunk: Uint8Array, offset: number) => {
        let at = offset;
        await writeInPieces(chunk, async (part) => {
          const n = (await io(h.write(part, 0, part.length, at))).bytesWritten;
          at += n;
          return n;
        });
        flush.wrote(chunk.length);
      };
      const sink: ByteSink = {
        writeAt: (offset: number, chunk: Uint8Array) => put(chunk, offset),
        skip(n: number) {
          position += n;
        },
        async write(chunk: Uint8Array) {
          await put(chunk, position);
          position += chunk.length;
        },
        file: { path: temp, destination: path, label, wrote: (n) => flush.wrote(n) },
      };
      if (content instanceof Uint8Array) await sink.write(content);
      else await content(sink);
      await flush.settled();
      await io(h.sync());
      open = false;
      await io(h.close());
      await io(fs.rename(temp, path));
    } catch (e) {
      await flush.settled();
      if (open) await h.close().catch(() => {});
      await fs.rm(temp, { force: true }).catch(() => {});
      throw e;
    }
  } finally {
    LIVE_TEMPS.delete(temp);
  }
}

/** Bytes to write at an offset of a file. */
export interface FilePatch {
  /** The byte offset (may be past the end: the gap is filled with zeros). */
  readonly offset: number;
  /** The bytes. */
  readonly bytes: Uint8Array;
}

/**
 * Copies a file atomically with some ranges overwritten: the runtime's file copy (which the
 * kernel may do without passing the bytes through memory) goes to a temporary file in the
 * destination folder, the patches are written into it, and it is renamed over `to`. On any
 * failure the temporary file is deleted and `to` is left as it was.
 *
 * @param from The source file (never written to: when `to` names it, the finished copy
 * replaces it by a rename).
 * @param to The destination.
 * @param patches Ranges to overwrite or append, in any order.
 * @throws {Error} The runtime's error; nothing is left behind.
 *
 * @example
 * ```ts ignore
 * import { copyFileAtomic } from "./fs.ts";
 * await copyFileAtomic("a/w.bin", "b/w.bin", [{ offset: 8, bytes: new Uint8Array(4) }]);
 * ```
 */
export async function copyFileAtomic(
  from: string,
  to: string,
  patches: readonly FilePatch[],
): Promise<void> {
  const temp = await beginTemp(to);
  try {
    await copyPatched(from, to, temp, patches);
  } catch (e) {
    throw writeError(to, e);
  } finally {
    LIVE_TEMPS.delete(temp);
  }
}

async function copyPatched(
  from: string,
  to: string,
  temp: string,
  patches: readonly FilePatch[],
): Promise<void> {
  if (deno) {
    try {
      await deno.copyFile(from, temp);
      const f = await deno.open(temp, { write: true });
      try {
        for (const p of patches) {
          await f.seek(p.offset, deno.SeekMode.Start);
          for (let at = 0; at < p.bytes.length;) at += await f.write(p.bytes.subarray(at));
        }
        await f.sync?.();
      } finally {
        f.close();
      }
      await deno.rename(temp, to);
    } catch (e) {
      await deno.remove(temp).catch(() => {});
      throw e;
    }
    return;
  }
  const fs = await node();
  try {
    await fs.copyFile(from, temp);
    const h = await fs.open(temp, "r+");
    try {
      for (const p of patches) {
        for (let at = 0; at < p.bytes.length;) {
          at += (await h.write(p.bytes, at, p.bytes.length - at, p.offset + at)).bytesWritten;
        }
      }
      await h.sync();
    } finally {
      await h.close();
    }
    await fs.rename(temp, to);
  } catch (e) {
    await fs.rm(temp, { force: true }).catch(() => {});
    throw e;
  }
}

/**
 * Creates a folder and its missing parents (nothing happens when it exists).
 *
 * @param path The folder.
 * @throws {Error} The runtime's error when the folder cannot be created.
 *
 * @example
 * ```ts ignore
 * import { makeDir } from "./fs.ts";
 * await makeDir("out/weights");
 * ```
 */
export async function makeDir(path: string): Promise<void> {
  if (path === "") return;
  if (deno) await deno.mkdir(path, { recursive: true });
  else await (await node()).mkdir(path, { recursive: true });
}

/**
 * An identity of the file at `path` (device and inode), equal for two paths exactly when they
 * name the same file, or `undefined` when nothing is there.
 *
 * @param path The path.
 * @returns The identity, or `undefined`.
 *
 * @example
 * ```ts ignore
 * import { fileIdentity } from "./fs.ts";
 * const same = (await fileIdentity("a/w.bin")) === (await fileIdentity("./a/w.bin"));
 * ```
 */
export async function fileIdentity(path: string): Promise<string | undefined> {
  try {
    const s = deno ? await deno.stat(path) : await (await node()).stat(path);
    return `${s.dev}:${s.ino}`;
  } catch {
    return undefined;
  }
}

/**
 * Whether a path names an existing folder (`false` when it is missing, a file or unreadable):
 * for checking an output's folder before the work that fills it.
 *
 * @param path The path.
 * @returns Whether it is a folder.
 *
 * @example
 * ```ts ignore
 * import { isFolder } from "./fs.ts";
 * if (!(await isFolder("out"))) throw new Error("no folder out");
 * ```
 */
export async function isFolder(path: string): Promise<boolean> {
  try {
    if (deno) return (await deno.stat(path)).isDirectory;
    return (await (await node()).stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Opens the external data files of an ONNX model and closes them together. */
export interface ExternalDataFiles {
  /**
   * Opens (once) the file at `location`, relative to the model's folder.
   *
   * @param location The `location` of a tensor's `external_data`.
   * @returns The open file.
   * @throws {ModelFormatError} When the location is absolute or leaves the model's folder.
   */
  open(location: string): Promise<FileSource>;
  /** Closes every file opened so far. */
  close(): Promise<void>;
}

/**
 * The external data files of the ONNX model at `modelPath`, for `readOnnxTensor`'s and
 * `onnxModel`'s `external` option. Locations must be relative and stay inside the model's
 * folder (as the ONNX checker requires).
 *
 * @param modelPath The path of the `.onnx` file.
 * @returns The opener; call `close()` when done.
 *
 * @example
 * ```ts ignore
 * import { externalDataFiles, readFile } from "nncompress/fs";
 * import { decodeOnnx, onnxModel } from "nncompress";
 * const files = externalDataFiles("big/model.onnx");
 * const model = onnxModel(decodeOnnx(await readFile("big/model.onnx")), { external: files.open });
 * ```
 */
export function externalDataFiles(modelPath: string): ExternalDataFiles {
  const cut = Math.max(modelPath.lastIndexOf("/"), modelPath.lastIndexOf("\\"));
  const dir = cut < 0 ? "" : modelPath.slice(0, cut + 1);
  const open = new Map<string, Promise<FileSource>>();
  return {
    open(location) {
      const parts = location.split(/[\\/]/);
      if (location === "" || /^([\\/]|[A-Za-z]:)/.test(location) || parts.includes("..")) {
        return Promise.reject(
          new ModelFormatError(
            `external data location ${
              JSON.stringify(location)
            } must be a relative path inside the model's folder`,
            {
              file: modelPath,
              field: "external_data.location",
            },
          ),
        );
      }
      let file = open.get(location);
      if (file === undefined) open.set(location, file = openFile(dir + location));
      return file;
    },
    async close() {
      const files = [...open.values()];
      open.clear();
      for (const f of await Promise.allSettled(files)) {
        if (f.status === "fulfilled") await f.value.close();
      }
    },
  };
}
