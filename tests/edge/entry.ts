// Bundled by scripts/edge_test.mjs and run by Deno with no permissions at all: the library must
// work where there is no file system, no network and no environment (edge functions).
import { createWasmKernels } from "../../src/kernels/wasm.ts";
import { runBrowserSubset } from "../kernels/browser_subset.ts";

const result = runBrowserSubset(createWasmKernels());
for (const f of result.failures) console.log(`  FAILED ${f}`);
console.log(JSON.stringify({ passed: result.passed, failed: result.failed }));
