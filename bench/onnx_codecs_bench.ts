/**
 * Measures ONNX decoding with protobufjs (`onnx-proto`) against the lazy codec of
 * `src/io/onnx/`: wall time and memory growth of one decode of a whole file, each in a fresh
 * process (module loading excluded). Not a test; run it by hand:
 *
 *   deno run -A bench/onnx_codecs_bench.ts <model.onnx | --generate MB>
 *
 * It prints one JSON line per codec.
 */

import { buildOnnx } from "../src/io/onnx/build_onnx.ts";
import { decodeOnnx } from "../src/io/onnx/decode_onnx.ts";
import { readOnnxTensor } from "../src/io/onnx/read_onnx_tensor.ts";

/** A model with 64 MB float initializers adding up to about `mb` megabytes. */
function generate(mb: number): Uint8Array {
  const chunk = 16 * 1024 * 1024; // floats per initializer
  const initializers = Array.from({ length: Math.max(1, Math.round(mb / 64)) }, (_, i) => ({
    name: `w${i}`,
    dataType: 1,
    dims: [chunk],
    raw: new Uint8Array(chunk * 4).fill(i + 1),
  }));
  return buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes: [{ name: "", opType: "Identity", inputs: ["x"], outputs: ["y"] }],
    initializers,
    inputs: [],
    outputs: [],
  });
}

const [, , arg, size, codec] = ["", "", ...Deno.args];
if (codec === undefined) {
  for (const c of ["lazy", "protobufjs"]) {
    const cmd = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--v8-flags=--expose-gc", import.meta.filename!, arg, size ?? "", c],
    });
    const { stdout, stderr } = await cmd.output();
    await Deno.stdout.write(stdout);
    await Deno.stderr.write(stderr);
  }
} else {
  const bytes = arg === "--generate" ? generate(Number(size)) : await Deno.readFile(arg);
  const { default: onnx } = await import("onnx-proto");
  const gc = (globalThis as unknown as { gc?: () => void }).gc;
  gc?.();
  const before = Deno.memoryUsage();
  const t0 = performance.now();
  let tensors = 0;
  let keep: unknown;
  if (codec === "lazy") {
    const model = decodeOnnx(bytes);
    for (const t of model.tensors) tensors += (await readOnnxTensor(model, t)).length > 0 ? 1 : 0;
    keep = model;
  } else {
    const model = onnx.onnx.ModelProto.decode(bytes);
    const graph = model.graph!;
    const all = [...graph.initializer!];
    for (const n of graph.node!) for (const a of n.attribute!) if (a.t) all.push(a.t);
    tensors = all.filter((t) =>
      (t.rawData?.length ?? 0) > 0 || (t.floatData?.length ?? 0) > 0
    ).length;
    keep = model;
  }
  const ms = performance.now() - t0;
  const after = Deno.memoryUsage();
  const mb = (n: number) => Math.round(n / 1e5) / 10;
  console.log(JSON.stringify({
    codec,
    file: arg === "--generate" ? `generated ${size} MB` : arg,
    fileMB: mb(bytes.length),
    tensors,
    ms: Math.round(ms * 10) / 10,
    heapGrowthMB: mb(after.heapUsed - before.heapUsed),
    externalGrowthMB: mb(after.external - before.external),
    rssGrowthMB: mb(after.rss - before.rss),
  }));
  if (keep === undefined) throw new Error("unreachable");
}
