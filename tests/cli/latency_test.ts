// Latency in every evaluation: `eval` and `--eval` time the original and the result in
// onnxruntime-node (and onnxruntime-web with --backend web|both), with --runs and --threads, and
// the report carries the figures beside size and fidelity.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseReport } from "../../src/report/parse_report.ts";
import { renderHtml } from "../../src/report/render_html.ts";
import { formatRuns } from "../../src/report/format_runs.ts";
import { cli, CLS, tempDir } from "./_run.ts";

const SLOW = { timeout: 120_000 };

test(
  "eval times the model and its reference on both backends: median of --runs, one thread",
  SLOW,
  async () => {
    const r = await cli(
      "eval",
      CLS,
      "--reference",
      CLS,
      "--runs",
      "3",
      "--backend",
      "both",
      "--json",
    );
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.correct, 40);
    assert.deepEqual(out.latency.map((l: { backend: string }) => l.backend), ["node", "web"]);
    for (const l of out.latency) {
      assert.deepEqual([l.runs, l.warmup, l.threads], [3, 2, 1]);
      assert.equal(l.input, "labelled line 0, x [1, 3, 48, 192]");
      assert.ok(
        l.resultMs > 0 && l.originalMs > 0 && l.resultMinMs <= l.resultMs,
        JSON.stringify(l),
      );
    }
    assert.equal(out.fileBytes, out.referenceBytes);
    // the text: size, latency and accuracy side by side, then how the time was taken
    const t = await cli("eval", CLS, "--reference", CLS, "--runs", "2", "--threads", "2");
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /file size\s+579\.0 kB\s+579\.0 kB\s+1\.00x/);
    assert.match(t.stdout, /latency, node \(median\)\s+[\d.]+ ms\s+[\d.]+ ms\s+[\d.]+x/);
    assert.match(t.stdout, /classifier accuracy\s+40\/40\s+40\/40/);
    assert.match(t.stdout, /onnxruntime-node: 2 threads, median of 2 runs after 2 warm-up/);
    // --runs 0: no timing
    const none = await cli("eval", CLS, "--runs", "0", "--json");
    assert.equal(none.code, 0, none.stderr);
    assert.deepEqual(JSON.parse(none.stdout).latency, []);
  },
);

test(
  "--eval puts the latency into the report JSON and HTML, and the runs table",
  SLOW,
  async () => {
    const dir = tempDir();
    try {
      const json = join(dir, "r.json");
      const list =
        '[{"op_types":["Conv2d"],"target_names":["weight"],"quant_dtype":"int8","granularity":"per_channel"}]';
      const r = await cli(
        "quantize",
        CLS,
        "-c",
        list,
        "-o",
        join(dir, "q.onnx"),
        "--eval",
        "--runs",
        "2",
        "-r",
        json,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /latency, node \(median\)/);
      const bundle = parseReport(readFileSync(json, "utf8"));
      const [l] = bundle.runs[0].latency!;
      assert.equal(l.backend, "node");
      assert.ok(l.originalMs! > 0 && l.resultMs > 0);
      assert.match(formatRuns(bundle.runs).split("\n")[0], /eval\s+latency\s+time/);
      assert.match(formatRuns(bundle.runs), /node [\d.]+ → [\d.]+ ms \([\d.]+x\)/);
      const html = renderHtml(bundle);
      assert.match(html, /<h2>Latency<\/h2>/);
      assert.match(html, /2 runs after 2 warm-up/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("latency flags are checked before any work", async () => {
  const bad = await cli("eval", CLS, "--backend", "gpu");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--backend must be node, web or both: current value is gpu/);
  const runs = await cli("eval", CLS, "--runs=1.5");
  assert.equal(runs.code, 2);
  assert.match(runs.stderr, /--runs must be an integer >= 0: current value is 1.5/);
  const stray = await cli("quantize", CLS, "-c", "[]", "-o", "x.onnx", "--runs", "3");
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /--runs goes with --eval/);
});
