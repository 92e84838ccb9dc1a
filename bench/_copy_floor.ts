/**
 * The runtime's own copy of a file, with none of the CLI's work: what any run of the CLI that
 * reads every byte of its input and writes an output as large must at least take in this runtime
 * on this machine (`bench/e2e_bench.ts --floor`). It does the CLI's I/O and nothing else: the
 * input read in pieces of `piece` MiB (default 1, as a Level prune reads its weights; 64 is a
 * [4096, 4096] float32 weight read whole) into one buffer per thread, reused; each piece written
 * at its offset in pieces of 256 KiB, as the CLI writes; with `threads` > 1, worker threads (each
 * with its own handles) take every `threads`-th 64 MiB stretch, as the CLI's workers take
 * tensors; then one `fsync` of the output, which the CLI also ends with (it flushes every 128
 * MiB on the way; this copy leaves it all to the end).
 *
 *   deno run -A bench/_copy_floor.ts <input> <output> [threads] [piece MiB]
 *
 * @module
 */

/** The stretch a thread takes at a time: one 64 MiB tensor. */
const STRETCH = 64 << 20;
/** The piece written at a time (the CLI's `writeFileRange`). */
const WRITE = 256 << 10;

interface Job {
  input: string;
  output: string;
  first: number;
  step: number;
  piece: number;
}

/**
 * Copies 64 MiB stretches `first`, `first + step`, … of `input` into `output` at the same
 * offsets, `piece` bytes at a time.
 */
function copyStretches({ input, output, first, step, piece }: Job): void {
  const src = Deno.openSync(input, { read: true });
  const dst = Deno.openSync(output, { write: true });
  try {
    const size = src.statSync().size;
    const buffer = new Uint8Array(Math.min(piece, size));
    for (let start = first * STRETCH; start < size; start += step * STRETCH) {
      const end = Math.min(start + STRETCH, size);
      for (let at = start; at < end; at += piece) {
        const length = Math.min(piece, end - at);
        src.seekSync(at, Deno.SeekMode.Start);
        for (let got = 0; got < length;) {
          const n = src.readSync(buffer.subarray(got, length));
          if (n === null) throw new Error(`${input}: ended at byte ${at + got}`);
          got += n;
        }
        dst.seekSync(at, Deno.SeekMode.Start);
        for (let put = 0; put < length;) {
          put += dst.writeSync(buffer.subarray(put, Math.min(length, put + WRITE)));
        }
      }
    }
  } finally {
    src.close();
    dst.close();
  }
}

const worker = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !==
  "undefined";
if (worker) {
  const scope = self as unknown as {
    onmessage: (e: MessageEvent<Job>) => void;
    postMessage: (m: unknown) => void;
  };
  scope.onmessage = (e) => {
    copyStretches(e.data);
    scope.postMessage("done");
    self.close();
  };
} else if (import.meta.main) {
  const [input, output, t = "1", p = "1"] = Deno.args;
  const threads = Number(t);
  const piece = Number(p) * 2 ** 20;
  if (
    input === undefined || output === undefined || !Number.isInteger(threads) || threads < 1 ||
    !Number.isInteger(piece) || piece < 1 || STRETCH % piece !== 0
  ) {
    throw new RangeError(
      "usage: _copy_floor.ts <input> <output> [threads] [piece MiB, dividing 64 MiB]",
    );
  }
  Deno.writeFileSync(output, new Uint8Array(0));
  if (threads === 1) copyStretches({ input, output, first: 0, step: 1, piece });
  else {
    await Promise.all(
      Array.from({ length: threads }, (_, first) =>
        new Promise<void>((resolve, reject) => {
          const w = new Worker(import.meta.url, { type: "module" });
          w.onmessage = () => resolve();
          w.onerror = (e) => {
            e.preventDefault();
            reject(new Error(e.message));
          };
          w.postMessage({ input, output, first, step: threads, piece } satisfies Job);
        })),
    );
  }
  const dst = Deno.openSync(output, { write: true });
  dst.syncSync();
  dst.close();
}
