/**
 * Measures ONNX decoding with protobufjs (`onnx-proto`) against the lazy codec of
 * `src/io/onnx/`: wall time and memory growth of one decode of a whole file, each in a fresh
 * process (module loading excluded). Not a test; run it by hand:
 *
 *   deno run -A bench/onnx_codecs_bench.ts <model.onnx | --generate MB>
 *
 * It prints one JSON line per codec.
 */

import { decodeOnnx } from "../src/io/onnx/decode_onnx.ts";
import { readOnnxTensor } from "../src/io/onnx/read_onnx_tensor.ts";

function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) (out.push((v % 0x80) | 0x80), v = Math.floor(v / 0x80));
  return (out.push(v), out);
}

function field(num: number, body: Uint8Array | number[]): Uint8Array {
  const head = [num * 8 + 2, ...varint(body.length)];
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

function cat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), at += p.length);
  return out;
}

/** A model with 64 MB float initializers adding up to about `mb` megabytes. */
function generate(mb: number): Uint8Array {
  const enc = new TextEncoder();
  const chunk = 16 * 1024 * 1024; // floats per initializer
  const inits: Uint8Array[] = [];
  for (let i = 0; i < Math.max(1, Math.round(mb / 64)); i++) {
    const raw = new Uint8Array(chunk * 4).fill(i + 1);
    inits.push(
      field(
        5,
        cat([
          new Uint8Array([8, ...varint(chunk), 16, 1]),
          field(8, enc.encode(`w${i}`)),
          field(9, raw),
        ]),
      ),
    );
  }
  const node = field(
    1,
    cat([field(1, enc.encode("x")), field(2, enc.encode("y")), field(4, enc.encode("Identity"))]),
  );
  const graph = field(7, cat([node, field(2, enc.encode("g")), ...inits]));
  return cat([new Uint8Array([8, 8]), field(8, new Uint8Array([16, 13])), graph]);
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
