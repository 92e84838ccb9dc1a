/**
 * `runCli`: the nncompress command line, over an injected runtime (`cli.ts` passes the real one).
 *
 * @module
 */

import type { ArgOption, CliIO } from "./cli_io.ts";
import { describeCliError, formatError, UsageError } from "./cli_error.ts";
import { progressBar, progressMode } from "./progress.ts";
import { USAGE } from "./usage.ts";
import type { Command } from "./commands/_context.ts";
import { compressCommand } from "./commands/compress.ts";
import { evalCommand } from "./commands/eval.ts";
import { explainCommand } from "./commands/explain.ts";
import { inspectCommand } from "./commands/inspect.ts";
import { reportCommand } from "./commands/report.ts";
import { variantsCommand } from "./commands/variants.ts";

/** The version printed by `--version`. */
export const VERSION = "0.1.0";

const COMMON: Record<string, ArgOption> = {
  json: { type: "boolean" },
  progress: { type: "string" },
  debug: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};
const CONFIG: Record<string, ArgOption> = {
  config: { type: "string", short: "c" },
  algorithm: { type: "string", short: "a" },
  registry: { type: "string" },
};
// Per-input specs and comparison options (eval --reference, and --eval on any model).
const COMPARE: Record<string, ArgOption> = {
  input: { type: "string", multiple: true },
  "class-axis": { type: "string", multiple: true },
  iou: { type: "boolean" },
  "mask-threshold": { type: "string" },
  steps: { type: "string" },
  state: { type: "string", multiple: true },
};
// Latency of `eval` and `--eval`.
const LATENCY: Record<string, ArgOption> = {
  runs: { type: "string" },
  backend: { type: "string" },
  threads: { type: "string" },
};
/** How photos become input values (`--calibration photos/`, `eval --images`). */
const IMAGE: Record<string, ArgOption> = {
  "image-range": { type: "string" },
  "image-mean": { type: "string" },
  "image-std": { type: "string" },
  "image-size": { type: "string" },
};

const COMPRESS: Record<string, ArgOption> = {
  ...CONFIG,
  output: { type: "string", short: "o" },
  "external-data": { type: "string" },
  report: { type: "string", short: "r", multiple: true },
  eval: { type: "boolean" },
  storage: { type: "string" },
  "block-size": { type: "string" },
  "uint8-when-conv": { type: "boolean" },
  "reduce-range": { type: "boolean" },
  "bnb4-type": { type: "string" },
  "shard-bytes": { type: "string" },
  "max-shard-size": { type: "string" },
  headroom: { type: "string" },
  equalize: { type: "boolean" },
  "equalize-float16": { type: "boolean" },
  "measure-headroom": { type: "boolean" },
  "tfjs-setup": { type: "string" },
  "bias-correction": { type: "boolean" },
  "gptq-rounding": { type: "boolean" },
  "channel-scales": { type: "boolean" },
  calibration: { type: "string" },
  ...IMAGE,
  reconstruct: { type: "string" },
  "rank-channels": { type: "string" },
  "skip-depthwise": { type: "boolean" },
  "min-rows-per-column": { type: "string" },
  "batch-size": { type: "string" },
  "allow-unchanged": { type: "boolean" },
  pattern: { type: "string" },
  "act-order": { type: "boolean" },
  "static-groups": { type: "boolean" },
  "block-ops": { type: "string" },
  "remove-channels": { type: "boolean" },
  "channel-multiple": { type: "string" },
  ...COMPARE,
  ...LATENCY,
};

