// The corpus of bad inputs: config lists, model files and command lines that must each end in a
// clear error (or warning) with a path or a name — never a crash, a hang or a raw runtime error.
import { writeSafetensors } from "../../src/io/safetensors/write_safetensors.ts";
import { mutate, random } from "../io/_mutate.ts";

/** Config lists that are invalid for the classifier (each an `error:` with a config path). */
export const BAD_CONFIGS: readonly [string, unknown][] = [
  ["not a list: an object without config_list", { op_types: ["Conv2d"] }],
  ["not a list: a string", "Conv2d"],
  ["not a list: a number", 5],
  ["not a list: null", null],
  ["a sub-config that is a number", [5]],
  ["a sub-config that is a list", [[{ op_types: ["Conv2d"] }]]],
  ["sparse_ratio above 1", [{ op_types: ["Conv2d"], sparse_ratio: 1.5 }]],
  ["sparse_ratio below 0", [{ op_types: ["Conv2d"], sparse_ratio: -0.1 }]],
  ["sparse_ratio a string", [{ op_types: ["Conv2d"], sparse_ratio: "0.5" }]],
  ["sparse_ratio null with nothing else", [{ op_types: ["Conv2d"], sparse_ratio: null }]],
  ["sparse_ratio NaN-like", [{ op_types: ["Conv2d"], sparse_ratio: "NaN" }]],
  ["sparse_ratio an object", [{ op_types: ["Conv2d"], sparse_ratio: { v: 1 } }]],
  ["op_types a string", [{ op_types: "Conv2d", sparse_ratio: 0.5 }]],
  ["op_types numbers", [{ op_types: [1, 2], sparse_ratio: 0.5 }]],
  ["op_types null entries", [{ op_types: [null], sparse_ratio: 0.5 }]],
  ["op_names a number", [{ op_names: 7, sparse_ratio: 0.5 }]],
  ["op_names_re unbalanced", [{ op_names_re: ["conv("], sparse_ratio: 0.5 }]],
  ["op_names_re a backreference", [{ op_names_re: ["(conv)\\1"], sparse_ratio: 0.5 }]],
  ["op_names_re a named backreference", [{ op_names_re: ["(?P<a>c)(?P=a)"], sparse_ratio: 0.5 }]],
  ["op_names_re a lookahead", [{ op_names_re: ["conv(?=2d)"], sparse_ratio: 0.5 }]],
  ["op_names_re a lookbehind", [{ op_names_re: ["(?<=c)onv"], sparse_ratio: 0.5 }]],
  ["op_names_re a bad escape", [{ op_names_re: ["\\q"], sparse_ratio: 0.5 }]],
  ["op_names_re a dangling quantifier", [{ op_names_re: ["*conv"], sparse_ratio: 0.5 }]],
  ["op_names_re a number", [{ op_names_re: [5], sparse_ratio: 0.5 }]],
  ["exclude_op_names_re unbalanced", [{
    op_types: ["Conv2d"],
    exclude_op_names_re: ["["],
    sparse_ratio: 0.5,
  }]],
  ["exclude_op_types a string", [{
    op_types: ["Conv2d"],
    exclude_op_types: "BatchNorm2d",
    sparse_ratio: 0.5,
  }]],
  ["target_names numbers", [{ op_types: ["Conv2d"], target_names: [0], sparse_ratio: 0.5 }]],
  ["target_names an unknown target", [{
    op_types: ["Conv2d"],
    target_names: ["kernel"],
    sparse_ratio: 0.5,
  }]],
  ["an unknown key", [{ op_types: ["Conv2d"], sparse_ratios: 0.5 }]],
  ["a misspelt key", [{ op_type: ["Conv2d"], sparse_ratio: 0.5 }]],
  ["a quantization key in pruning", [{
    op_types: ["Conv2d"],
    sparse_ratio: 0.5,
    quant_dtype: "int8",
  }]],
  ["granularity nonsense", [{ op_types: ["Conv2d"], sparse_ratio: 0.5, granularity: "sideways" }]],
  ["granularity a negative block", [{
    op_types: ["Conv2d"],
    sparse_ratio: 0.5,
    granularity: [-1, 2],
  }]],
  ["granularity zero block", [{ op_types: ["Conv2d"], sparse_ratio: 0.5, granularity: [0] }]],
  ["per_channel on a pruned weight", [{
    op_types: ["Conv2d"],
    sparse_ratio: 0.5,
    granularity: "per_channel",
  }]],
  ["max below min", [{
    op_types: ["Conv2d"],
    sparse_ratio: 0.5,
    max_sparse_ratio: 0.1,
    min_sparse_ratio: 0.3,
    global_group_id: 0,
  }]],
  ["global_group_id a list", [{ op_types: ["Conv2d"], sparse_ratio: 0.5, global_group_id: [1] }]],
  ["dependency_group_id an object", [{
    op_types: ["Conv2d"],
    sparse_ratio: 0.5,
    dependency_group_id: {},
  }]],
  ["sparse_threshold a string", [{ op_types: ["Conv2d"], sparse_threshold: "big" }]],
  ["sparse_ratio and sparse_threshold together", [{
    op_types: ["Conv2d"],
    sparse_ratio: 0.5,
    sparse_threshold: 0.1,
  }]],
  ["apply_method unknown", [{ op_types: ["Conv2d"], sparse_ratio: 0.5, apply_method: "divide" }]],
  ["align to a missing target", [{
    op_types: ["Conv2d"],
    target_names: ["bias"],
    target_settings: { bias: { align: { target_name: "gamma", dims: [0] } } },
  }]],
  ["target_settings a list", [{ op_types: ["Conv2d"], sparse_ratio: 0.5, target_settings: [1] }]],
  ["target_settings with a bad nested ratio", [{
    op_types: ["Conv2d"],
    target_settings: { weight: { sparse_ratio: 7 } },
  }]],
  [
    "a __proto__ key",
    JSON.parse('[{"op_types":["Conv2d"],"sparse_ratio":0.5,"__proto__":{"x":1}}]'),
  ],
  ["a constructor key", [{ op_types: ["Conv2d"], sparse_ratio: 0.5, constructor: 1 }]],
  ["a very deep list", JSON.parse("[".repeat(5000) + "]".repeat(5000))],
  ["a very deep object in target_settings", [{
    op_types: ["Conv2d"],
    target_settings: JSON.parse('{"a":'.repeat(3000) + "1" + "}".repeat(3000)),
  }]],
  ["legacy sparsity above 1", [{ op_types: ["Conv2d"], sparsity: 2 }]],
  ["legacy total_sparsity a string", [{ op_types: ["Conv2d"], total_sparsity: "x" }]],
  ["legacy op_partial_names a number", [{ op_partial_names: 3, sparsity: 0.5 }]],
  // (Legacy and v3 keys together with valid values is a valid list for NNI: the legacy ratio
  // becomes the weight's, `target_names` becomes weight and bias, and a conv without a bias skips
  // it. An out-of-range legacy value is caught after the translation.)
  [
    "legacy and v3 keys together, the legacy one out of range",
    [{ op_types: ["Conv2d"], sparsity: 1.5, sparse_ratio: 0.5 }],
  ],
  ["exclude with nothing to exclude from", [{ exclude: true }]],
  ["a huge number", [{ op_types: ["Conv2d"], sparse_ratio: 1e308 * 10 }]],
];

