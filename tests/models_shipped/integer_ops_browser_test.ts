// The dynamic and bnb4 outputs in headless Chromium's onnxruntime-web (WASM backend, one
// thread): the recognizer's uint8 ConvInteger q8 file reads the 40 labelled lines as in
// onnxruntime-node, and the transformer block's MatMulBnb4 file gives onnxruntime-node's outputs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { compressModel, loadModel } from "../../mod.ts";
import { ctcDecode, evaluateOcr } from "../../src/compress/ocr_eval.ts";
import { loadOcrData, loadOcrKeys } from "../../src/compress/ocr_data.ts";
import { loadOrt } from "../io/_ocr.ts";
import { readModel, REC } from "../quantization/_ocr_eval.ts";
import { values } from "./_models.ts";
import { B, D, T, transformerBlock } from "./_integer_ops_models.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DIST = `${ROOT}node_modules/onnxruntime-web/dist/`;
const CHROMIUM = "/usr/bin/chromium";
const ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"];
const skip = existsSync(CHROMIUM) ? false : "no Chromium at /usr/bin/chromium";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
};

/** Serves a folder on 127.0.0.1 with the MIME types onnxruntime-web's loader needs. */
function serve(root: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
    const file = join(root, path === "/" ? "index.html" : path);
    if (!file.startsWith(root)) return void res.writeHead(403).end();
    try {
      const body = await readFile(file);
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      resolve({
        url: `http://127.0.0.1:${port}/`,
        close: () => new Promise((r) => server.close(() => r())),
      });
    });
  });
}

/** What the page defines. */
interface PageApi {
  runModel(
    model: string,
    input: string,
    name: string,
    dims: readonly number[],
    argmax: boolean,
  ): Promise<{ dims: number[]; data: number[] }>;
}

const PAGE = `<!doctype html><meta charset="utf-8"><script src="ort.min.js"></script>
<script>
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = location.origin + "/";
  // Runs a model on a float32 input read from a file; returns the argmax over the last axis
  // (argmax: true) or the output itself.
  window.runModel = async (model, input, name, dims, argmax) => {
    const bytes = new Uint8Array(await (await fetch(model)).arrayBuffer());
    const data = new Float32Array(await (await fetch(input)).arrayBuffer());
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
    const out = await session.run({ [name]: new ort.Tensor("float32", data, dims) });
    const y = out[session.outputNames[0]];
    if (!argmax) return { dims: y.dims, data: Array.from(y.data) };
    const c = y.dims[y.dims.length - 1];
    const best = [];
    for (let i = 0; i < y.data.length / c; i++) {
      let b = 0;
      for (let k = 1; k < c; k++) if (y.data[i * c + k] > y.data[i * c + b]) b = k;
      best.push(b);
    }
    return { dims: y.dims, data: best };
  };
</script>`;

test(
  "headless Chromium's onnxruntime-web runs the recognizer's uint8 ConvInteger q8 file (40/40) and a MatMulBnb4 block",
  {
    skip,
    timeout: 300_000,
  },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "nncompress-intops-"));
    // ort.min.js loads the JSEP build of the WASM backend (its CPU kernels are the plain one's).
    for (
      const f of [
        "ort.min.js",
        "ort-wasm-simd-threaded.jsep.mjs",
        "ort-wasm-simd-threaded.jsep.wasm",
      ]
    ) {
      copyFileSync(DIST + f, join(dir, f));
    }
    writeFileSync(join(dir, "index.html"), PAGE);
    const rec = await readModel(REC);
    const q8 = await compressModel(loadModel(rec, "rec.onnx"), {
      mode: "quantization",
      configList: [{
        op_types: ["Conv2d", "Linear"],
        target_names: ["weight"],
        quant_dtype: "int8",
        quant_scheme: "symmetric",
        granularity: "per_channel",
      }],
      storage: "dynamic",
      dynamic: { uint8WhenConv: true },
    });
    const block = transformerBlock();
    const bnb4 = await compressModel(loadModel(block, "block.onnx"), {
      mode: "quantization",
      configList: [{ op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int4" }],
      storage: "bnb4",
    });
    const data = await loadOcrData();
    const keys = await loadOcrKeys();
    const x = values(B * T * D, 7, 1);
    const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    writeFileSync(join(dir, "rec.q8.onnx"), q8.bytes);
    writeFileSync(join(dir, "rec.input"), bytesOf(data.rec.input));
    writeFileSync(join(dir, "block.bnb4.onnx"), bnb4.bytes);
    writeFileSync(join(dir, "block.input"), bytesOf(x));
    const site = await serve(dir);
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ARGS,
      timeout: 30_000,
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(site.url);
      await page.waitForFunction(() => "runModel" in globalThis);
      const recOut = await page.evaluate(
        ([dims]) =>
          (globalThis as unknown as PageApi).runModel("rec.q8.onnx", "rec.input", "x", dims, true),
        [[...data.rec.dims]],
      ) as { dims: number[]; data: number[] };
      // The page's argmax per step, decoded as CTC like the evaluation does.
      const [n, steps, classes] = recOut.dims;
      const texts = Array.from({ length: n }, (_, i) => {
        const oneHot = new Float32Array(steps * classes);
        for (let s = 0; s < steps; s++) oneHot[s * classes + recOut.data[i * steps + s]] = 1;
        return ctcDecode(oneHot, [1, steps, classes], keys)[0];
      });
      const exact = texts.filter((t, i) => t === data.labels.texts[i]).length;
      const node = await evaluateOcr(await loadOrt(), q8.bytes, "recognizer", data, keys);
      assert.equal(node.correct, 40);
      assert.equal(exact, 40, "Chromium onnxruntime-web");
      assert.deepEqual(texts, node.predictions);
      const blockOut = await page.evaluate(
        ([dims]) =>
          (globalThis as unknown as PageApi).runModel(
            "block.bnb4.onnx",
            "block.input",
            "x",
            dims,
            false,
          ),
        [[B, T, D]],
      ) as { dims: number[]; data: number[] };
      const ort = await loadOrt();
      const session = await ort.InferenceSession.create(bnb4.bytes);
      const ref = (await session.run({ x: new ort.Tensor("float32", x, [B, T, D]) })).y
        .data as Float32Array;
      let worst = 0;
      for (let i = 0; i < ref.length; i++) {
        worst = Math.max(
          worst,
          Math.abs(ref[i] - blockOut.data[i]),
        );
      }
      assert.ok(worst < 1e-3, `largest difference from onnxruntime-node ${worst}`);
      assert.deepEqual(errors, []);
      console.log(
        `Chromium: recognizer q8 ${exact}/40, bnb4 block within ${worst} of onnxruntime-node`,
      );
    } finally {
      await browser.close();
      await site.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
