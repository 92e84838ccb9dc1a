// Bad input to quantization: clear errors that name the module, the target and the config path,
// and no output file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../../src/config/config_error.ts";
import { resolveTargetSettings } from "../../src/config/resolve_target_settings.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { readSafetensors } from "../../src/io/safetensors/read_safetensors.ts";
import { writeSafetensors } from "../../src/io/safetensors/write_safetensors.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { safetensorsModel } from "../../src/model/safetensors_model.ts";
import { calibrateOnnx, type CalibrationTensor } from "../../src/quantization/calibrate_onnx.ts";
import { quantize } from "../../src/quantization/quantize.ts";
import { QuantizationError } from "../../src/quantization/quantization_error.ts";
import { saveQuantizedFile } from "../../src/quantization/save_quantized_file.ts";
import { weightOnlyOnnx } from "../../src/quantization/weight_only_onnx.ts";
import { moduleInfos } from "../../src/model/module_infos.ts";
import { loadOrt } from "../io/_ocr.ts";
import { CLS, fullInt8, readModel, REC } from "./_ocr_eval.ts";
import { tempDir } from "../_temp_dir.ts";

const SLOW = { timeout: 120_000 };
const file = readSafetensors(writeSafetensors([
  { name: "fc.weight", dtype: "F32", shape: [4, 6], data: new Float32Array(24).fill(0.5) },
]));
const model = safetensorsModel(file);
const folder = () => tempDir("nncompress-quant-");

/** Quantizes and saves to `path`; returns the error. */
async function failsToSave(path: string, config: unknown, storage: "float" | "int" = "int") {
  try {
    await saveQuantizedFile(path, await quantize(model, config), storage);
  } catch (e) {
    return e as Error;
  }
  assert.fail("expected an error");
}

test("unsupported quant_dtype values fail with their config path and write no file", async () => {
  const dir = folder();
  for (
    const [dtype, message] of [
      ["int1", /\[0\]\.quant_dtype: "quant_dtype" must have at least 2 bits .*"int1"/],
      ["int17", /\[0\]\.quant_dtype: "quant_dtype" bits must be within \[2, 16\]: .*"int17"/],
      ["float8", /\[0\]\.quant_dtype: "quant_dtype" must be "int<N>" or "uint<N>".*"float8"/],
    ] as const
  ) {
    const path = join(dir, `${dtype}.safetensors`);
    const e = await failsToSave(path, [
      { op_types: ["Linear"], target_names: ["weight"], quant_dtype: dtype },
    ]);
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, message);
    assert.equal(existsSync(path), false);
  }
  assert.deepEqual(readdirSync(dir), []);
});

