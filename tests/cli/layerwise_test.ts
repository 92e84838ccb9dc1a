// GPTQ and SparseGPT driven by config lists from the CLI, on the real classifier.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, CLS, mlpSafetensors, tempDir } from "./_run.ts";
import { decodeOnnx, onnxModel, readSafetensors, writeSafetensors } from "../../mod.ts";

const INT4 = JSON.stringify([{
  op_types: ["Conv2d", "Linear"],
  target_names: ["weight"],
  quant_dtype: "int4",
  granularity: "per_channel",
}]);

test("quantize -a GPTQ int4 keeps the classifier's accuracy and reports every layer it processed", async () => {
  const dir = tempDir();
  const out = join(dir, "cls.gptq.onnx");
  const json = join(dir, "r.json");
  const r = await cli(
    "quantize",
    CLS,
    "-c",
    INT4,
    "-a",
    "GPTQ",
    "--calibration",
    "ocr-lines:8",
    "-o",
    out,
    "-r",
    json,
    "--eval",
  );
  assert.equal(r.code, 0, r.stderr);
  const run = JSON.parse(readFileSync(json, "utf8")).runs[0];
  assert.equal(run.algorithm, "GPTQ");
  assert.ok(run.layers.length > 10 && run.layers.every((l: { bits: number }) => l.bits === 4));
  assert.ok(run.evaluation[0].correct >= 38, JSON.stringify(run.evaluation));
  // Depthwise convolutions are processed too (one layer per group): none is left as it is.
  assert.doesNotMatch(run.warnings.join("\n"), /GPTQ leaves "conv2d_\d+" as it is/);
  assert.ok(run.layers.some((l: { module: string }) => l.module === "conv2d_2"));
  // Written as QDQ (the default storage): GPTQ's codes as 4-bit initializers, one
  // DequantizeLinear per processed weight.
  assert.equal(run.storage, "qdq");
  const model = decodeOnnx(new Uint8Array(readFileSync(out)));
  const dq = model.graph.nodes.filter((n) => n.opType === "DequantizeLinear");
  assert.equal(dq.length, run.layers.length);
  const codes = model.tensors.find((t) => t.name === dq[0].inputs[0])!;
  assert.equal(codes.dataType, 21); // UINT4
  assert.ok(run.after.fileBytes < 0.45 * run.before.fileBytes, JSON.stringify(run.after));
});

test("quantize -a GPTQ and prune -a SparseGPT on safetensors with each layer's input rows", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "m.safetensors"), mlpSafetensors());
  const rows = (n: number, cols: number, seed: number) =>
    Float32Array.from({ length: n * cols }, (_, i) => Math.cos(seed + i * 0.37) * 2);
  writeFileSync(
    join(dir, "inputs.safetensors"),
    writeSafetensors([
      { name: "fc1.input", dtype: "F32", shape: [32, 6], data: rows(32, 6, 1) },
      { name: "fc2.input", dtype: "F32", shape: [32, 8], data: rows(32, 8, 2) },
    ]),
  );
  const json = join(dir, "r.json");
  const q = await cli(
    "quantize",
    join(dir, "m.safetensors"),
    "-c",
    '[{"op_types":["Linear"],"target_names":["weight"],"quant_dtype":"int4","granularity":"per_channel"}]',
    "-a",
    "GPTQ",
    "--calibration",
    join(dir, "inputs.safetensors"),
    "-o",
    join(dir, "q.safetensors"),
    "-r",
    json,
  );
  assert.equal(q.code, 0, q.stderr);
  const run = JSON.parse(readFileSync(json, "utf8")).runs[0];
  assert.equal(run.storage, "compressed-tensors");
  assert.equal(run.layers.length, 2);
  const names = readSafetensors(new Uint8Array(readFileSync(join(dir, "q.safetensors"))))
    .tensors.map((t) => t.name).sort();
  assert.ok(names.includes("fc1.weight_packed") && names.includes("fc2.weight_scale"), `${names}`);
  const p = await cli(
    "prune",
    join(dir, "m.safetensors"),
    "-c",
    '[{"op_types":["Linear"],"sparse_ratio":0.5}]',
    "-a",
    "SparseGPT",
    "--pattern",
    "2:4",
    "--calibration",
    join(dir, "inputs.safetensors"),
    "-o",
    join(dir, "p.safetensors"),
  );
  assert.equal(p.code, 0, p.stderr);
  const fc2 = readSafetensors(new Uint8Array(readFileSync(join(dir, "p.safetensors")))).tensors
    .find((t) => t.name === "fc2.weight")!;
  const w = new Float32Array(fc2.data.slice().buffer);
  for (let g = 0; g < w.length; g += 4) {
    assert.ok([...w.subarray(g, g + 4)].filter((v) => v === 0).length >= 2, `group ${g}`);
  }
});

