#!/usr/bin/env -S deno run --allow-read --allow-write --allow-env --allow-ffi --allow-sys
/**
 * The nncompress command line: `inspect`, `explain`, `prune`, `quantize`, `eval` and `report`
 * on ONNX and safetensors models. Runs under Deno, Bun and Node.
 *
 * ```sh
 * npx deno run -A cli.ts quantize model.onnx --config '[{"op_types":["Conv2d","Linear"],"target_names":["weight"],"quant_dtype":"int8","granularity":"per_channel"}]' -o model.int8.onnx
 * ```
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { runCli } from "./src/cli/main.ts";
import { exitCleanlyOnSignals } from "./src/io/fs.ts";

if (import.meta.main ?? true) {
  // Ctrl-C or a kill during a write removes the temporary file before exiting.
  await exitCleanlyOnSignals();
  const code = await runCli(process.argv.slice(2), {
    stdout: (s) => void process.stdout.write(s),
    stderr: (s) => void process.stderr.write(s),
    stderrIsTTY: process.stderr.isTTY === true,
    parseArgs: parseArgs as never,
    loadOrt: () => import("onnxruntime-node"),
    loadOrtWeb: () => import("onnxruntime-web"),
  });
  process.exitCode = code;
}
