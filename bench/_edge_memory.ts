// One compression of a `mb` MiB safetensors by compressModel alone, in a fresh process, for
// bench/edge_load.ts: prints the peak RSS over the RSS with the file already in memory, i.e.
// what the pipeline adds to a body the handler holds. A second argument `in-place` writes the
// output into the body, as the handler does (`inPlace`); anything else writes a new file.
import { compressModel } from "../src/compress/compress_model.ts";
import { loadModel } from "../src/compress/load_model.ts";
import { writeSafetensors } from "../src/io/safetensors/write_safetensors.ts";

const [mbText, how] = Deno.args;
const MiB = 1024 * 1024;
const mb = Number(mbText);
const kb = (key: string) =>
  Number(new RegExp(`${key}:\\s+(\\d+)`).exec(Deno.readTextFileSync("/proc/self/status"))![1]) /
  1024;
const config = [{ op_types: ["Linear"], sparse_ratio: 0.5 }];
const layer = (i: number) => ({
  name: `layer${i}.weight`,
  dtype: "F32" as const,
  shape: [1024, 1024],
  data: Float32Array.from({ length: 1024 * 1024 }, (_, j) => Math.sin(i * 7 + j * 0.01)),
});
// Warm up the code paths on a small model, then measure from a clean peak.
const small = writeSafetensors([layer(0)]);
await compressModel(loadModel(small, "m.safetensors"), { mode: "pruning", configList: config });
// The file is built one layer at a time so that only the file itself stays.
const file = writeSafetensors(
  Array.from({ length: mb / 4 }, (_, i) => layer(i)),
);
const bodyMiB = file.length / MiB;
const before = kb("VmRSS");
Deno.writeTextFileSync("/proc/self/clear_refs", "5");
const out = await compressModel(loadModel(file, "m.safetensors"), {
  mode: "pruning",
  configList: config,
  inPlace: how === "in-place",
});
if (out.bytes.length === 0) throw new Error("no output");
const peak = kb("VmHWM");
console.log(JSON.stringify({
  bodyMiB: Number(bodyMiB.toFixed(2)),
  peakOverStartMiB: Number((peak - before).toFixed(1)),
  timesBody: Number(((peak - before) / bodyMiB).toFixed(2)),
}));
