import { test } from "node:test";
import assert from "node:assert/strict";
import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
import { safetensorsModel } from "../model/safetensors_model.ts";
import { fakeQuantize } from "./fake_quantize.ts";
import { quantizeWeights } from "./quantize_weights.ts";
import { dequantizeTensor } from "./quantize_tensor.ts";
import { quantDtypeRange } from "./quant_dtype_range.ts";
import { quantizeTensor } from "./quantize_tensor.ts";
import {
  compressedPackedBytes,
  compressedTensorBytes,
  compressedTensorsSafetensors,
  compressedTensorsScheme,
  readCompressedTensors,
} from "./compressed_tensors.ts";

// Deterministic values with a spread of magnitudes and an offset, so affine zero points differ.
function values(n: number, seed: number, shift = 0): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648 - 0.5) * 3 + shift;
  });
}

function mlp(rows: number, cols: number) {
  return safetensorsModel(readSafetensors(writeSafetensors([
    { name: "a.weight", dtype: "F32", shape: [rows, cols], data: values(rows * cols, 1, 0.4) },
    { name: "a.bias", dtype: "F32", shape: [rows], data: values(rows, 2) },
    { name: "b.weight", dtype: "F32", shape: [3, rows], data: values(3 * rows, 3, -0.7) },
  ])));
}

const CASES: [string, Record<string, unknown>][] = [
  ["int4 symmetric, groups of 4", { quant_dtype: "int4", granularity: [1, 4] }],
  ["uint4 affine per channel", {
    quant_dtype: "uint4",
    quant_scheme: "affine",
    granularity: "out_channel",
  }],
  ["uint4 affine groups of 2", {
    quant_dtype: "uint4",
    quant_scheme: "affine",
    granularity: [1, 2],
  }],
  ["int4 affine per tensor", { quant_dtype: "int4", quant_scheme: "affine" }],
  ["int8 symmetric per channel", { quant_dtype: "int8", granularity: "per_channel" }],
  ["uint8 affine per tensor", { quant_dtype: "uint8", quant_scheme: "affine" }],
  ["int8 affine groups of 4", { quant_dtype: "int8", quant_scheme: "affine", granularity: [1, 4] }],
  ["int3 per channel", { quant_dtype: "int3", granularity: "out_channel" }],
  ["uint2 affine per channel", {
    quant_dtype: "uint2",
    quant_scheme: "affine",
    granularity: "out_channel",
  }],
];

for (const [label, setting] of CASES) {
  for (const [rows, cols] of [[12, 20], [16, 8]]) {
    test(`compressed-tensors round trip: ${label}, [${rows}, ${cols}]`, async () => {
      const model = mlp(rows, cols);
      const { params } = await quantizeWeights(model, [{
        op_types: ["Linear"],
        target_names: ["weight"],
        ...setting,
      }]);
      const { bytes, config } = await compressedTensorsSafetensors(model, params);
      const back = readCompressedTensors(bytes);
      assert.deepEqual(back.others, ["a.bias"]);
      assert.deepEqual(back.quantized.map((q) => q.name), ["a.weight", "b.weight"]);
      const file = readSafetensors(bytes);
      for (const q of back.quantized) {
        const p = params.find((x) => `${x.module}.weight` === q.name)!;
        const module = model.modules.find((m) => `${m.name}.weight` === q.name)!;
        const before = await module.params.weight.data();
        const fake = fakeQuantize(before, q.shape, p);
        const decoded = dequantizeTensor(q.codes, q.shape, q.params);
        // Equal values (the fake-quantized ones may hold -0 where a code gives 0).
        assert.equal(decoded.length, fake.length);
        const differ = decoded.findIndex((v, i) => v !== fake[i]);
        assert.equal(differ, -1, `${q.name}[${differ}]: ${decoded[differ]} != ${fake[differ]}`);
        // The bytes written for it are those compressedTensorBytes counts.
        const written = file.tensors.filter((t) => t.name.startsWith(`${q.name}_`))
          .reduce((n, t) => n + t.data.byteLength, 0);
        assert.equal(written, compressedTensorBytes(q.shape, p));
      }
      const weights = Object.values(config.config_groups).map((g) => g.weights);
      assert.ok(weights.every((w) => w.type === "int" && w.num_bits === params[0].bits));
      assert.equal(config.quant_method, "compressed-tensors");
    });
  }
}

