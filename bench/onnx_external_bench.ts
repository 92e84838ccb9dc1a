/**
 * Builds an ONNX model whose weights live in a multi-GB external data file, reads every weight
 * through the module view, and saves a copy with one tensor replaced; reports time and peak
 * resident memory. Not a test; run it by hand:
 *
 *   deno run -A bench/onnx_external_bench.ts [MB=2560] [dir=/tmp]
 *
 * It prints one JSON line.
 */

import { externalDataFiles, makeDir, readFile, writeFileAtomic } from "../src/io/fs.ts";
import { decodeOnnx } from "../src/io/onnx/decode_onnx.ts";
import { saveOnnx } from "../src/io/onnx/save_onnx.ts";
import { toFileBytes } from "../src/model/from_float32.ts";
import { onnxModel } from "../src/model/onnx_model.ts";
import { graph, model, node, tensor, valueInfo } from "../tests/io/_onnx_builder.ts";

const mb = Number(Deno.args[0] ?? 2560);
const root = `${Deno.args[1] ?? "/tmp"}/nncompress-external-${Date.now()}`;
const N = 4096; // each weight is [N, N] float32 = 64 MiB
const count = Math.max(1, Math.round(mb / 64));
const tensorBytes = N * N * 4;
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
const timer = setInterval(sample, 20);
await saveOnnx(`${root}/out/model.onnx`, onnx, new Map([["w0", { bytes: replacement! }]]), {
  source,
});
clearInterval(timer);
sample();
const t3 = performance.now();
await Deno.remove(root, { recursive: true });
console.log(JSON.stringify({
  externalMB: count * 64,
  tensors: count,
  generateSeconds: Math.round(t1 - t0) / 1000,
  generatePeakRssMB: Math.round(writePeak / 1048576),
  readAllSeconds: Math.round(t2 - t1) / 1000,
  readPeakRssMB: Math.round(readPeak / 1048576),
  saveWithOnePatchSeconds: Math.round(t3 - t2) / 1000,
  savePeakRssMB: Math.round(peak / 1048576),
  checksum,
}));
