import { test } from "node:test";
import assert from "node:assert/strict";
import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
import { openSafetensors } from "../io/safetensors/open_safetensors.ts";
import { type SafetensorsInput, writeSafetensors } from "../io/safetensors/write_safetensors.ts";
import { bytesSource } from "../io/random_access.ts";
import { referenceKernels } from "../kernels/reference.ts";
import { inferModuleType, overrideModuleType } from "./infer_module_type.ts";
import { safetensorsModel } from "./safetensors_model.ts";
import { inspect } from "./inspect.ts";
import { invertPermutation, permute } from "./permute.ts";
import { toFloat32 } from "./to_float32.ts";

const f32 = (name: string, shape: number[]): SafetensorsInput => ({
  name,
  dtype: "F32",
  shape,
  data: new Float32Array(shape.reduce((a, b) => a * b, 1)).map((_, i) => i),
});

const NET = [
  f32("embed_tokens.weight", [10, 4]),
  f32("conv.weight", [8, 3, 3, 3]),
  f32("conv.bias", [8]),
  f32("bn.weight", [8]),
  f32("bn.bias", [8]),
  f32("bn.running_mean", [8]),
  f32("bn.running_var", [8]),
  f32("conv1d.weight", [4, 4, 3]),
  f32("ln.weight", [4]),
  f32("ln.bias", [4]),
  f32("final_norm.weight", [4]),
  f32("head.weight", [5, 4]),
  f32("scale", [1]),
];

test("safetensorsModel() infers module types from parameter names and shapes", () => {
  const model = safetensorsModel(readSafetensors(writeSafetensors(NET)));
  const types = Object.fromEntries(model.modules.map((m) => [m.name, m.type]));
  assert.deepEqual(types, {
    "conv": "Conv2d",
    "bn": "BatchNorm2d",
    "conv1d": "Conv1d",
    "embed_tokens": "Embedding",
    "final_norm": "RMSNorm",
    "head": "Linear",
    "ln": "LayerNorm",
    "": "Module",
  });
  assert.deepEqual(Object.keys(model.modules.find((m) => m.name === "bn")!.params).sort(), [
    "bias",
    "running_mean",
    "running_var",
    "weight",
  ]);
  assert.equal(model.graph, undefined);
});

test("safetensorsModel() lets user patterns override inferred types", () => {
  const model = safetensorsModel(readSafetensors(writeSafetensors(NET)), {
    types: [["head", "Conv1d"], [/^c.*1d$/, "Linear"], ["*norm", "GroupNorm"]],
  });
  const types = Object.fromEntries(model.modules.map((m) => [m.name, m.type]));
  assert.equal(types.head, "Conv1d");
  assert.equal(types.conv1d, "Linear");
  assert.equal(types.final_norm, "GroupNorm");
  assert.equal(types.conv, "Conv2d");
});

test("safetensorsModel() reads float32 data lazily from an opened file", async () => {
  const bytes = writeSafetensors(NET);
  const model = safetensorsModel(await openSafetensors(bytesSource(bytes)));
  const head = model.modules.find((m) => m.name === "head")!;
  assert.deepEqual([...await head.params.weight.data()], [...Array(20).keys()]);
  assert.deepEqual(head.params.weight.shape, [5, 4]);
});

test("inferModuleType() picks BatchNorm1d after a Linear and 3d after a Conv3d", () => {
  const bn = { weight: [4], bias: [4], running_mean: [4], running_var: [4] };
  assert.equal(inferModuleType("bn", bn, "Linear"), "BatchNorm1d");
  assert.equal(inferModuleType("bn", bn, "Conv3d"), "BatchNorm3d");
  assert.equal(inferModuleType("x", { weight: [2, 2, 2, 2, 2] }), "Conv3d");
  assert.equal(inferModuleType("transformer.wpe", { weight: [1024, 768] }), "Embedding");
  assert.equal(overrideModuleType("a.b", { "a.*": "X" }), "X");
  assert.equal(overrideModuleType("ab", { "a.b": "X" }), undefined);
});

test("inspect() lists every module with shapes, dtypes, sizes and a text table", () => {
  const summary = inspect(safetensorsModel(readSafetensors(writeSafetensors(NET))));
  const conv = summary.modules.find((m) => m.name === "conv")!;
  assert.deepEqual(conv.params.map((p) => [p.name, p.dtype, p.shape, p.elements, p.bytes]), [
    ["bias", "F32", [8], 8, 32],
    ["weight", "F32", [8, 3, 3, 3], 216, 864],
  ]);
  const total = NET.reduce((a, t) => a + t.data.byteLength, 0);
  assert.equal(summary.bytes, total);
  assert.match(summary.text, /^module\s+type\s+op\s+param\s+dtype\s+shape\s+elements\s+bytes$/m);
  assert.match(summary.text, /^conv\s+Conv2d\s+weight\s+F32\s+\[8, 3, 3, 3\]\s+216\s+864$/m);
  assert.match(summary.text, new RegExp(`^total\\s+${total / 4}\\s+${total}$`, "m"));
});

