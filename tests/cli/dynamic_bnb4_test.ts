import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { cli, CLS, tempDir } from "./_run.ts";

// Each spawns the CLI (Bun's default test timeout is 5 s).
const SLOW = { timeout: 120_000 };

const Q8 = JSON.stringify([{
  op_types: ["Conv2d", "Linear"],
  target_names: ["weight"],
  quant_dtype: "int8",
  quant_scheme: "symmetric",
  granularity: "per_channel",
}]);

test(
  "quantize --storage dynamic --uint8-when-conv writes uint8 ConvInteger and MatMulInteger and keeps the classifier",
  SLOW,
  async () => {
    const out = join(tempDir(), "cls.q8.onnx");
    const r = await cli(
      "quantize",
      CLS,
      "-c",
      Q8,
      "--storage",
      "dynamic",
      "--uint8-when-conv",
      "-o",
      out,
      "--eval",
      "--json",
    );
    assert.equal(r.code, 0, r.stderr);
    const { report } = JSON.parse(r.stdout);
    assert.equal(report.storage, "dynamic");
    assert.ok(
      report.layers.every((l: { granularity: string }) => l.granularity.startsWith("uint8")),
    );
    assert.match(
      report.warnings.join("\n"),
      /weights are stored as uint8: the model has a Conv node/,
    );
    const onnx = decodeOnnx(readFileSync(out));
    const ops = onnx.graph.nodes.map((n) => n.opType);
    assert.ok(ops.includes("ConvInteger") && ops.includes("MatMulInteger"), ops.join(","));
    assert.ok(
      onnx.tensors.filter((t) => t.name.endsWith("_quantized")).every((t) => t.dtype === "U8"),
    );
    const e = report.evaluation[0];
    assert.equal(e.total, 40);
    assert.ok(e.correct >= e.baseline - 1, `${e.correct}/40, original ${e.baseline}/40`);
  },
);

test(
  "quantize --storage bnb4 writes MatMulBnb4 with --block-size and --bnb4-type",
  SLOW,
  async () => {
    const out = join(tempDir(), "cls.bnb4.onnx");
    const config = JSON.stringify([{
      op_types: ["Linear"],
      target_names: ["weight"],
      quant_dtype: "int4",
    }]);
    const r = await cli(
      "quantize",
      CLS,
      "-c",
      config,
      "--storage",
      "bnb4",
      "--block-size",
      "32",
      "--bnb4-type",
      "fp4",
      "-o",
      out,
      "--json",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).report.layers[0].granularity, "fp4 blocks of 32");
    const node = decodeOnnx(readFileSync(out)).graph.nodes.find((n) => n.opType === "MatMulBnb4")!;
    assert.deepEqual(
      node.attributes.map((a) => [a.name, a.i]),
      [["K", 200], ["N", 2], ["block_size", 32], ["quant_type", 0]],
    );
  },
);

test(
  "the dynamic and bnb4 options are refused without their storage, and bad lists get a hint",
  SLOW,
  async () => {
    const dir = tempDir();
    const o = join(dir, "x.onnx");
    const cases: [string[], RegExp][] = [
      [["--uint8-when-conv"], /--uint8-when-conv goes with --storage dynamic/],
      [["--storage", "int", "--reduce-range"], /--reduce-range goes with --storage dynamic/],
      [["--storage", "dynamic", "--bnb4-type", "nf4"], /--bnb4-type goes with --storage bnb4/],
      [
        ["--storage", "bnb4", "--bnb4-type", "nf3"],
        /--bnb4-type must be nf4 or fp4: current value is nf3/,
      ],
      [
        ["--storage", "dynamic", "--block-size", "64"],
        /--block-size goes with --storage nbits or bnb4/,
      ],
    ];
    for (const [extra, message] of cases) {
      const r = await cli("quantize", CLS, "-c", Q8, "-o", o, ...extra);
      assert.equal(r.code, 2, `${extra.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const int4 = Q8.replace('"int8"', '"int4"');
    const refused = await cli("quantize", CLS, "-c", int4, "--storage", "dynamic", "-o", o);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /"quant_dtype" must be int8 or uint8: current value is "int4"/);
    assert.match(refused.stderr, /hint: dynamic storage takes MatMul and Conv weights/);
  },
);
