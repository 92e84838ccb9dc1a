// A model of 150,000 nodes through the code that formats one row per module or target: no
// function may receive the rows as spread arguments (`Math.max(...rows)` overflows the call stack
// near 120,000 arguments on V8 and JavaScriptCore).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import process from "node:process";
import { join } from "node:path";
import { formatExplain } from "../../src/config/format_explain.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { inspect } from "../../src/model/inspect.ts";
import { moduleInfos } from "../../src/model/module_infos.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { formatPruningReport } from "../../src/pruning/format_pruning_report.ts";
import { formatTable } from "../../src/report/format_table.ts";
import { graph, model, node, tensor, valueInfo } from "../io/_onnx_builder.ts";
import { ROOT, tempDir } from "../cli/_run.ts";

const NODES = 150_000;
const SLOW = { timeout: 120_000 };

/** `x -> MatMul(w0) -> MatMul(w1) -> ...`, each weight a [1, 1] initializer of 1. */
function chain(n: number): Uint8Array {
  const one = new Float32Array([1]);
  const nodes: Uint8Array[] = [];
  const initializers: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    nodes.push(node("MatMul", [i === 0 ? "x" : `h${i}`, `w${i}`], [`h${i + 1}`], `mm${i}`));
    initializers.push(tensor({ name: `w${i}`, dims: [1, 1], raw: one }));
  }
  return model(graph({
    nodes,
    initializers,
    inputs: [valueInfo("x", [1, 1])],
    outputs: [valueInfo(`h${n}`, [1, 1])],
  }));
}

const bytes = chain(NODES);
const graphModel = onnxModel(decodeOnnx(bytes));

test(`inspect() and formatTable() list a model of ${NODES} nodes`, SLOW, () => {
  assert.equal(graphModel.modules.length, NODES);
  const summary = inspect(graphModel);
  assert.equal(summary.modules.length, NODES);
  assert.equal(summary.elements, NODES);
  const lines = summary.text.split("\n");
  assert.equal(lines.length, NODES + 2); // header, one row per module, total
  assert.match(lines[NODES], /^w149999\s/);
  const table = formatTable(summary.modules.map((m) => [m.name, m.type]));
  assert.equal(table.split("\n").length, NODES + 1); // the first row is the header
});

test(`formatExplain() and formatPruningReport() tabulate ${NODES} targets`, SLOW, () => {
  // The explanation is built by hand: resolving 150,000 modules takes several seconds.
  const modules = moduleInfos(graphModel);
  const setting = { sparse_ratio: 0.5 };
  const text = formatExplain({
    mode: "pruning",
    legacy: false,
    options: {},
    configs: [{
      index: 0,
      modules: modules.map((m) => ({
        name: m.name,
        type: m.type,
        targets: [{
          target: "weight",
          kind: "parameter",
          canonical: setting,
          final: setting,
          from: 0,
          used: true,
        }],
      })),
    }],
    targets: [],
    warnings: [],
    issues: [],
  });
  const lines = text.split("\n");
  assert.equal(lines[2], "[0] selects 150000 modules");
  assert.equal(lines.length, NODES + 4);
  assert.match(lines[NODES + 3], /^ {2}w149999\s+Linear\s+weight\s+\[0\]\s+sparse_ratio=0\.5$/);
  const report = formatPruningReport({
    targets: modules.map((m) => ({
      module: m.name,
      target: "weight",
      shape: [1, 1],
      granularity: "default",
      applyMethod: "mul",
      kept: 1,
      total: 1,
      sparsity: 0,
      masked: true,
    })),
    totals: { kept: NODES, total: NODES, sparsity: 0 },
    warnings: [],
  });
  assert.equal(report.split("\n").length, NODES + 2);
});

test(`the CLI inspects a model of ${NODES} nodes`, SLOW, async () => {
  const path = join(tempDir(), "chain.onnx");
  writeFileSync(path, bytes);
  // The listing is about 10 MB: more than the 1 MB execFile keeps by default.
  const argv = "Bun" in globalThis ? [] : ["run", "-A"];
  const { code, stdout, stderr } = await new Promise<
    { code: number; stdout: string; stderr: string }
  >(
    (resolve) => {
      execFile(
        process.execPath,
        [...argv, `${ROOT}cli.ts`, "inspect", path],
        {
          cwd: ROOT,
          timeout: 120_000,
          maxBuffer: 64 << 20,
          env: { ...process.env, NO_COLOR: "1" },
        },
        (error, out, err) =>
          resolve({
            code: error ? (typeof error.code === "number" ? error.code : 1) : 0,
            stdout: String(out),
            stderr: String(err),
          }),
      );
    },
  );
  assert.equal(stderr, "");
  assert.equal(code, 0);
  assert.match(stdout, new RegExp(`${NODES} modules`));
  assert.match(stdout, /^w149999\s/m);
});
