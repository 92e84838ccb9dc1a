/**
 * Kernel benchmarks: every kernel of the WASM build against the TypeScript reference, in GB/s of
 * input, and the exact-k mask against one plain streaming pass (a whole-tensor sum) over the same
 * data, in the same run. Prints a table and writes JSON (machine-readable; ratios are what
 * matter on noisy machines).
 *
 * Usage:
 *   deno task bench                         # sizes 64K, 1M, 10M, 100M elements
 *   deno task bench --sizes 65536,1048576   # custom sizes
 *   deno task bench --quick                 # 64K and 1M only, fewer repetitions
 *   deno task bench --out results.json      # JSON path (default bench/results/kernels.json)
 *
 * @module
 */

import { createWasmKernels } from "../src/kernels/wasm.ts";
import { referenceKernels } from "../src/kernels/reference.ts";
import type { Kernels, QuantParams } from "../src/kernels/types.ts";
import { parseArgs, type Row, timeIt, writeResults } from "./_harness.ts";

const args = parseArgs(Deno.args);
const quick = args.flags.has("quick");
const sizes = args.values.get("sizes")?.split(",").map(Number) ??
  (quick ? [1 << 16, 1 << 20] : [1 << 16, 1 << 20, 10 << 20, 100 << 20]);
const outPath = args.values.get("out") ?? "bench/results/kernels.json";
/** Largest size the (sorting) reference selection is run on; beyond it only WASM is timed. */
const REFERENCE_SELECT_LIMIT = 10 << 20;
const minSeconds = quick ? 0.05 : 0.3;

function randomData(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    // Roughly normal: sum of two uniforms, centred.
    const t = (Math.imul(s ^ (s >>> 15), 2246822519) >>> 0) / 2 ** 32;
    out[i] = (s / 2 ** 32 + t - 1) * 3;
  }
  return out;
}

interface Case {
  kernel: string;
  /** Bytes of input the kernel reads (for GB/s). */
  bytes: (n: number) => number;
  /** Builds the call for one implementation; the returned thunk is what is timed. */
  make: (k: Kernels, data: Float32Array, n: number) => () => unknown;
  /** Skip the reference above this size. */
  referenceLimit?: number;
}

const ROW = 1024;
const shapeOf = (n: number) => [n / ROW, ROW];

function perChannelParams(n: number, bits: number): QuantParams {
  const rows = n / ROW;
  return {
    kernel: [1, -1],
    scale: new Float32Array(rows).fill(0.05),
    zeroPoint: new Float32Array(rows),
    qmin: -(2 ** (bits - 1)) + 1,
    qmax: 2 ** (bits - 1) - 1,
  };
}

