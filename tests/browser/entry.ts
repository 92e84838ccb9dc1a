// Bundled by scripts/browser_test.mjs and run in headless Chromium: the WASM kernels (compiled
// synchronously from the inlined bytes) against the TypeScript reference on a deterministic
// subset of the conformance checks.
import { createWasmKernels, wasmSimdSupported } from "../../src/kernels/wasm.ts";
import { runBrowserSubset } from "../kernels/browser_subset.ts";

declare global {
  var __nncompressResult: unknown;
}

try {
  const simd = wasmSimdSupported();
  const result = runBrowserSubset(createWasmKernels());
  globalThis.__nncompressResult = { simd, ...result };
} catch (error) {
  globalThis.__nncompressResult = {
    passed: 0,
    failed: 1,
    failures: [`browser entry threw: ${(error as Error)?.stack ?? error}`],
  };
}
