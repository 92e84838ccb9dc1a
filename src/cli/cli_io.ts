/**
 * What the CLI needs from its runtime, passed in by `cli.ts` (so everything under `src/cli/`
 * stays free of runtime-specific imports and runs under a fake in tests).
 *
 * @module
 */

/** The result of the argument parser (`node:util` `parseArgs`). */
export interface ParsedArgs {
  readonly values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  readonly positionals: string[];
}

/** An option of the argument parser. */
export interface ArgOption {
  readonly type: "string" | "boolean";
  readonly short?: string;
  readonly multiple?: boolean;
}

/** The runtime's streams and argument parser. */
export interface CliIO {
  /** Writes to standard output. */
  stdout(text: string): void;
  /** Writes to standard error. */
  stderr(text: string): void;
  /** Whether standard error is a terminal (progress is shown only then). */
  readonly stderrIsTTY: boolean;
  /** `parseArgs` of `node:util` (Deno, Bun and Node all provide it). */
  parseArgs(config: {
    args: string[];
    options: Record<string, ArgOption>;
    allowPositionals: boolean;
    strict: boolean;
  }): ParsedArgs;
  /** Loads onnxruntime (for `eval`); absent where it cannot run. */
  loadOrt?(): Promise<unknown>;
  /** Loads onnxruntime-web (for `--backend web`); absent where it cannot run. */
  loadOrtWeb?(): Promise<unknown>;
}
