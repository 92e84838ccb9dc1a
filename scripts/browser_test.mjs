// Bundles tests/browser/entry.ts with esbuild, loads it in headless Chromium (Debian's
// /usr/bin/chromium driven by playwright-core; never a downloaded browser) and writes
// {passed, failed, skipped} to the file given as the first argument.
// Without Chromium the check is skipped with a notice, unless NNCOMPRESS_REQUIRE_BROWSER=1.
import { existsSync, writeFileSync } from "node:fs";
import { build } from "esbuild";

const outFile = process.argv[2];
const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const write = (r) => writeFileSync(outFile, JSON.stringify(r));

if (!existsSync(chromium)) {
  const msg = `browser: no Chromium at ${chromium} (apt-get install chromium); skipped`;
  if (process.env.NNCOMPRESS_REQUIRE_BROWSER === "1") {
    console.log(`${msg.replace("; skipped", "")}: failing because NNCOMPRESS_REQUIRE_BROWSER=1`);
    write({ passed: 0, failed: 1, skipped: 0 });
  } else {
    console.log(msg);
    write({ passed: 0, failed: 0, skipped: 1 });
  }
  process.exit(0);
}

const bundle = await build({
  entryPoints: ["tests/browser/entry.ts"],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  write: false,
});
const code = bundle.outputFiles[0].text;

const { chromium: pw } = await import("playwright-core");
const browser = await pw.launch({
  executablePath: chromium,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.setContent("<!doctype html><title>nncompress browser check</title>");
  await page.addScriptTag({ content: code, type: "module" });
  await page.waitForFunction(() => globalThis.__nncompressResult !== undefined, null, {
    timeout: 60_000,
  });
  const result = await page.evaluate(() => globalThis.__nncompressResult);
  for (const f of result.failures ?? []) console.log(`  FAILED ${f}`);
  for (const e of errors) console.log(`  page error: ${e}`);
  const failed = result.failed + errors.length;
  console.log(`browser: ${result.passed} checks passed, ${failed} failed (simd: ${result.simd})`);
  // The whole subset counts as one test in the summary.
  write({ passed: failed === 0 ? 1 : 0, failed: failed === 0 ? 0 : 1, skipped: 0 });
} finally {
  await browser.close();
}