test("compressed-tensors packing: the order of compressed-tensors' pack_to_int32", async () => {
  // [1, 2] at 8 bits is [129, 130] unsigned: 129 | 130 << 8 = 33409 (pack_to_int32's docstring).
  const model = safetensorsModel(readSafetensors(writeSafetensors([
    { name: "fc.weight", dtype: "F32", shape: [1, 2], data: Float32Array.of(1, 2) },
  ])));
  const { params } = await quantizeWeights(model, [{
    op_types: ["Linear"],
    target_names: ["weight"],
    quant_dtype: "int8",
  }]);
  // scale 2/127: codes 64 and 127.
  const { bytes } = await compressedTensorsSafetensors(model, params);
  const packed = readSafetensors(bytes).tensors.find((t) => t.name === "fc.weight_packed")!;
  const word = new DataView(packed.data.buffer, packed.data.byteOffset, 4).getInt32(0, true);
  assert.equal(word, (64 + 128) | ((127 + 128) << 8));
  // 4 bits: codes -7..7 of 9 values fill one word and one nibble of the next.
  const m4 = safetensorsModel(readSafetensors(writeSafetensors([
    {
      name: "fc.weight",
      dtype: "F32",
      shape: [1, 9],
      data: Float32Array.of(-7, -1, 0, 1, 2, 3, 4, 5, 7),
    },
  ])));
  const p4 = await quantizeWeights(m4, [{
    op_types: ["Linear"],
    target_names: ["weight"],
    quant_dtype: "int4",
  }]);
  const f4 = readSafetensors((await compressedTensorsSafetensors(m4, p4.params)).bytes);
  const t4 = f4.tensors.find((t) => t.name === "fc.weight_packed")!;
  assert.deepEqual(t4.shape, [1, 2]);
  const dv = new DataView(t4.data.buffer, t4.data.byteOffset, 8);
  const nibbles = [-7, -1, 0, 1, 2, 3, 4, 5].map((q, i) => (q + 8) * 2 ** (4 * i));
  assert.equal(dv.getUint32(0, true), nibbles.reduce((a, b) => a + b, 0));
  assert.equal(dv.getUint32(4, true), 15);
  const shape = f4.tensors.find((t) => t.name === "fc.weight_shape")!;
  assert.equal(shape.dtype, "I64");
  assert.deepEqual([...new BigInt64Array(shape.data.slice().buffer)], [1n, 9n]);
  assert.equal(f4.metadata.format, "pt");
});

test("compressed-tensors config: one group per weight scheme, exact module names", async () => {
  const model = mlp(8, 16);
  const { params } = await quantizeWeights(model, [
    { op_names: ["a"], target_names: ["weight"], quant_dtype: "int4", granularity: [1, 8] },
    { op_names: ["b"], target_names: ["weight"], quant_dtype: "int8", granularity: "out_channel" },
  ]);
  const fit = compressedTensorsScheme(model, params);
  assert.ok(fit.fits);
  assert.deepEqual(JSON.parse(JSON.stringify(fit.config)), {
    quant_method: "compressed-tensors",
    format: "pack-quantized",
    quantization_status: "compressed",
    config_groups: {
      group_0: {
        targets: ["a"],
        weights: {
          num_bits: 4,
          type: "int",
          symmetric: true,
          strategy: "group",
          group_size: 8,
          dynamic: false,
          actorder: null,
          block_structure: null,
          observer: "minmax",
          observer_kwargs: {},
        },
        input_activations: null,
        output_activations: null,
        format: "pack-quantized",
      },
      group_1: {
        targets: ["b"],
        weights: {
          num_bits: 8,
          type: "int",
          symmetric: true,
          strategy: "channel",
          group_size: null,
          dynamic: false,
          actorder: null,
          block_structure: null,
          observer: "minmax",
          observer_kwargs: {},
        },
        input_activations: null,
        output_activations: null,
        format: "pack-quantized",
      },
    },
    ignore: [],
    kv_cache_scheme: null,
  });
});

test("compressed-tensors: what the format cannot express is refused with the reason", async () => {
  const model = mlp(8, 12);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ quant_dtype: "int8" }, /a\.bias \(config 0\) is not a module's weight/],
    [
      { target_names: ["weight"], quant_dtype: "int8", granularity: "in_channel" },
      /a\.weight \(config 0\) has granularity "in_channel"/,
    ],
    [
      { target_names: ["weight"], quant_dtype: "int4", granularity: [2, 4] },
      /one scale per tensor, per output channel, or per group/,
    ],
    [{ target_names: ["weight"], quant_dtype: "int16" }, /has 16 bits/],
  ];
  for (const [setting, reason] of cases) {
    const { params } = await quantizeWeights(model, [{
      op_names: ["a"],
      target_names: ["weight", "bias"],
      ...setting,
    }]);
    const fit = compressedTensorsScheme(model, params);
    assert.ok(!fit.fits);
    assert.match(fit.reason, reason);
    await assert.rejects(compressedTensorsSafetensors(model, params), reason);
  }
});

