import { test } from "node:test";
import assert from "node:assert/strict";
import { readSafetensors } from "../../src/io/safetensors/read_safetensors.ts";
import { openSafetensors } from "../../src/io/safetensors/open_safetensors.ts";
import { writeSafetensors } from "../../src/io/safetensors/write_safetensors.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { readOnnxTensor } from "../../src/io/onnx/read_onnx_tensor.ts";
import { bytesSource } from "../../src/io/random_access.ts";
import { ModelFormatError } from "../../src/io/model_format_error.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { safetensorsModel } from "../../src/model/safetensors_model.ts";
import { toFloat32 } from "../../src/model/to_float32.ts";
import { readOnnxValues } from "../../src/io/onnx/read_onnx_values.ts";
import {
  attr,
  f32s,
  graph,
  model,
  node,
  sparseTensor,
  tensor,
  valueInfo,
} from "./_onnx_builder.ts";
import { mutate, random } from "./_mutate.ts";

/** Generous per-test limit: these tests run models and load the shared machine. */
const SLOW = { timeout: 120_000 };

const RUNS = 2000;

function expectOnlyModelFormatErrors(e: unknown, i: number): void {
  if (!(e instanceof ModelFormatError)) assert.fail(`mutation ${i}: ${(e as Error)?.stack ?? e}`);
}

const SAFETENSORS = writeSafetensors([
  { name: "a.weight", dtype: "F32", shape: [2, 3], data: f32s(6, (i) => i) },
  { name: "a.bias", dtype: "BF16", shape: [2], data: new Uint16Array([0x3f80, 0x4000]) },
  { name: "b", dtype: "I64", shape: [1], data: new BigInt64Array([7n]) },
  { name: "c", dtype: "F8_E4M3", shape: [3], data: new Uint8Array([1, 2, 3]) },
  { name: "d", dtype: "BOOL", shape: [0], data: new Uint8Array(0) },
], { metadata: { format: "pt" } });

test(`readSafetensors() throws only ModelFormatError on ${RUNS} mutated files`, SLOW, () => {
  const rnd = random(1);
  let ok = 0;
  for (let i = 0; i < RUNS; i++) {
    const bytes = mutate(SAFETENSORS, rnd, 200);
    try {
      const file = readSafetensors(bytes);
      for (const t of file.tensors) toFloat32(t.data, t.dtype);
      safetensorsModel(file);
      ok++;
    } catch (e) {
      expectOnlyModelFormatErrors(e, i);
    }
  }
  assert.ok(ok < RUNS, "some mutations must be rejected");
});

test("openSafetensors() throws only ModelFormatError on 300 mutated files", SLOW, async () => {
  const rnd = random(2);
  for (let i = 0; i < 300; i++) {
    const bytes = mutate(SAFETENSORS, rnd, 200);
    try {
      const lazy = await openSafetensors(bytesSource(bytes));
      for (const e of lazy.entries) await lazy.read(e.name);
    } catch (e) {
      expectOnlyModelFormatErrors(e, i);
    }
  }
});

const ONNX = model(
  graph({
    nodes: [
      node("Constant", [], ["k"], "", [
        attr("value", { t: tensor({ dims: [2], floatData: [1, 2] }) }),
      ]),
      node("MatMul", ["x", "w"], ["h"], "/fc/MatMul"),
      node("Add", ["h", "b"], ["y"], "/fc/Add"),
      node("If", ["c"], ["z"], "if", [
        attr("then_branch", {
          g: graph({
            nodes: [node("Identity", ["k"], ["t"])],
            initializers: [tensor({ name: "i", dims: [1], int32Data: [-3], dataType: 6 })],
            outputs: [valueInfo("t", [2])],
          }),
        }),
      ]),
      node("Conv", ["y", "cw"], ["o"], "", [attr("pads", { ints: [0, 0] })]),
    ],
    initializers: [
      tensor({ name: "w", dims: [2, 2], raw: f32s(4, (i) => i) }),
      tensor({ name: "b", dims: [2], dataType: 10, raw: new Uint16Array([0x3c00, 0x4000]) }),
      tensor({ name: "cw", dims: [1, 1, 1], int64Data: [5], dataType: 7 }),
    ],
    inputs: [valueInfo("x", [1, 2])],
    outputs: [valueInfo("y", [1, 2])],
  }),
  { metadata: { k: "v" } },
);

