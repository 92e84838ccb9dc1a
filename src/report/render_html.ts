/**
 * `renderHtml`: a self-contained HTML page of a report bundle.
 *
 * @module
 */

import { barChart } from "./_bar_chart.ts";
import { escapeHtml as esc } from "./_escape.ts";
import { STYLE } from "./_style.ts";
import { summarizeRun } from "./summarize_run.ts";
import type { CompressionReport, ReportBundle } from "./types.ts";

const kb = (bytes: number) =>
  bytes >= 1e6 ? `${(bytes / 1e6).toFixed(2)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const short = (s: string, n = 38) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const tail = (s: string, n = 38) => (s.length > n ? `…${s.slice(-(n - 1))}` : s);
const stem = (model: string) => model.replace(/\.[a-z]+$/i, "");

function score(r: CompressionReport): string {
  return r.evaluation.map((e) =>
    `${esc(e.name)}: <b>${e.correct}/${e.total}</b>` +
    (e.baseline === undefined ? "" : ` <span class="muted">(original ${e.baseline})</span>`)
  ).join("<br>") || "-";
}

function latencyCell(r: CompressionReport): string {
  const ms = (x: number) => x.toFixed(x >= 100 ? 0 : 2);
  return (r.latency ?? []).map((l) =>
    `${esc(l.backend)}: ${l.originalMs === null ? "" : `${ms(l.originalMs)} → `}<b>${
      ms(l.resultMs)
    } ms</b>` +
    (l.originalMs === null
      ? ""
      : ` <span class="muted">(${(l.resultMs / l.originalMs).toFixed(2)}x)</span>`)
  ).join("<br>") || "-";
}

function summaryRow(r: CompressionReport, timed: boolean): string {
  const s = summarizeRun(r);
  const none = r.mode === "none";
  return `<tr><td>${esc(r.label)}</td><td>${esc(r.model)}</td><td>${
    esc(r.algorithm ?? r.mode)
  }</td>` +
    `<td class="n">${s.targets}</td><td class="n">${none ? "-" : pct(s.sparsity)}</td>` +
    `<td class="n">${none ? "-" : s.bits.join(" / ")}</td>` +
    `<td class="n">${kb(r.before.fileBytes)} → ${kb(r.after.fileBytes)}${
      none ? "" : `<br><span class="muted">${esc(r.storage ?? "float")}</span>`
    }</td>` +
    `<td class="n">${kb(r.before.packedBytes)} → ${kb(r.after.packedBytes)}</td>` +
    `<td>${score(r)}</td>${timed ? `<td class="n">${latencyCell(r)}</td>` : ""}<td class="n">${
      none ? "-" : `${(r.timeMs / 1000).toFixed(2)} s`
    }</td></tr>`;
}

function details(r: CompressionReport, i: number): string {
  const layers = r.layers.map((l) => ({ ...l, name: tail(`${l.module}.${l.target}`) }));
  const sparsity = barChart(
    layers.map((l) => ({
      label: l.name,
      value: l.sparsity,
      reference: l.sparsityBefore,
      text: pct(l.sparsity),
    })),
    { max: 1, title: `sparsity per layer, ${r.label}`, tone: "a" },
  );
  const bits = barChart(
    layers.map((l) => ({
      label: l.name,
      value: l.bits ?? (l.dtype === "F32" ? 32 : 16),
      text: l.bits === null ? `${l.dtype} float` : `int${l.bits} ${l.granularity ?? ""}`,
    })),
    { max: 32, title: `bit-width per layer, ${r.label}`, tone: "b" },
  );
  const warnings = r.warnings.length === 0
    ? ""
    : `<h3>Warnings</h3><ul class="warn">${
      r.warnings.map((w) => `<li>${esc(w)}</li>`).join("")
    }</ul>`;
  return `<details id="run-${i}"${i < 4 ? " open" : ""}><summary>${esc(r.label)} — ${
    esc(r.model)
  }</summary>` +
    `<p class="muted">${r.layers.length} configured tensors of ${
      r.parameters.toLocaleString("en-US")
    } parameters; ` +
    `grey bars show the sparsity before compression.</p>` +
    (r.layers.length === 0
      ? ""
      : `<div class="charts"><div><h3>Sparsity per layer</h3>${sparsity}</div>` +
        `<div><h3>Bit-width per layer</h3>${bits}</div></div>`) +
    `<h3>Config list</h3><pre>${
      esc(JSON.stringify(r.configList, null, 2))
    }</pre>${warnings}</details>`;
}

/**
 * Renders a report bundle as one HTML page with no external resources (inline CSS and SVG, no
 * scripts): a summary table of the runs, charts of the model size before and after each run
 * and of the evaluation scores, and per run the sparsity and bit-width of every configured
 * layer, the config list and the warnings. Every string from the bundle is escaped.
 *
 * @param bundle The runs.
 * @returns The HTML document.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderHtml } from "./render_html.ts";
 *
 * const html = renderHtml({ title: "<demo>", generator: "nncompress", createdAt: "2026-01-01T00:00:00Z", runs: [] });
 * assert.ok(html.startsWith("<!doctype html>"));
 * assert.ok(html.includes("&#60;demo&#62;"));
 * ```
 */
