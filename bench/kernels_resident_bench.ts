/**
 * Kernel-only throughput: the WASM kernels on data that already lives in WebAssembly memory (no
 * copy in or out), which is how a pipeline that keeps tensors resident uses them. Compared in
 * the same run with one plain streaming pass over the same bytes (`memory.copyWithin`, i.e. a
 * memcpy, and the whole-tensor sum kernel). The API-level numbers, copies included, are in
 * `kernels_bench.ts`.
 *
 * Targets: reductions and masks >= 15 GB/s, int8 quantize/dequantize >= 8 GB/s.
 *
 * Usage: deno run -A bench/kernels_resident_bench.ts [--n 26214400] [--out path.json]
 *
 * @module
 */

import { decodeKernelsWasm } from "../wasm/kernels_inline.ts";
import { Arena } from "../src/kernels/arena.ts";
import type { KernelExports } from "../src/kernels/_wasm_abi.ts";
import { canonicalLayout } from "../src/kernels/_wasm_chunks.ts";
import { blockGrid } from "../src/kernels/validate.ts";
import { REDUCTIONS } from "../src/kernels/types.ts";
import { parseArgs, timeIt } from "./_harness.ts";

const args = parseArgs(Deno.args);
const n = Number(args.values.get("n") ?? 25 * 2 ** 20);
const outPath = args.values.get("out") ?? "bench/results/kernels_resident.json";
const ROW = 1024;
if (n % ROW !== 0) throw new RangeError(`--n must be a multiple of ${ROW}: ${n}`);

const instance = new WebAssembly.Instance(new WebAssembly.Module(decodeKernelsWasm()), {});
const ex = instance.exports as unknown as KernelExports;
const arena = new Arena(ex.memory, Number(ex.__heap_base.value), { maxBytes: 2 ** 31 });

const data = new Float32Array(n);
for (let i = 0; i < n; i++) data[i] = Math.sin(i * 12.9898) * 3;
const dataPtr = arena.copyIn(data, "data");
const copyPtr = arena.alloc(n * 4, "copy");
const maskPtr = arena.alloc(n, "mask");
const codesPtr = arena.alloc(n, "codes");
const outPtr = arena.alloc(n * 4, "out");
const rows = n / ROW;
const scalePtr = arena.copyIn(new Float32Array(rows).fill(0.05), "scale");
const zpPtr = arena.copyIn(new Float32Array(rows), "zp");
const accPtr = arena.alloc(rows * 8, "acc");
const BINS = 1024;
const histPtr = arena.alloc(BINS * 8, "hist");
const countsPtr = arena.alloc(16, "counts");
const tiesPtr = arena.alloc(16, "ties");
const candPtr = arena.alloc(n / 2, "candidates");

function layoutPtr(kernel: number[]) {
  const layout = canonicalLayout(blockGrid([rows, ROW], kernel, n));
  // Block kernels walk `count` indices of the first canonical dim (sliceLength elements each).
  return {
    ptr: arena.copyIn(layout.dims, "dims"),
    len: layout.dims.length,
    count: n / layout.sliceLength,
  };
}
const whole = layoutPtr([-1, -1]);
const perRow = layoutPtr([1, -1]);
const status = (name: string, s: number) => {
  if (s !== 0) throw new Error(`${name} returned status ${s}`);
};

interface Case {
  name: string;
  bytes: number;
  run: () => void;
  target?: number;
}
const cases: Case[] = [
  {
    name: "memcpy (copyWithin) baseline",
    bytes: n * 4,
    run: () => new Uint8Array(ex.memory.buffer).copyWithin(copyPtr, dataPtr, dataPtr + n * 4),
  },
  {
    name: "sum, whole tensor",
    bytes: n * 4,
    run: () =>
      status(
        "sum",
        ex.nnc_block_reduce(dataPtr, whole.ptr, whole.len, 0, whole.count, 0, accPtr),
      ),
  },
  ...(["l1", "l2", "maxabs"] as const).map((op): Case => ({
    name: `${op} per row [1,-1]`,
    bytes: n * 4,
    target: 15,
    run: () =>
      status(
        op,
        ex.nnc_block_reduce(
          dataPtr,
          perRow.ptr,
          perRow.len,
          0,
          perRow.count,
          REDUCTIONS.indexOf(op),
          accPtr,
        ),
      ),
  })),
  {
    name: "threshold mask",
    bytes: n * 4,
    target: 15,
    run: () => status("threshold", ex.nnc_threshold_mask(dataPtr, n, 0.1, maskPtr)),
  },
  {
    name: "histogram 1024 bins",
    bytes: n * 4,
    run: () => status("histogram", ex.nnc_histogram(dataPtr, n, -6, 6, BINS, histPtr)),
  },
  {
    // The pass of kSmallestMask that counts around two pivots and gathers the values between
    // them (here about 3% of the values, as with the sampled pivots).
    name: "selection range pass (pivots +-0.15)",
    bytes: n * 4,
    run: () =>
      status(
        "range",
        ex.nnc_range_count(dataPtr, n, -0.15, 0.15, countsPtr, candPtr, n / 8),
      ),
  },
  {
    name: "selection mask pass",
    bytes: n * 4,
    run: () => {
      new Uint32Array(ex.memory.buffer, tiesPtr, 1)[0] = 0;
      status("select", ex.nnc_select_mask(dataPtr, n, 0, tiesPtr, maskPtr));
    },
  },
  {
    name: "quantize int8 per row",
    bytes: n * 4,
    target: 8,
    run: () =>
      status(
        "quantize",
        ex.nnc_quantize(
          dataPtr,
          perRow.ptr,
          perRow.len,
          0,
          perRow.count,
          scalePtr,
          zpPtr,
          -127,
          127,
          0,
          codesPtr,
        ),
      ),
  },
  {
    name: "dequantize int8 per row (GB/s of float32 written)",
    bytes: n * 4,
    target: 8,
    run: () =>
      status(
        "dequantize",
        ex.nnc_dequantize(
          codesPtr,
          0,
          perRow.ptr,
          perRow.len,
          0,
          perRow.count,
          scalePtr,
          zpPtr,
          outPtr,
        ),
      ),
  },
];

const results = cases.map((c) => {
  const t = timeIt(c.run, 0.5);
  return {
    kernel: c.name,
    n,
    seconds: t.seconds,
    runs: t.runs,
    gbPerSecond: c.bytes / t.seconds / 1e9,
    targetGbPerSecond: c.target ?? null,
  };
});
const memcpy = results[0].seconds;
const rowsOut = results.map((r) => ({ ...r, timeVsMemcpy: r.seconds / memcpy }));
for (const r of rowsOut) {
  const target = r.targetGbPerSecond ? ` (target ${r.targetGbPerSecond})` : "";
  console.log(
    `${r.kernel.padEnd(52)} ${r.gbPerSecond.toFixed(2).padStart(7)} GB/s  ${
      r.timeVsMemcpy.toFixed(2)
    }x memcpy${target}`,
  );
}
Deno.mkdirSync(outPath.replace(/\/[^/]*$/, ""), { recursive: true });
Deno.writeTextFileSync(
  outPath,
  JSON.stringify(
    { benchmark: "kernels_resident", date: new Date().toISOString(), rows: rowsOut },
    null,
    2,
  ) +
    "\n",
);
console.log(`\nJSON written to ${outPath}`);
