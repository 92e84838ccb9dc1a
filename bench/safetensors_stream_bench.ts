/**
 * Streams a generated multi-GB safetensors file to disk and processes it back one tensor at a
 * time, reporting time and peak resident memory. Not a test; run it by hand:
 *
 *   deno run -A bench/safetensors_stream_bench.ts [MB=2048] [dir=/tmp] [tensorMB=64]
 *
 * It prints one JSON line.
 */

import { openFile, writeFileAtomic } from "../src/io/fs.ts";
import { openSafetensors } from "../src/io/safetensors/open_safetensors.ts";
import { streamSafetensors } from "../src/io/safetensors/write_safetensors.ts";
import { toFloat32 } from "../src/model/to_float32.ts";

const mb = Number(Deno.args[0] ?? 2048);
const path = `${Deno.args[1] ?? "/tmp"}/nncompress-stream-${Date.now()}.safetensors`;
const TENSOR_MB = Number(Deno.args[2] ?? 64);
const count = Math.max(1, Math.round(mb / TENSOR_MB));
const rows = (TENSOR_MB * 1024 * 1024) / 2 / 4096; // BF16 [rows, 4096]
let peak = 0;
const sample = () => (peak = Math.max(peak, Deno.memoryUsage().rss));

const startRss = Deno.memoryUsage().rss;
const t0 = performance.now();
await writeFileAtomic(path, (sink) =>
  streamSafetensors(
    Array.from({ length: count }, (_, i) => ({
      name: `layers.${i}.mlp.weight`,
      dtype: "BF16" as const,
      shape: [rows, 4096],
      data: () => (sample(), new Uint16Array(rows * 4096).fill(0x3f80 + (i % 64))),
    })),
    sink,
    { metadata: { format: "pt" } },
  ));
const t1 = performance.now();
const writePeak = peak;
peak = 0;
const file = await openFile(path);
let total = 0;
try {
  const lazy = await openSafetensors(file, { file: path });
  for (const e of lazy.entries) {
    const values = toFloat32(await lazy.read(e.name), e.dtype);
    for (let i = 0; i < values.length; i += 4096) total += values[i];
    sample();
  }
} finally {
  await file.close();
  await Deno.remove(path);
}
const t2 = performance.now();
console.log(JSON.stringify({
  fileMB: count * TENSOR_MB,
  tensors: count,
  tensorMB: TENSOR_MB,
  writeSeconds: Math.round(t1 - t0) / 1000,
  readAndDecodeSeconds: Math.round(t2 - t1) / 1000,
  startRssMB: Math.round(startRss / 1048576),
  writePeakRssMB: Math.round(writePeak / 1048576),
  readPeakRssMB: Math.round(peak / 1048576),
  checksum: total,
}));
