// The demo's table: one row per config, recognizer and classifier side by side.
import { formatTable } from "../src/report/format_table.ts";
import { summarizeRun } from "../src/report/summarize_run.ts";
import type { CompressionReport } from "../src/report/types.ts";

const mb = (bytes: number) => (bytes / 1e6).toFixed(2);

function score(run: CompressionReport | undefined): string {
  const e = run?.evaluation[0];
  return e === undefined ? "-" : `${e.correct}/${e.total}`;
}

/** One row per label (in order of first appearance), then notes on float-stored quantization. */
export function demoTable(runs: readonly CompressionReport[]): string {
  const labels = [...new Set(runs.map((r) => r.label))];
  const rows = [[
    "config",
    "stored as",
    "zeros",
    "bits",
    "rec MB",
    "cls MB",
    "rec exact",
    "cls acc",
    "time s",
  ]];
  const notes: string[] = [];
  for (const label of labels) {
    const group = runs.filter((r) => r.label === label);
    const rec = group.find((r) => r.model.includes("_rec_"));
    const cls = group.find((r) => r.model.includes("_cls_"));
    const s = summarizeRun({ ...group[0], layers: group.flatMap((r) => r.layers) });
    const none = group[0].mode === "none";
    const storage = [...new Set(group.map((r) => r.storage ?? "float32"))].join("/");
    rows.push([
      label,
      none ? "float32" : storage === "float" ? "float32" : storage,
      none ? "-" : `${(s.sparsity * 100).toFixed(1)}%`,
      none ? "32" : s.bits.join("/"),
      rec ? mb(rec.after.fileBytes) : "-",
      cls ? mb(cls.after.fileBytes) : "-",
      score(rec),
      score(cls),
      none ? "-" : (group.reduce((a, r) => a + r.timeMs, 0) / 1000).toFixed(2),
    ]);
    for (const r of group) {
      const bits = summarizeRun(r).bits.filter((b) => b < 16);
      if (r.storage === "float" && bits.length > 0 && r.model === rec?.model) {
        notes.push(
          `${label}: weights stored as float32 on the int${bits.join("/")} grid, so the ` +
            `recognizer's parameters keep their ${mb(r.after.packedBytes)} MB ` +
            `(integer storage writes the codes)`,
        );
      }
    }
  }
  const table = formatTable(rows, {
    align: ["left", "left", "right", "right", "right", "right", "right", "right", "right"],
  });
  return notes.length === 0 ? table : `${table}\n\n${notes.map((n) => `note: ${n}`).join("\n")}`;
}