test("activation-ordered groups: weight_g_idx written as I32 [in], read back per column, checked", async () => {
  const model = mlp(4, 8);
  const { params } = await quantizeWeights(model, [
    { op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int4", granularity: [1, 4] },
  ]);
  // a's columns in two groups of 4, interleaved (as act-order leaves them)
  const gIdx = Int32Array.of(1, 0, 0, 1, 1, 0, 1, 0);
  const groupIndex = new Map([["a", gIdx]]);
  const fit = compressedTensorsScheme(model, params, { groupIndex });
  assert.ok(fit.fits);
  const groups = Object.values(fit.config.config_groups);
  assert.deepEqual(groups.map((g) => [g.targets, g.weights.actorder]), [
    [["a"], "group"],
    [["b"], null],
  ]);
  const { bytes } = await compressedTensorsSafetensors(model, params, { groupIndex });
  const g = readSafetensors(bytes).tensors.find((t) => t.name === "a.weight_g_idx")!;
  assert.deepEqual([g.dtype, g.shape], ["I32", [8]]);
  const a = readCompressedTensors(bytes).quantized.find((t) => t.name === "a.weight")!;
  assert.deepEqual(a.groupIndex, gIdx);
  // column c dequantizes with its group's scale: the params of group gIdx[c], spread per column
  const p = params.find((p) => p.module === "a")!;
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 8; c++) {
      assert.equal(a.params.scale[r * 8 + c], p.scale[r * 2 + gIdx[c]]);
    }
  }
  const w = await model.modules.find((m) => m.name === "a")!.params.weight.data();
  const back = dequantizeTensor(a.codes, a.shape, a.params);
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 8; c++) {
      const s = p.scale[r * 2 + gIdx[c]];
      // within half a step of the weight, or clipped to the grid's end
      const q = a.codes[r * 8 + c];
      const near = Math.abs(back[r * 8 + c] - w[r * 8 + c]) <= s / 2 + 1e-6;
      assert.ok(near || q === -8 || q === 7, `${r} ${c}`);
      assert.equal(back[r * 8 + c], Math.fround((q - a.params.zeroPoint[r * 8 + c]) * s));
    }
  }
  // a group index that does not give every group 4 columns is refused, naming the group
  const bad = compressedTensorsScheme(model, params, {
    groupIndex: new Map([["a", Int32Array.of(0, 0, 0, 0, 0, 1, 1, 1)]]),
  });
  assert.ok(!bad.fits && /a\.weight .* group 0 5 columns instead of 4/.test(bad.reason));
  // a file whose g_idx is all -1 (compressed-tensors' initial value) is in column order
  const file = readSafetensors(bytes);
  const edited = writeSafetensors(
    file.tensors.map((t) => ({
      name: t.name,
      dtype: t.dtype,
      shape: t.shape,
      data: t.name === "a.weight_g_idx" ? new Int32Array(8).fill(-1) : t.data,
    })),
    { metadata: file.metadata },
  );
  const plain = readCompressedTensors(edited).quantized.find((t) => t.name === "a.weight")!;
  assert.equal(plain.groupIndex, undefined);
  assert.deepEqual(plain.params.kernel, [1, 4]);
});

test("compressedPackedBytes: pack_to_int32 of each row, element by element, for 2 to 8 bits", async () => {
  for (
    const dtype of ["int2", "uint3", "int4", "uint4", "int5", "uint6", "int7", "int8", "uint8"]
  ) {
    for (const [rows, cols] of [[3, 16], [5, 13], [2, 4]]) {
      const w = values(rows * cols, rows + cols, 0.3);
      const model = safetensorsModel(readSafetensors(writeSafetensors([
        { name: "fc.weight", dtype: "F32", shape: [rows, cols], data: w },
      ])));
      const { params } = await quantizeWeights(model, [{
        op_types: ["Linear"],
        target_names: ["weight"],
        quant_dtype: dtype,
        quant_scheme: "affine",
        granularity: "out_channel",
      }]);
      const p = params[0];
      const codes = quantizeTensor(w, [rows, cols], p);
      const offset = quantDtypeRange(p.quantDtype).signed ? 0 : 2 ** (p.bits - 1);
      const f = Math.floor(32 / p.bits);
      const words = Math.ceil(cols / f);
      const want = new Int32Array(rows * words);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const u = (codes[r * cols + c] - offset + 2 ** (p.bits - 1)) & (2 ** p.bits - 1);
          want[r * words + Math.floor(c / f)] |= u << (p.bits * (c % f));
        }
      }
      const got = compressedPackedBytes(w, [rows, cols], p);
      assert.deepEqual(
        new Int32Array(got.slice().buffer),
        want,
        `${dtype} [${rows}, ${cols}]`,
      );
    }
  }
});