test("permute() transposes a matrix and invertPermutation() undoes a 3-D permutation", () => {
  assert.deepEqual([...permute(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3], [1, 0])], [
    1,
    4,
    2,
    5,
    3,
    6,
  ]);
  const data = new Float32Array(24).map((_, i) => i);
  const perm = [2, 0, 1];
  const p = permute(data, [2, 3, 4], perm);
  assert.deepEqual(permute(p, [4, 2, 3], invertPermutation(perm)), data);
  assert.equal(p[1], 4);
  assert.throws(() => permute(data, [2, 3, 4], [0, 0, 1]), RangeError);
});

test("toFloat32() decodes every dtype, including unaligned bytes", () => {
  const le = (view: ArrayBufferView) => {
    const b = new Uint8Array(view.byteLength + 1);
    b.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength), 1);
    return b.subarray(1);
  };
  assert.deepEqual([...toFloat32(le(new Float64Array([1.5, -2])), "F64")], [1.5, -2]);
  assert.deepEqual([...toFloat32(le(new Float32Array([0.25])), "F32")], [0.25]);
  assert.deepEqual([...toFloat32(le(new Uint16Array([0x3c00, 0xc000])), "F16")], [1, -2]);
  assert.deepEqual([...toFloat32(le(new Uint16Array([0x3f80, 0x4040])), "BF16")], [1, 3]);
  assert.deepEqual([...toFloat32(le(new BigInt64Array([-3n])), "I64")], [-3]);
  assert.deepEqual([...toFloat32(le(new BigUint64Array([2n ** 40n])), "U64")], [2 ** 40]);
  assert.deepEqual([...toFloat32(le(new Int32Array([-7])), "I32")], [-7]);
  assert.deepEqual([...toFloat32(le(new Uint32Array([7])), "U32")], [7]);
  assert.deepEqual([...toFloat32(le(new Int16Array([-300])), "I16")], [-300]);
  assert.deepEqual([...toFloat32(le(new Uint16Array([60000])), "U16")], [60000]);
  assert.deepEqual(
    [...toFloat32(new Uint8Array([0x80, 0x7f]), "I8")],
    [0, 0].map((_, i) => [-128, 127][i]),
  );
  assert.deepEqual([...toFloat32(new Uint8Array([200]), "U8")], [200]);
  assert.deepEqual([...toFloat32(new Uint8Array([0, 1, 5]), "BOOL")], [0, 1, 1]);
  // E4M3FN: 0x38 = 1.0, 0x7e = 448 (largest), 0x01 = 2^-9, 0x7f = NaN.
  const e4 = toFloat32(new Uint8Array([0x38, 0x7e, 0x01, 0xb8, 0x7f]), "F8_E4M3");
  assert.deepEqual([...e4.subarray(0, 4)], [1, 448, 2 ** -9, -1]);
  assert.ok(Number.isNaN(e4[4]));
  // E5M2: 0x3c = 1.0, 0x7b = 57344, 0x7c = Infinity, 0x01 = 2^-16.
  const e5 = toFloat32(new Uint8Array([0x3c, 0x7b, 0x7c, 0x01]), "F8_E5M2");
  assert.deepEqual([...e5], [1, 57344, Infinity, 2 ** -16]);
  assert.throws(() => toFloat32(new Uint8Array(3), "F32"), RangeError);
});

test("toFloat32() uses the kernels it is given for F16", () => {
  let called = 0;
  const kernels = {
    ...referenceKernels,
    f16ToF32: (b: Uint16Array) => (called++, referenceKernels.f16ToF32(b)),
  };
  toFloat32(new Uint8Array(4), "F16", kernels);
  assert.equal(called, 1);
});

test("safetensorsModel() keeps a parameter named __proto__ as an ordinary parameter", () => {
  const bytes = writeSafetensors([f32("m.__proto__", [2]), f32("m.weight", [2, 2])]);
  const m = safetensorsModel(readSafetensors(bytes)).modules[0];
  assert.deepEqual(Object.keys(m.params).sort(), ["__proto__", "weight"]);
  assert.equal(m.params["__proto__"].shape[0], 2);
});