const cases: Case[] = [
  {
    kernel: "sum (one streaming pass)",
    bytes: (n) => n * 4,
    make: (k, d, n) => () => k.blockReduce(d, shapeOf(n), [-1, -1], "sum"),
  },
  {
    kernel: "kSmallestMask k=n/2",
    bytes: (n) => n * 4,
    make: (k, d, n) => () => k.kSmallestMask(d, Math.floor(n / 2)),
    referenceLimit: REFERENCE_SELECT_LIMIT,
  },
  {
    kernel: "kthSmallest k=n/2",
    bytes: (n) => n * 4,
    make: (k, d, n) => () => k.kthSmallest([d], Math.floor(n / 2)),
    referenceLimit: REFERENCE_SELECT_LIMIT,
  },
  {
    kernel: "histogram 1024 bins",
    bytes: (n) => n * 4,
    make: (k, d) => () => k.histogram(d, -6, 6, 1024),
  },
  {
    kernel: "thresholdMask",
    bytes: (n) => n * 4,
    make: (k, d) => () => k.thresholdMask(d, 0.1),
  },
  ...(["l1", "l2", "maxabs", "mean"] as const).map((op): Case => ({
    kernel: `blockReduce ${op} rows [1,-1]`,
    bytes: (n) => n * 4,
    make: (k, d, n) => () => k.blockReduce(d, shapeOf(n), [1, -1], op),
  })),
  {
    kernel: "blockReduce l1 4x4 [4,4]",
    bytes: (n) => n * 4,
    make: (k, d, n) => () => k.blockReduce(d, shapeOf(n), [4, 4], "l1"),
  },
  {
    kernel: "blockExpand rows [1,-1]",
    bytes: (n) => n,
    make: (k, _d, n) => {
      const m = new Uint8Array(n / ROW).fill(1);
      return () => k.blockExpand(m, shapeOf(n), [1, -1]);
    },
  },
  {
    kernel: "minMax per channel [1,-1]",
    bytes: (n) => n * 4,
    make: (k, d, n) => () => k.minMax(d, shapeOf(n), [1, -1]),
  },
  {
    kernel: "quantize int8 per channel",
    bytes: (n) => n * 4,
    make: (k, d, n) => {
      const p = perChannelParams(n, 8);
      const out = new Int8Array(n);
      return () => k.quantize(d, shapeOf(n), p, out);
    },
  },
  {
    kernel: "dequantize int8 per channel",
    bytes: (n) => n,
    make: (k, d, n) => {
      const p = perChannelParams(n, 8);
      const codes = k.quantize(d, shapeOf(n), p, new Int8Array(n));
      return () => k.dequantize(codes, shapeOf(n), p);
    },
  },
  {
    kernel: "fakeQuantize int8 per channel",
    bytes: (n) => n * 4,
    make: (k, d, n) => {
      const p = perChannelParams(n, 8);
      return () => k.fakeQuantize(d, shapeOf(n), p);
    },
  },
  {
    kernel: "applyMask mul",
    bytes: (n) => n * 5,
    make: (k, d, n) => {
      const m = new Uint8Array(n).map((_, i) => i & 1);
      return () => k.applyMask(d, m, "mul");
    },
  },
  {
    kernel: "f32ToF16",
    bytes: (n) => n * 4,
    make: (k, d) => () => k.f32ToF16(d),
  },
  {
    kernel: "f16ToF32",
    bytes: (n) => n * 2,
    make: (k, d) => {
      const h = referenceKernels.f32ToF16(d);
      return () => k.f16ToF32(h);
    },
  },
  {
    kernel: "f32ToBf16",
    bytes: (n) => n * 4,
    make: (k, d) => () => k.f32ToBf16(d),
  },
  {
    kernel: "bf16ToF32",
    bytes: (n) => n * 2,
    make: (k, d) => {
      const h = referenceKernels.f32ToBf16(d);
      return () => k.bf16ToF32(h);
    },
  },
  {
    kernel: "packInt4",
    bytes: (n) => n,
    make: (k, _d, n) => {
      const c = new Int8Array(n).map((_, i) => (i % 15) - 7);
      return () => k.packInt4(c);
    },
  },
  {
    kernel: "unpackInt4",
    bytes: (n) => n / 2,
    make: (k, _d, n) => {
      const p = new Uint8Array(n / 2).map((_, i) => i * 37);
      return () => k.unpackInt4(p, n, true);
    },
  },
];

/** One plain streaming pass in JavaScript: a `for` loop summing the array. */
function plainLoopSum(data: Float32Array): number {
  let s = 0;
  for (let i = 0; i < data.length; i++) s += data[i];
  return s;
}

const wasm = createWasmKernels();
const impls: Kernels[] = [wasm, referenceKernels];
const rows: Row[] = [];
for (const n of sizes) {
  const data = randomData(n, n);
  const loop = timeIt(() => plainLoopSum(data), minSeconds);
  rows.push({
    kernel: "sum (plain JS loop)",
    impl: "js",
    n,
    seconds: loop.seconds,
    runs: loop.runs,
    gbPerSecond: (n * 4) / loop.seconds / 1e9,
  });
  for (const c of cases) {
    for (const impl of impls) {
      const limit = impl.name === "reference" ? c.referenceLimit ?? Infinity : Infinity;
      if (n > limit) continue;
      const run = c.make(impl, data, n);
      const t = timeIt(run, minSeconds);
      rows.push({
        kernel: c.kernel,
        impl: impl.name,
        n,
        seconds: t.seconds,
        runs: t.runs,
        gbPerSecond: c.bytes(n) / t.seconds / 1e9,
      });
    }
  }
}
writeResults(outPath, rows, sizes);