/** Quantization config lists that are invalid for the classifier. */
export const BAD_QUANT_CONFIGS: readonly [string, unknown][] = [
  ["quant_dtype unknown", [{
    op_types: ["Conv2d"],
    target_names: ["weight"],
    quant_dtype: "int99",
  }]],
  ["quant_dtype a number", [{ op_types: ["Conv2d"], target_names: ["weight"], quant_dtype: 8 }]],
  ["quant_dtype float", [{
    op_types: ["Conv2d"],
    target_names: ["weight"],
    quant_dtype: "float7",
  }]],
  ["quant_scheme unknown", [{
    op_types: ["Conv2d"],
    target_names: ["weight"],
    quant_dtype: "int8",
    quant_scheme: "sideways",
  }]],
  ["granularity unknown", [{
    op_types: ["Conv2d"],
    target_names: ["weight"],
    quant_dtype: "int8",
    granularity: "per_galaxy",
  }]],
  ["granularity a block that does not divide", [{
    op_types: ["Conv2d"],
    target_names: ["weight"],
    quant_dtype: "int8",
    granularity: [7, 7, 7, 7],
  }]],
  ["fuse_names [null]", [{
    op_types: ["Conv2d"],
    target_names: ["weight"],
    quant_dtype: "int8",
    fuse_names: [null],
  }]],
  ["fuse_names [[]]", [{
    op_types: ["Conv2d"],
    target_names: ["weight"],
    quant_dtype: "int8",
    fuse_names: [[]],
  }]],
  ["fuse_names a string", [{
    op_types: ["Conv2d"],
    target_names: ["weight"],
    quant_dtype: "int8",
    fuse_names: "conv",
  }]],
  ["fuse_names numbers", [{
    op_types: ["Conv2d"],
    target_names: ["weight"],
    quant_dtype: "int8",
    fuse_names: [[1, 2]],
  }]],
  ["fuse_names unknown modules", [{
    op_types: ["Conv2d"],
    target_names: ["weight"],
    quant_dtype: "int8",
    fuse_names: [["nope", "nada"]],
  }]],
  ["fuse_names one module", [{
    op_types: ["Conv2d"],
    target_names: ["weight"],
    quant_dtype: "int8",
    fuse_names: [["conv2d_0"]],
  }]],
  ["fuse_names null inside a pair", [{
    op_types: ["Conv2d"],
    target_names: ["weight"],
    quant_dtype: "int8",
    fuse_names: [["conv2d_0", null]],
  }]],
  ["legacy quant_bits too large", [{
    op_types: ["Conv2d"],
    quant_types: ["weight"],
    quant_bits: 99,
  }]],
  ["legacy quant_bits a string", [{
    op_types: ["Conv2d"],
    quant_types: ["weight"],
    quant_bits: "eight",
  }]],
  ["legacy quant_types unknown", [{
    op_types: ["Conv2d"],
    quant_types: ["gradient"],
    quant_bits: 8,
  }]],
  ["a pruning key in quantization", [{
    op_types: ["Conv2d"],
    target_names: ["weight"],
    quant_dtype: "int8",
    sparse_ratio: 0.5,
  }]],
];

