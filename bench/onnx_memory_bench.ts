/**
 * Peak memory of the CLI on a float16 ONNX CNN of about 88 MB (44M parameters: a stem, 18 3x3
 * convolutions of 512 channels with biases and ReLU, a classifier Gemm; float32 graph input and
 * output with Cast nodes at both ends, as float16 exports ship), against the file's size:
 * `quantize` int8 per channel (QDQ, the ONNX default), `quantize` int4 MatMulNBits-eligible
 * weights only (`--storage nbits` has no Conv: the Gemm), `prune` Level 50%, and `inspect` as the
 * runtime's floor. Each run is a child process; peak memory is its `VmHWM` (Linux), read from
 * /proc while it runs.
 *
 *   deno run -A bench/onnx_memory_bench.ts [--dir /tmp] [--keep] [--out bench/results/onnx_memory.json]
 *
 * @module
 */

import { buildOnnx } from "../src/io/onnx/build_onnx.ts";
import type { NodeSpec, TensorSpec } from "../src/io/onnx/proto_writer.ts";
import { parseArgs } from "./_harness.ts";

const args = parseArgs(Deno.args);
const dir = await Deno.makeTempDir({ dir: args.values.get("dir") ?? "/tmp", prefix: "onnxmem-" });
const outPath = args.values.get("out") ?? "bench/results/onnx_memory.json";
const CLI = new URL("../cli.ts", import.meta.url).pathname;
const DENO = new URL("../node_modules/.bin/deno", import.meta.url).pathname;

/** Float16 bit patterns of small deterministic values (|x| in [2^-9, 2^-3)). */
function f16(n: number, seed: number): Uint8Array {
  const a = new Uint16Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    a[i] = ((s >>> 31) << 15) | ((6 + ((s >>> 24) % 6)) << 10) | (s & 0x3ff);
  }
  return new Uint8Array(a.buffer);
}

const FLOAT = 1, FLOAT16 = 10;
const C = 512, LAYERS = 18, CLASSES = 1000;
const nodes: NodeSpec[] = [
  {
    name: "in_cast",
    opType: "Cast",
    inputs: ["x"],
    outputs: ["x16"],
    attributes: [{ name: "to", i: FLOAT16 }],
  },
  {
    name: "stem",
    opType: "Conv",
    inputs: ["x16", "stem.weight", "stem.bias"],
    outputs: ["s"],
    attributes: [{ name: "pads", ints: [1, 1, 1, 1] }],
  },
  { name: "stem_relu", opType: "Relu", inputs: ["s"], outputs: ["h0"] },
];
const initializers: TensorSpec[] = [
  { name: "stem.weight", dataType: FLOAT16, dims: [C, 3, 3, 3], raw: f16(C * 27, 1) },
  { name: "stem.bias", dataType: FLOAT16, dims: [C], raw: f16(C, 2) },
];
for (let l = 0; l < LAYERS; l++) {
  nodes.push({
    name: `conv${l}`,
    opType: "Conv",
    inputs: [`h${l}`, `conv${l}.weight`, `conv${l}.bias`],
    outputs: [`c${l}`],
    attributes: [{ name: "pads", ints: [1, 1, 1, 1] }],
  }, { name: `relu${l}`, opType: "Relu", inputs: [`c${l}`], outputs: [`h${l + 1}`] });
  initializers.push(
    { name: `conv${l}.weight`, dataType: FLOAT16, dims: [C, C, 3, 3], raw: f16(C * C * 9, 10 + l) },
    { name: `conv${l}.bias`, dataType: FLOAT16, dims: [C], raw: f16(C, 100 + l) },
  );
}
nodes.push(
  { name: "pool", opType: "GlobalAveragePool", inputs: [`h${LAYERS}`], outputs: ["p"] },
  { name: "flatten", opType: "Flatten", inputs: ["p"], outputs: ["f"] },
  {
    name: "fc",
    opType: "Gemm",
    inputs: ["f", "fc.weight", "fc.bias"],
    outputs: ["g"],
    attributes: [{ name: "transB", i: 1 }],
  },
  {
    name: "out_cast",
    opType: "Cast",
    inputs: ["g"],
    outputs: ["y"],
    attributes: [{ name: "to", i: FLOAT }],
  },
);
initializers.push(
  { name: "fc.weight", dataType: FLOAT16, dims: [CLASSES, C], raw: f16(CLASSES * C, 7) },
  { name: "fc.bias", dataType: FLOAT16, dims: [CLASSES], raw: f16(CLASSES, 8) },
);
const model = `${dir}/cnn_fp16.onnx`;
await Deno.writeFile(
  model,
  buildOnnx({
    opsets: [{ domain: "", version: 17 }],
    nodes,
    initializers,
    inputs: [{ name: "x", type: { elemType: FLOAT, dims: [1, 3, 16, 16] } }],
    outputs: [{ name: "y", type: { elemType: FLOAT, dims: [1, CLASSES] } }],
  }),
);
const size = (await Deno.stat(model)).size;

/** Runs the CLI in a child process; its time and peak resident memory. */
async function run(cliArgs: string[]): Promise<{ seconds: number; peakBytes: number }> {
  const t = performance.now();
  const child = new Deno.Command(DENO, {
    args: ["run", "-A", CLI, ...cliArgs],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let peak = 0;
  const poll = setInterval(() => {
    try {
      const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
      const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      peak = Math.max(peak, kb * 1024);
    } catch { /* exited */ }
  }, 20);
  const out = await child.output();
  clearInterval(poll);
  if (!out.success) {
    throw new Error(`${cliArgs.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return { seconds: (performance.now() - t) / 1000, peakBytes: peak };
}

const int8 =
  '[{"op_types":["Conv2d","Linear"],"target_names":["weight"],"quant_dtype":"int8","granularity":"per_channel"}]';
const level = '[{"op_types":["Conv2d","Linear"],"sparse_ratio":0.5}]';
const rows = [];
try {
  for (
    const [name, cliArgs] of [
      ["inspect", ["inspect", model]],
      ["quantize int8 per channel (QDQ)", ["quantize", model, "-c", int8, "-o", `${dir}/q.onnx`]],
      ["prune Level 50%", ["prune", model, "-c", level, "-o", `${dir}/p.onnx`]],
    ] as const
  ) {
    const r = await run([...cliArgs]);
    const row = {
      run: name,
      fileMiB: +(size / 2 ** 20).toFixed(1),
      seconds: +r.seconds.toFixed(2),
      peakMiB: +(r.peakBytes / 2 ** 20).toFixed(0),
      xFile: +(r.peakBytes / size).toFixed(2),
    };
    rows.push(row);
    console.error(JSON.stringify(row));
  }
} finally {
  if (args.flags.has("keep")) console.error(`kept ${model}`);
  else await Deno.remove(dir, { recursive: true });
}
const result = { runtime: `deno ${Deno.version.deno}`, fileBytes: size, rows };
await Deno.writeTextFile(outPath, JSON.stringify(result, null, 2) + "\n");
console.log(JSON.stringify(result));