const COMMANDS: Record<string, { run: Command; options: Record<string, ArgOption> }> = {
  inspect: { run: inspectCommand, options: {} },
  explain: { run: explainCommand, options: { ...CONFIG, mode: { type: "string", short: "m" } } },
  prune: { run: compressCommand("pruning"), options: COMPRESS },
  quantize: { run: compressCommand("quantization"), options: COMPRESS },
  eval: {
    run: evalCommand,
    options: {
      task: { type: "string", short: "t" },
      reference: { type: "string" },
      shape: { type: "string" },
      "tfjs-setup": { type: "string" },
      runner: { type: "string" },
      images: { type: "string" },
      ...IMAGE,
      ...COMPARE,
      ...LATENCY,
    },
  },
  report: { run: reportCommand, options: { output: { type: "string", short: "o" } } },
  variants: {
    run: variantsCommand,
    options: {
      config: { type: "string", short: "c" },
      output: { type: "string", short: "o" },
      modes: { type: "string" },
      "block-ops": { type: "string" },
      "no-eval": { type: "boolean" },
      "per-tensor": { type: "boolean" },
      input: { type: "string", multiple: true },
    },
  },
};

function isParseError(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS");
}

/** The exit codes (documented in `docs/cli.md`; 3 is `EXIT_UNCHANGED` of the compress commands). */
export const EXIT = { ok: 0, failed: 1, usage: 2, unchanged: 3, internal: 4 } as const;

/**
 * Runs one command line: `nncompress <command> [options]`. Results go to stdout (JSON with
 * `--json`), progress and errors to stderr; errors are one readable block (every config issue
 * with its path, model-file errors with the byte offset), with a stack trace only under
 * `--debug`; under `--json` the error is also printed as `{ "ok": false, "error": … }` on stdout.
 *
 * @param argv The arguments after the program name.
 * @param io The runtime's streams, argument parser and onnxruntime loader.
 * @returns The exit code: 0 ok, 1 the input cannot be used, 2 usage, 3 nothing changed, 4 a
 * fault of the program (see `EXIT`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseArgs } from "node:util";
 * import { runCli } from "./main.ts";
 *
 * let out = "";
 * const io = { stdout: (s: string) => (out += s), stderr: () => {}, stderrIsTTY: false, parseArgs };
 * assert.equal(await runCli(["--version"], io), 0);
 * assert.equal(out, "nncompress 0.1.0\n");
 * assert.equal(await runCli(["frobnicate"], io), 2);
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  const json = argv.includes("--json");
  const debug = argv.includes("--debug");
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    if (name === undefined) {
      io.stderr(`error: no command given\n\n${USAGE[""]}\n`);
      return 2;
    }
    io.stdout(USAGE[""] + "\n");
    return 0;
  }
  if (name === "--version" || name === "-V") {
    io.stdout(`nncompress ${VERSION}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  try {
    if (command === undefined) throw new UsageError(`unknown command "${name}"`);
    let args;
    try {
      args = io.parseArgs({
        // `--external-data` takes an optional value: alone, it means the default file name.
        args: rest.map((a) => (a === "--external-data" ? "--external-data=" : a)),
        options: { ...COMMON, ...command.options },
        allowPositionals: true,
        strict: true,
      });
    } catch (e) {
      if (isParseError(e)) throw new UsageError((e as Error).message, name);
      throw e;
    }
    if (args.values.help === true) {
      io.stdout(USAGE[name] + "\n");
      return 0;
    }
    const value = args.values.progress as string | undefined;
    const mode = progressMode(value, io.stderrIsTTY, json);
    if (mode === undefined) {
      throw new UsageError(
        `--progress must be auto, bar, lines or none: current value is ${value}`,
        name,
      );
    }
    return await command.run(args, { io, json, progress: (label) => progressBar(io, label, mode) });
  } catch (e) {
    const usage = e instanceof UsageError;
    if (json) io.stdout(JSON.stringify({ ok: false, error: describeCliError(e) }, null, 2) + "\n");
    io.stderr(formatError(e, debug));
    if (usage) {
      const help = e.command === "" ? "nncompress --help" : `nncompress ${e.command} --help`;
      io.stderr(`run "${help}" for usage\n`);
      return EXIT.usage;
    }
    if (describeCliError(e).category === "internal") {
      if (!debug) {
        io.stderr(
          "this is a fault in nncompress, not in the input: run again with --debug for the stack trace and report it\n",
        );
      }
      return EXIT.internal;
    }
    return EXIT.failed;
  }
}