/** A deterministic float32 safetensors with two Linear layers. */
export function mlp(): Uint8Array {
  const v = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(s + i));
  return writeSafetensors([
    { name: "fc1.weight", dtype: "F32", shape: [8, 6], data: v(48, 1) },
    { name: "fc1.bias", dtype: "F32", shape: [8], data: v(8, 2) },
    { name: "fc2.weight", dtype: "F32", shape: [4, 8], data: v(32, 3) },
  ]);
}

/** A safetensors file from a header object and a data section. */
export function safetensorsWith(header: unknown, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(
    typeof header === "string" ? header : JSON.stringify(header),
  );
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Broken safetensors files: [name, bytes]. */
export function badSafetensors(): [string, Uint8Array][] {
  const good = mlp();
  const f32 = (n: number) => new Uint8Array(n * 4);
  const cases: [string, Uint8Array][] = [
    ["empty", new Uint8Array(0)],
    ["seven bytes", new Uint8Array(7)],
    ["header length past the end", safetensorsWith("{}").map((b, i) => (i === 0 ? 0xff : b))],
    [
      "header length 2^63",
      (() => {
        const b = new Uint8Array(16);
        new DataView(b.buffer).setBigUint64(0, 2n ** 63n, true);
        return b;
      })(),
    ],
    ["header not JSON", safetensorsWith("{not json")],
    ["header a list", safetensorsWith("[]")],
    ["header with binary", safetensorsWith("{\u0000}")],
    [
      "unknown dtype",
      safetensorsWith({ w: { dtype: "F33", shape: [2], data_offsets: [0, 8] } }, f32(2)),
    ],
    [
      "negative dim",
      safetensorsWith({ w: { dtype: "F32", shape: [-2], data_offsets: [0, 8] } }, f32(2)),
    ],
    [
      "fractional dim",
      safetensorsWith({ w: { dtype: "F32", shape: [1.5], data_offsets: [0, 6] } }, f32(2)),
    ],
    [
      "zero-size dim",
      safetensorsWith({ w: { dtype: "F32", shape: [0, 4], data_offsets: [0, 0] } }),
    ],
    [
      "shape a string",
      safetensorsWith({ w: { dtype: "F32", shape: "2", data_offsets: [0, 8] } }, f32(2)),
    ],
    [
      "offsets past the end",
      safetensorsWith({ w: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, f32(2)),
    ],
    [
      "offsets reversed",
      safetensorsWith({ w: { dtype: "F32", shape: [2], data_offsets: [8, 0] } }, f32(2)),
    ],
    [
      "offsets not matching the shape",
      safetensorsWith({ w: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, f32(2)),
    ],
    [
      "overlapping tensors",
      safetensorsWith({
        a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
        b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
      }, f32(3)),
    ],
    [
      "a gap between tensors",
      safetensorsWith({
        a: { dtype: "F32", shape: [1], data_offsets: [0, 4] },
        b: { dtype: "F32", shape: [1], data_offsets: [8, 12] },
      }, f32(3)),
    ],
    ["missing data_offsets", safetensorsWith({ w: { dtype: "F32", shape: [2] } }, f32(2))],
    [
      "metadata not strings",
      safetensorsWith({
        __metadata__: { a: 1 },
        w: { dtype: "F32", shape: [1], data_offsets: [0, 4] },
      }, f32(1)),
    ],
    [
      "a huge shape",
      safetensorsWith(
        { w: { dtype: "F32", shape: [2 ** 30, 2 ** 30], data_offsets: [0, 8] } },
        f32(2),
      ),
    ],
    ["truncated data", good.subarray(0, good.length - 10)],
  ];
  const rnd = random(1234);
  for (let i = 0; i < 24; i++) cases.push([`mutation ${i}`, mutate(good, rnd, 120)]);
  return cases;
}

/** Broken ONNX files made from a real model: truncations and seeded mutations. */
export function badOnnx(model: Uint8Array): [string, Uint8Array][] {
  const cases: [string, Uint8Array][] = [
    ["empty", new Uint8Array(0)],
    ["one byte", new Uint8Array([8])],
    ["all 0xff", new Uint8Array(256).fill(0xff)],
    ["text", new TextEncoder().encode("this is not a model\n")],
  ];
  for (const n of [3, 17, 100, 1000, 10_000, 100_000, model.length - 1]) {
    cases.push([`truncated to ${n} bytes`, model.subarray(0, n)]);
  }
  const rnd = random(99);
  for (let i = 0; i < 24; i++) cases.push([`mutation ${i}`, mutate(model, rnd, 4096)]);
  return cases;
}