export function renderHtml(bundle: ReportBundle): string {
  const runs = bundle.runs;
  const maxSize = runs.reduce((m, r) => Math.max(m, r.before.packedBytes), 0);
  const sizes = barChart(
    runs.map((r) => ({
      label: `${short(r.label, 22)} · ${short(stem(r.model), 14)}`,
      value: r.after.packedBytes,
      reference: r.before.packedBytes,
      text: kb(r.after.packedBytes),
    })),
    { max: maxSize, title: "parameter size after compression (grey: before)", tone: "c" },
  );
  const timedRuns = runs.filter((r) => (r.latency ?? []).length > 0);
  const timed = timedRuns.length > 0;
  const speed = barChart(
    timedRuns.flatMap((r) =>
      r.latency!.map((l) => ({
        label: `${short(r.label, 18)} · ${l.backend}`,
        value: l.resultMs,
        ...(l.originalMs === null ? {} : { reference: l.originalMs }),
        text: `${l.resultMs.toFixed(2)} ms`,
      }))
    ),
    {
      max: timedRuns.reduce(
        (m, r) => r.latency!.reduce((n, l) => Math.max(n, l.resultMs, l.originalMs ?? 0), m),
        0,
      ),
      title: "median inference time (grey: original)",
      tone: "b",
    },
  );
  const scored = runs.filter((r) => r.evaluation.length > 0);
  const scores = barChart(
    scored.map((r) => ({
      label: `${short(r.label, 22)} · ${short(stem(r.model), 14)}`,
      value: r.evaluation[0].correct / Math.max(1, r.evaluation[0].total),
      text: `${r.evaluation[0].correct}/${r.evaluation[0].total}`,
    })),
    { max: 1, title: "evaluation score", tone: "a" },
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(bundle.title)}</title><style>${STYLE}</style></head><body>
<h1>${esc(bundle.title)}</h1>
<p class="muted">${esc(bundle.generator)} · ${esc(bundle.createdAt)}</p>
<h2>Runs</h2>
<table><thead><tr><th>config</th><th>model</th><th>algorithm</th><th class="n">tensors</th>
<th class="n">sparsity</th><th class="n">bits</th><th class="n">file</th>
<th class="n">parameters packed</th><th>evaluation</th>${
    timed ? `<th class="n">latency (original → result)</th>` : ""
  }<th class="n">time</th></tr></thead>
<tbody>${runs.map((r) => summaryRow(r, timed)).join("")}</tbody></table>
<p class="muted">“Parameters packed” counts the bytes the parameters take in the file written
(codes, scales and zero points as stored); “file” is the size of that file.${
    timed
      ? ` “Latency” is the median time of one inference in onnxruntime (${
        esc(
          [
            ...new Set(
              timedRuns.flatMap((r) =>
                r.latency!.map((l) =>
                  `${l.backend}: ${l.threads} thread${
                    l.threads === 1 ? "" : "s"
                  }, ${l.runs} runs after ${l.warmup} warm-up, input ${l.input}`
                )
              ),
            ),
          ].join("; "),
        )
      }).`
      : ""
  }</p>
<div class="charts"><div><h2>Model size</h2>${sizes}</div>${
    scored.length === 0 ? "" : `<div><h2>Evaluation</h2>${scores}</div>`
  }${timed ? `<div><h2>Latency</h2>${speed}</div>` : ""}</div>
<h2>Layers</h2>
${runs.filter((r) => r.mode !== "none").map(details).join("\n")}
</body></html>
`;
}
