// `nncompress report <report.json>`: a saved report as a table, or as HTML.
import { readFile } from "../../io/fs.ts";
import { formatRuns } from "../../report/format_runs.ts";
import { parseReport } from "../../report/parse_report.ts";
import type { ReportBundle } from "../../report/types.ts";
import { writeReport } from "../../report/write_report.ts";
import { CliError, UsageError } from "../cli_error.ts";
import { type Command, printJson } from "./_context.ts";

/** Prints the runs of a saved report; `-o` writes it as HTML or JSON. */
export const reportCommand: Command = async (args, ctx) => {
  const [path, ...rest] = args.positionals;
  if (path === undefined) throw new UsageError("report needs a report JSON file", "report");
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`, "report");
  const output = args.values.output as string | undefined;
  if (output !== undefined && !/\.(html?|json)$/i.test(output)) {
    throw new UsageError(
      `--output must end in .html or .json: current value is ${output}`,
      "report",
    );
  }
  let bundle: ReportBundle;
  try {
    bundle = parseReport(new TextDecoder().decode(await readFile(path)));
  } catch (e) {
    throw new CliError(`cannot read report "${path}": ${(e as Error).message}`, { cause: e });
  }
  if (output !== undefined) await writeReport(output, bundle);
  if (ctx.json) printJson(ctx, { ok: true, ...(output ? { output } : {}), ...bundle });
  else {
    ctx.io.stdout(`${bundle.title}\n\n${formatRuns(bundle.runs)}\n`);
    if (output !== undefined) ctx.io.stdout(`\nwrote ${output}\n`);
  }
  return 0;
};
