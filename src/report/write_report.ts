/**
 * `writeReport`: a report bundle written to a file, atomically, as HTML or JSON by extension.
 *
 * @module
 */

import { writeFileAtomic } from "../io/fs.ts";
import { renderHtml } from "./render_html.ts";
import { reportJson } from "./report_json.ts";
import type { ReportBundle } from "./types.ts";

/**
 * Writes a report: `.html`/`.htm` gets the self-contained page, `.json` the JSON data. The file
 * appears complete or not at all (temporary file, then rename).
 *
 * @param path The destination; its extension picks the format.
 * @param bundle The runs.
 * @throws {RangeError} For another extension.
 * @throws {Error} The runtime's error when the file cannot be written.
 *
 * @example
 * ```ts ignore
 * import { writeReport } from "./write_report.ts";
 * await writeReport("report.html", bundle);
 * ```
 */
export async function writeReport(path: string, bundle: ReportBundle): Promise<void> {
  const lower = path.toLowerCase();
  const text = lower.endsWith(".html") || lower.endsWith(".htm")
    ? renderHtml(bundle)
    : lower.endsWith(".json")
    ? reportJson(bundle)
    : (() => {
      throw new RangeError(`a report path must end in .html or .json: current value is ${path}`);
    })();
  await writeFileAtomic(path, new TextEncoder().encode(text), { label: "report file" });
}
