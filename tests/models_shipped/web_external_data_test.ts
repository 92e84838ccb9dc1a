// The web page opens an ONNX model together with its external data file (two files selected at
// once), compresses it, and the download runs in onnxruntime like the original.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { buildWeb } from "../../web/build.ts";
import { serveStatic } from "../../web/static_server.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { externalMlp, mlp } from "./_models.ts";
import { difference, runModel } from "./_ort.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"];
const skip = existsSync(CHROMIUM) ? false : "no Chromium at /usr/bin/chromium";

test("the web page takes a model with its data file and the download runs in onnxruntime", {
  skip,
  timeout: 180_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "nncompress-web-ext-"));
  await buildWeb(join(dir, "site"));
  const site = await serveStatic(join(dir, "site"));
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
  const { model, data } = externalMlp();
  const file = (name: string, bytes: Uint8Array) => ({
    name,
    mimeType: "application/octet-stream",
    buffer: Buffer.from(bytes),
  });
  try {
    const page = await browser.newPage({ acceptDownloads: true });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(site.url);
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
  } finally {
    await browser.close();
    await site.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
