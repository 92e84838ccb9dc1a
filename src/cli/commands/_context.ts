// What every command receives besides its parsed arguments.
import type { CliIO, ParsedArgs } from "../cli_io.ts";
import type { ProgressBar } from "../progress.ts";

/** The runtime, output mode and progress factory of a command. */
export interface CommandContext {
  readonly io: CliIO;
  /** `--json`: machine-readable output only. */
  readonly json: boolean;
  /** A progress bar on stderr (a no-op unless stderr is a terminal and not `--json`). */
  progress(label: string): ProgressBar;
}

/** A command: parsed arguments in, exit code out. */
export type Command = (args: ParsedArgs, ctx: CommandContext) => Promise<number>;

/** Writes a value as indented JSON on stdout. */
export function printJson(ctx: CommandContext, value: unknown): void {
  ctx.io.stdout(JSON.stringify(value, null, 2) + "\n");
}
