import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { formatLayers, formatRuns } from "./format_runs.ts";
import { formatTable } from "./format_table.ts";
import { parseReport } from "./parse_report.ts";
import { renderHtml } from "./render_html.ts";
import { reportJson } from "./report_json.ts";
import { summarizeRun } from "./summarize_run.ts";
import { writeReport } from "./write_report.ts";
import type { CompressionReport, LayerReport, ReportBundle } from "./types.ts";
import { tempDir } from "../../tests/_temp_dir.ts";
// A small report bundle for the report tests.

function layer(module: string, sparsity: number, bits: number | null): LayerReport {
  return {
    module,
    target: "weight",
    type: "Linear",
    shape: [4, 4],
    elements: 16,
    sparsityBefore: 0,
    sparsity,
    bits,
    dtype: "F32",
    granularity: bits === null ? null : "out_channel",
  };
}

function run(overrides: Partial<CompressionReport> = {}): CompressionReport {
  return {
    label: "int8",
    model: "model.onnx",
    format: "onnx",
    mode: "quantization",
    algorithm: "PtqQuantizer",
    configList: [{ op_types: ["Linear"], quant_dtype: "int8" }],
    before: { fileBytes: 2_000_000, packedBytes: 1_900_000 },
    after: { fileBytes: 2_000_000, packedBytes: 500_000 },
    parameters: 475_000,
    layers: [layer("fc1", 0.01, 8), layer("fc2", 0.02, 8)],
    warnings: [],
    evaluation: [{ name: "accuracy", correct: 39, total: 40, baseline: 40 }],
    timeMs: 1234,
    ...overrides,
  };
}

function bundle(runs: CompressionReport[] = [run()]): ReportBundle {
  return { title: "test report", generator: "nncompress", createdAt: "2026-01-01T00:00:00Z", runs };
}

test("formatTable aligns columns by code points and right-aligns numbers", () => {
  const text = formatTable([["a", "n"], ["é→", "1"], ["bbb", "100"]], { align: ["left", "right"] });
  assert.deepEqual(text.split("\n"), ["a      n", "────────", "é→     1", "bbb  100"]);
});

test("summarizeRun weighs sparsity by elements and lists distinct bit-widths", () => {
  const s = summarizeRun(
    run({ layers: [layer("a", 0.5, null), layer("b", 0, 4), layer("c", 0.25, 8)] }),
  );
  assert.equal(s.targets, 3);
  assert.equal(s.sparsity, 0.25);
  assert.deepEqual(s.bits, [4, 8, 32]);
  assert.equal(s.packedRatio, 500_000 / 1_900_000);
});

test("formatRuns shows sizes before and after, the evaluation and the time", () => {
  const text = formatRuns([run()]);
  const line = text.split("\n")[2];
  assert.match(line, /^int8\s+model\.onnx\s+PtqQuantizer\s+2\s+1\.5%\s+8/);
  assert.match(line, /1\.90 MB → 500\.0 kB/);
  assert.match(line, /39\/40\s+1\.23 s$/);
});

test("formatLayers lists every tensor and a total line", () => {
  const lines = formatLayers(run()).split("\n");
  assert.equal(lines.length, 5);
  assert.match(lines[2], /^fc1\.weight\s+Linear\s+\[4, 4\]\s+0\.0%\s+1\.0%\s+int8\s+out_channel$/);
  assert.match(lines[4], /^total \(2 tensors\)\s+32\s+1\.5%\s+8$/);
});

test("renderHtml is self-contained: inline style and SVG, no scripts, no network", () => {
  const html = renderHtml(
    bundle([run(), run({ label: "pruned", mode: "pruning", layers: [layer("fc1", 0.5, null)] })]),
  );
  assert.match(html, /^<!doctype html>/);
  assert.match(html, /<style>/);
  assert.ok((html.match(/<svg/g) ?? []).length >= 6, "size, evaluation and per-layer charts");
  assert.doesNotMatch(html, /<script|<link|https?:\/\/|src=|@import|url\(/i);
});

test("renderHtml escapes every string that comes from the report", () => {
  const evil = '<img src=x onerror="alert(1)">';
  const html = renderHtml(
    bundle([run({ label: evil, model: evil, warnings: [evil], layers: [layer(evil, 0, 8)] })]),
  );
  assert.ok(!html.includes("<img"), "no raw tag from the data");
  assert.ok(html.includes("&#60;img src=x onerror=&#34;alert(1)&#34;&#62;"));
});

test("renderHtml draws sparsity and bit-width per layer with the values as text", () => {
  const html = renderHtml(bundle([run({ layers: [layer("blocks.0.fc", 0.5, 4)] })]));
  assert.match(html, /Sparsity per layer/);
  assert.match(html, /Bit-width per layer/);
  assert.match(html, />50\.0%</);
  assert.match(html, />int4 out_channel</);
  assert.match(html, /39\/40/);
});

test("reportJson and parseReport round-trip a bundle; a single run is wrapped", () => {
  const b = bundle();
  assert.deepEqual(parseReport(reportJson(b)), b);
  const single = parseReport(JSON.stringify(run()));
  assert.equal(single.runs.length, 1);
  assert.equal(single.title, "int8");
});

test("reportJson writes non-finite numbers as null", () => {
  const text = reportJson(bundle([run({ timeMs: Number.NaN })]));
  assert.equal(JSON.parse(text).runs[0].timeMs, null);
});

test("parseReport names the path of a missing or mistyped field", () => {
  assert.throws(
    () => parseReport('{"runs": 3}'),
    /report runs must be an array: current value is 3/,
  );
  const broken = { ...run(), before: { fileBytes: "1" } };
  assert.throws(
    () => parseReport(JSON.stringify({ runs: [broken] })),
    /runs\[0\]\.before must be \{ fileBytes, packedBytes \} numbers/,
  );
  assert.throws(() => parseReport("{"), SyntaxError);
});

test("writeReport writes HTML or JSON by extension and nothing for another extension", async () => {
  const dir = tempDir("nncompress-report-");
  await writeReport(join(dir, "r.html"), bundle());
  await writeReport(join(dir, "r.json"), bundle());
  await assert.rejects(() => writeReport(join(dir, "r.txt"), bundle()), RangeError);
  assert.deepEqual(readdirSync(dir).sort(), ["r.html", "r.json"]);
  assert.match(readFileSync(join(dir, "r.html"), "utf8"), /<title>test report<\/title>/);
  assert.equal(JSON.parse(readFileSync(join(dir, "r.json"), "utf8")).runs.length, 1);
});
