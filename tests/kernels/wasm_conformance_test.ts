import { createWasmKernels } from "../../src/kernels/wasm.ts";
import { runConformanceSuite } from "./conformance_suite.ts";

runConformanceSuite({ name: "wasm", create: () => createWasmKernels() });
