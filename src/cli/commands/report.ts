// `nncompress report <report.json>`: a saved report as a table, or as HTML.
import { readFileBounded } from "../../io/fs.ts";
import { jsonText } from "../../io/json_text.ts";
import { formatRuns } from "../../report/format_runs.ts";
import { parseReportData } from "../../report/parse_report.ts";

/** The largest report file read (256 MiB). */
const MAX_REPORT_BYTES = 256 * 1024 * 1024;
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
  const bytes = await readFileBounded(path, { maxBytes: MAX_REPORT_BYTES, label: "report file" });
  let bundle: ReportBundle;
  try {
    bundle = parseReportData(jsonText(bytes, "report file", path));
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
    throw new CliError(`cannot read report file "${path}": ${e.message}`, { cause: e });
  }
  if (output !== undefined) await writeReport(output, bundle);
  if (ctx.json) printJson(ctx, { ok: true, ...(output ? { output } : {}), ...bundle });
  else {
    ctx.io.stdout(`${bundle.title}\n\n${formatRuns(bundle.runs)}\n`);
    if (output !== undefined) ctx.io.stdout(`\nwrote ${output}\n`);
  }
  return 0;
};
