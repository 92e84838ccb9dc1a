/**
 * Builds an ONNX model whose weights live in a multi-GB external data file, reads every weight
 * through the module view, and saves a copy with one tensor replaced; reports time and peak
 * resident memory against baselines in the same run: reading the external file in 16 MiB
 * chunks, and copying it with `Deno.copyFile` followed by an fsync (as `saveOnnx` syncs).
 *
 *   deno run -A bench/onnx_external_bench.ts [--size MB=2560] [--tensor-mb 64] [--dir /tmp]
 *     [--out bench/results/onnx_external.json]
 *
 * `--size 64 --tensor-mb 4` is a smoke run of a few seconds. Prints a table and writes JSON.
 */

import { externalDataFiles, makeDir, readFile, writeFileAtomic } from "../src/io/fs.ts";
import { decodeOnnx } from "../src/io/onnx/decode_onnx.ts";
import { saveOnnx } from "../src/io/onnx/save_onnx.ts";
import { toFileBytes } from "../src/model/from_float32.ts";
import { onnxModel } from "../src/model/onnx_model.ts";
import { graph, model, node, tensor, valueInfo } from "../tests/io/_onnx_builder.ts";
import { parseArgs } from "./_harness.ts";

const args = parseArgs(Deno.args);
const mb = Number(args.values.get("size") ?? 2560);
const tensorMB = Number(args.values.get("tensor-mb") ?? Math.min(64, Math.max(1, mb / 16)));
const out = args.values.get("out") ?? "bench/results/onnx_external.json";
const root = `${args.values.get("dir") ?? "/tmp"}/nncompress-external-${Date.now()}`;
const N = Math.max(1, Math.floor(Math.sqrt((tensorMB * 1048576) / 4))); // [N, N] float32
const tensorBytes = N * N * 4;
const count = Math.max(1, Math.round((mb * 1048576) / tensorBytes));
const mib = (bytes: number) => Math.round(bytes / 1048576);
const secs = (ms: number) => Math.round(ms) / 1000;
let peak = 0;
const sample = () => (peak = Math.max(peak, Deno.memoryUsage().rss));

await makeDir(`${root}/src`);
const t0 = performance.now();
await writeFileAtomic(`${root}/src/weights.bin`, async (sink) => {
  for (let i = 0; i < count; i++) {
    await sink.write(new Uint8Array(new Float32Array(N * N).fill(i + 1).buffer));
    sample();
  }
});
const bytes = model(graph({
  nodes: Array.from(
    { length: count },
    (_, i) => node("MatMul", [i ? `h${i}` : "x", `w${i}`], [`h${i + 1}`], `/layers.${i}/MatMul`),
  ),
  initializers: Array.from({ length: count }, (_, i) =>
    tensor({
      name: `w${i}`,
      dims: [N, N],
      external: {
        location: "weights.bin",
        offset: String(i * tensorBytes),
        length: String(tensorBytes),
      },
    })),
  inputs: [valueInfo("x", [1, N])],
  outputs: [valueInfo(`h${count}`, [1, N])],
}));
await writeFileAtomic(`${root}/src/model.onnx`, bytes);
const t1 = performance.now();
const writePeak = peak;
peak = 0;

const source = `${root}/src/model.onnx`;
const b0 = performance.now();
const raw = await Deno.open(`${root}/src/weights.bin`);
const buffer = new Uint8Array(16 << 20);
let baselineSum = 0;
for (let n = await raw.read(buffer); n !== null; n = await raw.read(buffer)) {
  baselineSum += buffer[0];
  sample();
}
raw.close();
const b1 = performance.now();
const baselineReadPeak = peak;
peak = 0;
const r0 = performance.now();
const onnx = decodeOnnx(await readFile(source), { file: source });
const files = externalDataFiles(source);
let checksum = 0;
let replacement: Uint8Array | undefined;
try {
  const m = onnxModel(onnx, { external: files.open });
  for (const mod of m.modules) {
    const w = await mod.params.weight.data(); // [out, in], transposed from the file's [in, out]
    checksum += w[0] + w[w.length - 1];
    if (mod.name === "layers.0") replacement = toFileBytes(mod.params.weight, w.map((v) => v * 2));
    sample();
  }
} finally {
  await files.close();
}
const t2 = performance.now();
const readPeak = peak;
peak = 0;
await makeDir(`${root}/copy`);
const c0 = performance.now();
await Deno.copyFile(`${root}/src/weights.bin`, `${root}/copy/weights.bin`);
const copied = await Deno.open(`${root}/copy/weights.bin`, { read: true, write: true });
await copied.sync(); // saveOnnx syncs what it writes before renaming; so does the baseline
copied.close();
const c1 = performance.now();
await Deno.remove(`${root}/copy`, { recursive: true });
const t2b = performance.now();
const timer = setInterval(sample, 20);
await saveOnnx(`${root}/out/model.onnx`, onnx, new Map([["w0", { bytes: replacement! }]]), {
  source,
});
clearInterval(timer);
sample();
const t3 = performance.now();
await Deno.remove(root, { recursive: true });
const result = {
  benchmark: "onnx_external",
  date: new Date().toISOString(),
  runtime: `deno ${Deno.version.deno}, v8 ${Deno.version.v8}`,
  baseline: "reading the external file in 16 MiB chunks; copying it with Deno.copyFile, then fsync",
  externalMB: mib(count * tensorBytes),
  tensors: count,
  tensorMB: mib(tensorBytes),
  generateSeconds: secs(t1 - t0),
  generatePeakRssMB: mib(writePeak),
  baselineReadSeconds: secs(b1 - b0),
  baselineReadPeakRssMB: mib(baselineReadPeak),
  readAllSeconds: secs(t2 - r0),
  readPeakRssMB: mib(readPeak),
  baselineCopySeconds: secs(c1 - c0),
  saveWithOnePatchSeconds: secs(t3 - t2b),
  savePeakRssMB: mib(peak),
  checksum: checksum + baselineSum,
};
const table = [
  ["step", "seconds", "peak RSS MB"],
  [
    "baseline: read external file",
    String(result.baselineReadSeconds),
    String(result.baselineReadPeakRssMB),
  ],
  ["read every weight (module view)", String(result.readAllSeconds), String(result.readPeakRssMB)],
  ["baseline: copy external file + fsync", String(result.baselineCopySeconds), "-"],
  [
    "saveOnnx, one tensor replaced",
    String(result.saveWithOnePatchSeconds),
    String(result.savePeakRssMB),
  ],
];
const widths = table[0].map((_, c) => Math.max(...table.map((r) => r[c].length)));
console.log(
  `${result.externalMB} MB external data, ${count} x ${result.tensorMB} MB float32 [${N}, ${N}]`,
);
for (const r of table) {
  console.log(r.map((c, i) => (i ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  "));
}
console.log(JSON.stringify(result));
const dir = out.replace(/\/[^/]*$/, "");
if (dir !== out) await Deno.mkdir(dir, { recursive: true });
await Deno.writeTextFile(out, JSON.stringify(result, null, 2) + "\n");
console.log(`JSON written to ${out}`);
