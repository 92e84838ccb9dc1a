// The web page opens an ONNX model together with its external data file (two files selected at
// once), and registers the LSTM class from its registry box; the downloads run in onnxruntime.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { externalMlp, mlp, recurrent } from "./_models.ts";
import { difference, runModel } from "./_ort.ts";
import { skip, withSite } from "../web/_chromium.ts";

test("the web page takes a model with its data file and the download runs in onnxruntime", {
  skip,
  timeout: 180_000,
}, async () => {
  await withSite("nncompress-web-ext-", async ({ dir, page, errors }) => {
    const { model, data } = externalMlp();
    const file = (name: string, bytes: Uint8Array) => ({
      name,
      mimeType: "application/octet-stream",
      buffer: Buffer.from(bytes),
    });
    // The model alone: the page names the tensor and the data file it needs.
    await page.setInputFiles("#file", [file("model.onnx", model)]);
    await page.waitForFunction(() =>
      document.querySelector("#model-summary")!.textContent!.includes("cannot open model.onnx")
    );
    assert.match(
      await page.textContent("#model-summary") ?? "",
      /tensor "fc1\.weight" is stored in the external data file "weights\.bin", which is missing/,
    );
    await page.setInputFiles("#file", [file("model.onnx", model), file("weights.bin", data)]);
    await page.waitForFunction(() =>
      document.querySelector("#model-summary")!.textContent!.includes("with weights.bin")
    );
    assert.match(await page.textContent("#model-summary") ?? "", /model\.onnx: onnx, 3 modules/);
    await page.selectOption("#mode", "pruning");
    await page.fill("#config", '[{"op_types": ["Linear"], "sparse_ratio": 0.5}]');
    await page.waitForFunction(() =>
      document.querySelector("#validity")!.textContent!.startsWith("valid")
    );
    await page.click("#compress");
    await page.waitForSelector("#result:not([hidden])", { timeout: 60_000 });
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
    assert.equal(download.suggestedFilename(), "model.pruned.onnx");
    const saved = join(dir, "model.pruned.onnx");
    await download.saveAs(saved);
    assert.deepEqual(errors, []);
    const bytes = new Uint8Array(readFileSync(saved));
    // One self-contained file: the weights came from weights.bin, half of them now zero.
    assert.ok(decodeOnnx(bytes).tensors.every((t) => t.storage.kind !== "external"));
    const original = await runModel(mlp(), "x", [2, 32]);
    const pruned = await runModel(bytes, "x", [2, 32]);
    const d = difference(original.y, pruned.y);
    assert.ok(d.max > 0 && Number.isFinite(d.relative));
  });
});

test("the web page's registry box registers the LSTM class for the config list", {
  skip,
  timeout: 180_000,
}, async () => {
  await withSite("nncompress-web-rnn-", async ({ dir, page, errors }) => {
    await page.setInputFiles("#file", [{
      name: "lstm.onnx",
      mimeType: "application/octet-stream",
      buffer: Buffer.from(recurrent("LSTM")),
    }]);
    await page.waitForFunction(() =>
      document.querySelector("#model-summary")!.textContent!.includes("lstm.onnx: onnx")
    );
    await page.selectOption("#mode", "quantization");
    await page.fill("#config", '[{"op_names": ["rnn"], "quant_dtype": "int8"}]');
    await page.waitForFunction(() =>
      document.querySelector("#issues")!.textContent!.includes("[0].op_names[0]")
    );
    assert.match(await page.textContent("#issues") ?? "", /name its parameters in "target_names"/);
    await page.click("summary:has-text('Registry')");
    await page.fill("#registry", "{");
    await page.waitForFunction(() =>
      document.querySelector("#issues")!.textContent!.includes("the registry is not valid JSON")
    );
    await page.fill("#registry", '{"LSTM": {"weight_ih": {}, "weight_hh": {}}}');
    await page.waitForFunction(() =>
      document.querySelector("#validity")!.textContent!.startsWith("valid")
    );
    assert.match(await page.textContent("#validity") ?? "", /valid: 2 targets configured/);
    await page.click("#compress");
    await page.waitForSelector("#result:not([hidden])", { timeout: 60_000 });
    assert.match(await page.textContent("#layers") ?? "", /rnn\.weight_ih/);
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
    const saved = join(dir, "lstm.quantized.onnx");
    await download.saveAs(saved);
    assert.deepEqual(errors, []);
    const bytes = new Uint8Array(readFileSync(saved));
    assert.ok(bytes.length < recurrent("LSTM").length * 0.7, `${bytes.length}`);
    const a = await runModel(recurrent("LSTM"), "x", [6, 2, 12]);
    const b = await runModel(bytes, "x", [6, 2, 12]);
    const d = difference(a.y, b.y);
    assert.ok(d.max > 0 && d.relative < 0.03, `relative error ${d.relative}`);
  });
});
