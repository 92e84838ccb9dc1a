// The transformers.js variants in headless Chromium's onnxruntime-web (WASM backend, one
// thread): the recognizer's uint8 ConvInteger q8 file and its fp16, q4 (MatMulNBits) and q4f16
// variants read the labelled lines as in onnxruntime-node, and the transformer block's
// MatMulBnb4 file gives onnxruntime-node's outputs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { compressModel, loadModel } from "../../mod.ts";
import { compressVariants } from "../../src/compress/variants.ts";
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
  "headless Chromium's onnxruntime-web runs the recognizer's q8 (uint8 ConvInteger), fp16, q4 and q4f16 variants and a MatMulBnb4 block",
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
    const half = await compressVariants(loadModel(rec, "rec.onnx"), {
      modes: ["fp16", "q4", "q4f16"],
    });
    assert.deepEqual(half.failed.map((f) => f.mode), []);
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
    for (const v of half.variants) writeFileSync(join(dir, v.file), v.bytes);
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
      // Runs a recognizer file in the page; its argmax per step decoded as CTC like the
      // evaluation does.
      const readLines = async (file: string) => {
        const out = await page.evaluate(
          ([f, dims]) =>
            (globalThis as unknown as PageApi).runModel(
              f as string,
              "rec.input",
              "x",
              dims as number[],
              true,
            ),
          [file, [...data.rec.dims]],
        ) as { dims: number[]; data: number[] };
        const [n, steps, classes] = out.dims;
        return Array.from({ length: n }, (_, i) => {
          const oneHot = new Float32Array(steps * classes);
          for (let s = 0; s < steps; s++) oneHot[s * classes + out.data[i * steps + s]] = 1;
          return ctcDecode(oneHot, [1, steps, classes], keys)[0];
        });
      };
      const ortNode = await loadOrt();
      const exactCount = (texts: string[]) =>
        texts.filter((t, i) => t === data.labels.texts[i]).length;
      const texts = await readLines("rec.q8.onnx");
      const exact = exactCount(texts);
      const node = await evaluateOcr(ortNode, q8.bytes, "recognizer", data, keys);
      assert.equal(node.correct, 40);
      assert.equal(exact, 40, "Chromium onnxruntime-web");
      assert.deepEqual(texts, node.predictions);
      const lines: Record<string, number> = { q8: exact };
      for (const v of half.variants) {
        const web = await readLines(v.file);
        const ref = await evaluateOcr(ortNode, v.bytes, "recognizer", data, keys);
        lines[v.mode] = exactCount(web);
        // The same lines as onnxruntime-node (kernels differ in summation order only).
        assert.ok(
          web.filter((t, i) => t === ref.predictions[i]).length >= 39,
          `${v.mode}: Chromium and onnxruntime-node disagree on more than one line`,
        );
      }
      assert.equal(lines.fp16, 40, "fp16 in Chromium");
      assert.ok(lines.q4 >= 39, `q4 in Chromium: ${lines.q4}/40`);
      assert.ok(lines.q4f16 >= 39, `q4f16 in Chromium: ${lines.q4f16}/40`);
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
      const session = await ortNode.InferenceSession.create(bnb4.bytes);
      const ref = (await session.run({ x: new ortNode.Tensor("float32", x, [B, T, D]) })).y
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
        `Chromium: recognizer lines ${
          JSON.stringify(lines)
        }/40, bnb4 block within ${worst} of onnxruntime-node`,
      );
    } finally {
      await browser.close();
      await site.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