test("a block larger than a weight dim fails naming the module, target and config path", async () => {
  const dir = folder();
  const path = join(dir, "blocks.safetensors");
  const e = await failsToSave(path, [
    { op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int8", granularity: [1, 8] },
  ]);
  assert.ok(e instanceof ConfigError);
  assert.match(
    e.message,
    /\[0\]: "fc" target "weight": granularity \[1,8\] gives blocks of \[1,8\]/,
  );
  assert.equal(existsSync(path), false);
});

test(
  "weightOnlyOnnx() rejects a block size larger than a weight's K, naming the module",
  SLOW,
  async () => {
    const onnx = decodeOnnx(await readModel(REC));
    await assert.rejects(
      weightOnlyOnnx(onnx, onnxModel(onnx), { blockSize: 256 }),
      (e: Error) =>
        e instanceof QuantizationError && e.code === "argument" &&
        /^linear_\d+\.weight: "blockSize" must be at most K = 120 .*current value is 256/.test(
          e.message,
        ),
    );
  },
);

test("an unobserved activation target fails naming module, target and config (B10)", async () => {
  // An ONNX graph without calibration data (a file without a graph drops the default input and
  // output targets instead: tests/models_shipped/safetensors_default_test.ts).
  const onnx = onnxModel(decodeOnnx(await readModel(CLS)));
  const fc = onnx.modules.find((m) => m.type === "Linear")!.name;
  await assert.rejects(
    quantize(onnx, [{ op_types: ["Linear"], quant_dtype: "int8" }]),
    (e) =>
      e instanceof QuantizationError && e.code === "uncalibrated" &&
      e.path === "[0].target_names" &&
      new RegExp(`^${fc}\\._input_0 \\(config \\[0\\], "target_names"\\): .*never observed`)
        .test(e.message),
  );
  // on safetensors the same list quantizes the weight, and the file is written
  const dir = folder();
  const path = join(dir, "act.safetensors");
  await saveQuantizedFile(
    path,
    await quantize(model, [{ op_types: ["Linear"], quant_dtype: "int8" }]),
    "int",
  );
  assert.equal(existsSync(path), true);
});

test("a weight with NaN or infinite values fails naming the tensor, not only its block", async () => {
  for (const bad of [NaN, Infinity]) {
    const data = new Float32Array(24).fill(0.5);
    data[7] = bad;
    const nan = readSafetensors(writeSafetensors([
      { name: "fc.weight", dtype: "F32", shape: [4, 6], data },
    ]));
    await assert.rejects(
      quantize(safetensorsModel(nan), [
        { op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int8" },
      ]),
      (e: Error) =>
        e instanceof QuantizationError && e.code === "non_finite" && e.module === "fc" &&
        e.target === "weight" && e.path === "[0]" &&
        e.message.startsWith("fc.weight (config [0]): tracked range of block 0 must be finite") &&
        e.message.includes(String(bad)),
    );
  }
});

test("fuse_names is validated before it is read: every bad value is a ConfigError with its path", async () => {
  const base = { op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int8" };
  const cases: [unknown, string, RegExp][] = [
    [[null], "[0].fuse_names[0]", /2 or 3 module names: current value is null/],
    [[[]], "[0].fuse_names[0]", /2 or 3 module names: current value is \[\]/],
    [[["a"]], "[0].fuse_names[0]", /2 or 3 module names: current value is \["a"\]/],
    ["x", "[0].fuse_names", /must be a list of lists .*current value is "x"/],
    [[[1, 2]], "[0].fuse_names[0]", /2 or 3 module names: current value is \[1,2\]/],
    [[["fc", "bn"]], "[0].fuse_names[0]", /"bn" is not a module of the model/],
    [[["fc", "bn"], undefined], "[0].fuse_names[1]", /current value is (null|undefined)/],
  ];
  for (const [fuse, path, message] of cases) {
    const e = await quantize(model, [{ ...base, fuse_names: fuse }]).then(
      () => assert.fail(`fuse_names ${JSON.stringify(fuse)} was accepted`),
      (e: Error) => e,
    );
    assert.ok(e instanceof ConfigError, `${JSON.stringify(fuse)}: ${e.name}: ${e.message}`);
    const issue = e.issues.find((i) => i.path === path);
    assert.ok(issue, `${JSON.stringify(fuse)}: ${e.message}`);
    assert.match(issue.message, message);
  }
});

test("a failed write leaves no partial file and keeps what was at the path", async () => {
  const dir = folder();
  const result = await quantize(model, [
    { op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int8" },
  ]);
  const missing = join(dir, "no-such-folder", "out.safetensors");
  await assert.rejects(saveQuantizedFile(missing, result, "int"));
  assert.equal(existsSync(missing), false);
  // A storage that does not fit the source fails before anything is written.
  const kept = join(dir, "kept.safetensors");
  writeFileSync(kept, "old");
  await assert.rejects(saveQuantizedFile(kept, result, "qdq"), /needs an ONNX source/);
  assert.equal(readFileSync(kept, "utf8"), "old");
  // A destination that cannot be replaced (a folder): the temporary file is removed.
  await assert.rejects(saveQuantizedFile(dir, result, "int"));
  assert.deepEqual(readdirSync(dir), ["kept.safetensors"]);
  await saveQuantizedFile(kept, result, "int");
  assert.ok(readSafetensors(new Uint8Array(readFileSync(kept))).tensors.length === 3);
});

test(
  "calibration batches that do not fit the model's inputs name the input, expected and got",
  SLOW,
  async () => {
    const onnx = decodeOnnx(await readModel(CLS));
    const graph = onnxModel(onnx);
    const { targets } = resolveTargetSettings(moduleInfos(graph), fullInt8(graph), "quantization");
    const ort = await loadOrt();
    const data = new Float32Array(3 * 48 * 192);
    const run = (batch: Record<string, CalibrationTensor>) =>
      calibrateOnnx(onnx, graph, targets, [{ x: { data, dims: [1, 3, 48, 192] } }, batch], { ort });
    await assert.rejects(
      run({ image: { data, dims: [1, 3, 48, 192] } }),
      /calibration batch 1 must feed the model inputs \["x"\]: current value is \["image"\]/,
    );
    await assert.rejects(
      run({
        x: {
          data: new Float64Array(data.length) as unknown as Float32Array,
          dims: [1, 3, 48, 192],
        },
      }),
      /calibration batch 1, input "x": the model expects float32: current value is float64/,
    );
    await assert.rejects(
      run({ x: { data: [0, 1] as unknown as Float32Array, dims: [2] } }),
      /calibration batch 1, input "x": tensor data must be a typed array .*: current value is Array/,
    );
    await assert.rejects(
      run({ x: { data, dims: [2, 3, 48, 192] } }),
      /calibration batch 1, input "x": dims \[2,3,48,192\] need 55296 values: current value has 27648/,
    );
    await assert.rejects(
      run({ x: { data, dims: [1, 48, 3, 192] } }),
      /calibration batch 1, input "x": shape must be \[\?, 3, \?, \?\]: current value is \[1,48,3,192\]/,
    );
    await assert.rejects(
      run({ x: { data: new Float32Array(3 * 192), dims: [1, 3, 192] } }),
      /shape must be \[\?, 3, \?, \?\]: current value is \[1,3,192\]/,
    );
    await assert.rejects(calibrateOnnx(onnx, graph, targets, [], { ort }), /at least one batch/);
  },
);

test("calibration errors name the module, the target and the config path", SLOW, async () => {
  const onnx = decodeOnnx(await readModel(CLS));
  const graph = onnxModel(onnx);
  const ort = await loadOrt();
  const conv = graph.modules.find((m) => m.type === "Conv2d")!.name;
  const targetsOf = (config: unknown) =>
    resolveTargetSettings(moduleInfos(graph), config, "quantization").targets;
  const batch = { x: { data: new Float32Array(3 * 48 * 192), dims: [1, 3, 48, 192] } };
  // A positional input the module does not have.
  await assert.rejects(
    async () =>
      await calibrateOnnx(
        onnx,
        graph,
        targetsOf([
          { op_names: [conv], target_names: ["_input_1"], quant_dtype: "int8" },
        ]),
        [batch],
        { ort },
      ),
    (e: Error) =>
      e instanceof QuantizationError && e.code === "activation" &&
      e.message ===
        `${conv}._input_1 (config [0], "target_names"): the module's first node has no input 1`,
  );
  // A block list that does not fit the activation.
  await assert.rejects(
    calibrateOnnx(
      onnx,
      graph,
      targetsOf([
        { op_names: [conv], target_names: ["_input_0"], quant_dtype: "int8", granularity: [1000] },
      ]),
      [batch],
      { ort },
    ),
    (e: Error) =>
      e instanceof QuantizationError && e.code === "granularity" &&
      e.message.startsWith(
        `${conv}._input_0 (config [0], "granularity"): granularity [1000]: block size 1000`,
      ),
  );
  // Histogram observers need finite activations.
  const nan = { x: { data: new Float32Array(3 * 48 * 192).fill(NaN), dims: [1, 3, 48, 192] } };
  await assert.rejects(
    calibrateOnnx(
      onnx,
      graph,
      targetsOf([
        { op_names: [conv], target_names: ["_input_0"], quant_dtype: "int8" },
      ]),
      [nan],
      { ort, observer: "percentile" },
    ),
    (e: Error) =>
      e instanceof QuantizationError && e.code === "non_finite" &&
      e.message.startsWith(`${conv}._input_0 (config [0]): histogram observers need finite values`),
  );
  await assert.rejects(
    calibrateOnnx(
      onnx,
      graph,
      targetsOf([
        { op_names: [conv], target_names: ["_input_0"], quant_dtype: "int8" },
      ]),
      [batch],
      { ort, observer: "kl" as "mse" },
    ),
    /"observer" must be one of "minmax", "percentile", "mse", "entropy": current value is "kl"/,
  );
});
