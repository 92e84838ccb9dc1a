import { test } from "node:test";
import assert from "node:assert/strict";
import { ModelFormatError } from "../../src/io/model_format_error.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { encodeOnnx } from "../../src/io/onnx/encode_onnx.ts";
import { readOnnxValues } from "../../src/io/onnx/read_onnx_values.ts";
import { cat, graph, model, node, str, tensor, valueInfo } from "./_onnx_builder.ts";
import { loadOrt } from "./_ocr.ts";

/** Generous per-test limit: these tests run models and load the shared machine. */
const SLOW = { timeout: 120_000 };

/** A model whose output `y` is `Cast(to FLOAT)` of initializer `t`. */
function castModel(t: Uint8Array, dims: number[], opset = 21): Uint8Array {
  return model(
    graph({
      nodes: [node("Cast", ["t"], ["y"], "cast", [cat([str(1, "to"), [0xa0, 1, 2], [0x18, 1]])])],
      initializers: [t],
      outputs: [valueInfo("y", dims)],
    }),
    { opset },
  );
}

async function values(bytes: Uint8Array): Promise<number[]> {
  const onnx = decodeOnnx(bytes);
  return [...await readOnnxValues(onnx, onnx.tensors[0])];
}

async function ortValues(bytes: Uint8Array): Promise<number[]> {
  const ort = await loadOrt();
  const session = await ort.InferenceSession.create(bytes);
  return [...(await session.run({})).y.data as Float32Array];
}

const CODES = Uint8Array.from({ length: 256 }, (_, i) => i);

test("4-bit tensors read as numbers, packed low nibble first, raw or in int32_data", async () => {
  const packed = new Uint8Array([0x81, 0xf7, 0x0e]); // 1, 8, 7, 15, 14 (and an unused nibble)
  const int4 = tensor({ name: "t", dims: [5], dataType: 22, raw: packed });
  assert.deepEqual(await values(castModel(int4, [5])), [1, -8, 7, -1, -2]);
  const uint4 = tensor({ name: "t", dims: [5], dataType: 21, int32Data: [...packed] });
  assert.deepEqual(await values(castModel(uint4, [5])), [1, 8, 7, 15, 14]);
  const fp4 = tensor({ name: "t", dims: [4], dataType: 23, raw: new Uint8Array([0x71, 0xf9]) });
  assert.deepEqual(await values(castModel(fp4, [4])), [0.5, 6, -0.5, -6]);
});

test("onnxruntime reads INT4, UINT4 and FLOAT8 tensors with the same values", SLOW, async () => {
  const nibbles = Uint8Array.from({ length: 8 }, (_, i) => (2 * i) | ((2 * i + 1) << 4));
  for (const dataType of [21, 22]) {
    const bytes = castModel(tensor({ name: "t", dims: [16], dataType, raw: nibbles }), [16]);
    assert.deepEqual(await values(bytes), await ortValues(bytes));
  }
  for (const dataType of [17, 18, 19, 20]) {
    const bytes = castModel(tensor({ name: "t", dims: [256], dataType, raw: CODES }), [256]);
    const ours = await values(bytes);
    const theirs = await ortValues(bytes);
    ours.forEach((v, i) =>
      assert.ok(
        Object.is(v, theirs[i]) || v === theirs[i],
        `${dataType} code ${i}: ${v} vs ${theirs[i]}`,
      )
    );
  }
});

test("FLOAT8 FNUZ codes have bias 8 and 16, no infinities, and 0x80 as NaN", async () => {
  const at = (dataType: number) =>
    values(castModel(tensor({ name: "t", dims: [256], dataType, raw: CODES }), [256]));
  const e4m3 = await at(18);
  assert.deepEqual([e4m3[0x7f], e4m3[0x01], e4m3[0x40], e4m3[0xff]], [240, 2 ** -10, 1, -240]);
  assert.ok(Number.isNaN(e4m3[0x80]));
  const e5m2 = await at(20);
  assert.deepEqual([e5m2[0x7f], e5m2[0x01], e5m2[0x40]], [57344, 2 ** -17, 1]);
});

test("a wrong raw_data length for a 4-bit tensor is a ModelFormatError", () => {
  const t = tensor({ name: "t", dims: [5], dataType: 22, raw: new Uint8Array(2) });
  assert.throws(
    () => decodeOnnx(castModel(t, [5])),
    (e: unknown) =>
      e instanceof ModelFormatError &&
      /raw_data has 2 bytes but data type 22 \[5\] needs 3/.test(e.message),
  );
});

test("STRING tensors are kept byte for byte and rejected when read as numbers", async () => {
  const strings = cat([[0x08, 2, 0x10, 8], str(8, "s"), str(6, "ab"), str(6, "c")]);
  const bytes = model(graph({
    nodes: [node("Identity", ["w"], ["y"])],
    initializers: [strings, tensor({ name: "w", dims: [1], raw: new Float32Array([1]) })],
    outputs: [valueInfo("y", [1])],
  }));
  const onnx = decodeOnnx(bytes);
  assert.equal(onnx.tensors[0].dataType, 8);
  await assert.rejects(
    readOnnxValues(onnx, onnx.tensors[0]),
    (e: unknown) => e instanceof TypeError && /"s" has ONNX data type STRING/.test(e.message),
  );
  const w = new Uint8Array(new Float32Array([2]).buffer);
  const out = encodeOnnx(onnx, new Map([["w", { bytes: w }]]));
  const back = decodeOnnx(out);
  const span = (m: typeof onnx) =>
    m.bytes.subarray(m.tensors[0].span.tagStart, m.tensors[0].span.end);
  assert.deepEqual(span(back), span(onnx));
  assert.deepEqual(encodeOnnx(onnx, new Map()), bytes);
});