test("prune -a SparseGPT --pattern 2:4 zeroes two of every four input weights", async () => {
  const dir = tempDir();
  const out = join(dir, "cls.24.onnx");
  const json = join(dir, "r.json");
  const c = JSON.stringify([{ op_types: ["Conv2d"], sparse_ratio: 0.5 }]);
  const r = await cli(
    "prune",
    CLS,
    "-c",
    c,
    "-a",
    "SparseGPT",
    "--pattern",
    "2:4",
    "--calibration",
    "ocr-lines:8",
    "-o",
    out,
    "-r",
    json,
    "--eval",
  );
  assert.equal(r.code, 0, r.stderr);
  const run = JSON.parse(readFileSync(json, "utf8")).runs[0];
  assert.equal(run.algorithm, "SparseGPT");
  assert.equal(run.evaluation[0].total, 40);
  const layer =
    run.layers.find((l: { shape: number[] }) =>
      (l.shape?.[1] ?? 0) * (l.shape?.[2] ?? 1) * (l.shape?.[3] ?? 1) % 4 === 0
    ) ?? run.layers[0];
  const model = onnxModel(decodeOnnx(new Uint8Array(readFileSync(out))));
  const ref = model.modules.find((m) => m.name === layer.module)!.params.weight;
  const w = await ref.data();
  const cols = w.length / ref.shape[0];
  let zeros = 0;
  for (const v of w) if (v === 0) zeros++;
  if (cols % 4 === 0) {
    assert.ok(zeros >= w.length / 2, `${layer.module}: ${zeros} of ${w.length} zero`);
  }
});

test("the layer-by-layer methods say what they need", async () => {
  const dir = tempDir();
  const none = await cli("quantize", CLS, "-c", INT4, "-a", "GPTQ", "-o", join(dir, "x.onnx"));
  assert.equal(none.code, 2);
  assert.match(none.stderr, /GPTQ needs --calibration/);
  const pattern = await cli(
    "prune",
    CLS,
    "-c",
    '[{"op_types":["Conv2d"],"sparse_ratio":0.5}]',
    "--pattern",
    "2:4",
    "-o",
    join(dir, "x.onnx"),
  );
  assert.equal(pattern.code, 2);
  assert.match(pattern.stderr, /--pattern .* goes with prune -a SparseGPT/);
  const bad = await cli(
    "prune",
    CLS,
    "-c",
    '[{"op_types":["Conv2d"],"sparse_ratio":0.5}]',
    "-a",
    "SparseGPT",
    "--pattern",
    "4:2",
    "--calibration",
    "ocr-lines:2",
    "-o",
    join(dir, "x.onnx"),
  );
  assert.equal(bad.code, 2);
  writeFileSync(join(dir, "m.safetensors"), mlpSafetensors());
  const st = await cli(
    "quantize",
    join(dir, "m.safetensors"),
    "-c",
    INT4,
    "-a",
    "GPTQ",
    "--calibration",
    "ocr-lines:2",
    "-o",
    join(dir, "o.safetensors"),
  );
  assert.equal(st.code, 2, st.stderr);
  assert.match(st.stderr, /GPTQ on a safetensors model takes each Linear module's input rows/);
  const flags = [
    [["quantize", "--act-order"], /--act-order goes with quantize -a GPTQ/],
    [
      ["quantize", "-a", "GPTQ", "--calibration", "ocr-lines:2", "--static-groups"],
      /--static-groups goes with --act-order/,
    ],
  ] as const;
  for (const [args, message] of flags) {
    const r = await cli(args[0], CLS, "-c", INT4, ...args.slice(1), "-o", join(dir, "f.onnx"));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
  }
});

test("prune -a SparseGPT at 30% keeps the classifier's accuracy", async () => {
  const dir = tempDir();
  const json = join(dir, "r.json");
  const c = JSON.stringify([{ op_types: ["Conv2d"], sparse_ratio: 0.3 }]);
  const r = await cli(
    "prune",
    CLS,
    "-c",
    c,
    "-a",
    "SparseGPT",
    "--calibration",
    "ocr-lines:8",
    "-o",
    join(dir, "o.onnx"),
    "-r",
    json,
    "--eval",
  );
  assert.equal(r.code, 0, r.stderr);
  const run = JSON.parse(readFileSync(json, "utf8")).runs[0];
  assert.ok(run.evaluation[0].correct >= 36, JSON.stringify(run.evaluation));
  // SparseGPT picks its mask per block of columns, so small layers land away from the ratio;
  // over the model it is the ratio.
  let zeros = 0;
  let all = 0;
  for (const l of run.layers) {
    const n = (l.shape as number[]).reduce((a, b) => a * b, 1);
    zeros += l.sparsity * n;
    all += n;
  }
  assert.ok(Math.abs(zeros / all - 0.3) < 0.02, `${zeros / all}`);
});
