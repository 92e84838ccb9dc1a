/**
 * Builds the in-browser compressor into a static folder: `index.html`, `style.css`, the bundled
 * `main.js` and `worker.js` (esbuild, ES modules, minified), the service worker `sw.js` that
 * keeps the page working offline once loaded, and onnxruntime-web's WebAssembly build
 * (`ort-wasm-simd-threaded.wasm`/`.mjs`, the comparison's runtime).
 *
 *     npx deno run -A web/build.ts [out-folder]     (default web/dist)
 *
 * @module
 */

import { copyFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { build } from "esbuild";

const HERE = new URL(".", import.meta.url).pathname;

/** onnxruntime-web's WebAssembly runtime (SIMD, threads when the page is cross-origin isolated). */
export const ORT_FILES = ["ort-wasm-simd-threaded.wasm", "ort-wasm-simd-threaded.mjs"];

/**
 * Bundles the page into `outDir`.
 *
 * @param outDir The destination folder (created if missing).
 * @returns The sizes of the bundles in bytes.
 */
export async function buildWeb(outDir: string): Promise<Record<string, number>> {
  await mkdir(outDir, { recursive: true });
  const result = await build({
    entryPoints: {
      main: join(HERE, "main.ts"),
      worker: join(HERE, "worker.ts"),
      sw: join(HERE, "sw.ts"),
    },
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    outdir: outDir,
    metafile: true,
    logLevel: "silent",
  });
  await copyFile(join(HERE, "index.html"), join(outDir, "index.html"));
  await copyFile(join(HERE, "style.css"), join(outDir, "style.css"));
  const ortDist = join(HERE, "..", "node_modules", "onnxruntime-web", "dist");
  for (const f of ORT_FILES) await copyFile(join(ortDist, f), join(outDir, f));
  return Object.fromEntries(
    Object.entries(result.metafile.outputs).map(([k, v]) => [k.split("/").pop()!, v.bytes]),
  );
}

if (import.meta.main) {
  const out = process.argv[2] ?? join(HERE, "dist");
  const sizes = await buildWeb(out);
  for (const [file, bytes] of Object.entries(sizes)) {
    console.log(`${file}  ${(bytes / 1024).toFixed(1)} KiB`);
  }
  console.log(`built ${out}`);
}