test(
  `decodeOnnx() and onnxModel() throw only ModelFormatError on ${RUNS} mutated files`,
  SLOW,
  async () => {
    const rnd = random(3);
    let ok = 0;
    const external = () => bytesSource(new Uint8Array(16));
    for (let i = 0; i < RUNS; i++) {
      const bytes = mutate(ONNX, rnd);
      try {
        const onnx = decodeOnnx(bytes);
        for (const t of onnx.tensors) {
          if (t.dtype !== undefined) await readOnnxTensor(onnx, t, { external });
        }
        for (const m of onnxModel(onnx, { external }).modules) {
          for (const p of Object.values(m.params)) await p.data();
        }
        ok++;
      } catch (e) {
        expectOnlyModelFormatErrors(e, i);
      }
    }
    assert.ok(ok > 0 && ok < RUNS, `${ok} of ${RUNS} decoded`);
  },
);

test(
  "decodeOnnx() throws only ModelFormatError on 1000 mutations of the real classifier",
  SLOW,
  async () => {
    const { readFile } = await import("../../src/io/fs.ts");
    const { CLS } = await import("./_ocr.ts");
    const bytes = await readFile(CLS);
    const rnd = random(4);
    for (let i = 0; i < 1000; i++) {
      try {
        onnxModel(decodeOnnx(mutate(bytes, rnd, 4096)));
      } catch (e) {
        expectOnlyModelFormatErrors(e, i);
      }
    }
  },
);

const ONNX_TYPES = model(graph({
  nodes: [
    node("LSTM", ["x", "W", "R", "B"], ["y"], "/rnn/LSTM", [attr("hidden_size", { i: 1 })]),
    node("Unsqueeze", ["wt", "axes"], ["W"]),
    node("MatMul", ["y", "S"], ["z"], "/fc/MatMul"),
  ],
  initializers: [
    tensor({ name: "wt", dims: [4, 1], raw: f32s(4, (i) => i) }),
    tensor({ name: "axes", dims: [1], dataType: 7, int64Data: [0] }),
    tensor({ name: "R", dims: [1, 4, 1], raw: f32s(4, (i) => -i) }),
    tensor({ name: "B", dims: [1, 8], dataType: 10, raw: new Uint16Array(8).fill(0x3c00) }),
    tensor({ name: "q", dims: [3], dataType: 22, raw: new Uint8Array([0x1f, 0x07]) }),
    tensor({ name: "f", dims: [2], dataType: 18, int32Data: [0x7f, 0x80] }),
  ],
  sparseInitializers: [
    sparseTensor(
      tensor({ name: "S", dims: [2], raw: f32s(2, (i) => i + 1) }),
      tensor({ dims: [2, 2], dataType: 7, int64Data: [0, 1, 1, 0] }),
      [2, 2],
    ),
    sparseTensor(
      tensor({ name: "T", dims: [1], dataType: 3, int32Data: [-2] }),
      tensor({ dims: [1], dataType: 7, raw: new BigInt64Array([3n]) }),
      [4],
    ),
  ],
  inputs: [valueInfo("x", [1, 1, 1])],
  outputs: [valueInfo("z", [1, 2])],
}));

test(
  `readOnnxValues() throws only ModelFormatError on ${RUNS} mutated sparse, 4-bit, FLOAT8 and LSTM models`,
  SLOW,
  async () => {
    const rnd = random(5);
    let ok = 0;
    for (let i = 0; i < RUNS; i++) {
      const bytes = mutate(ONNX_TYPES, rnd);
      try {
        const onnx = decodeOnnx(bytes);
        for (const t of onnx.tensors) {
          const numeric = t.dtype !== undefined ||
            (t.storage.kind !== "sparse" && t.dataType >= 18 && t.dataType <= 23);
          if (numeric) await readOnnxValues(onnx, t);
        }
        for (const m of onnxModel(onnx).modules) {
          for (const p of Object.values(m.params)) await p.data();
        }
        ok++;
      } catch (e) {
        expectOnlyModelFormatErrors(e, i);
      }
    }
    assert.ok(ok > 0 && ok < RUNS, `${ok} of ${RUNS} decoded`);
  },
);
