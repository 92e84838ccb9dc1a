// Cloudflare Workers entry: Workers forbid compiling WebAssembly from bytes at run time, so the
// kernels come in as a module that wrangler compiles at deploy time (wrangler.toml in this folder).
import kernels from "../wasm/kernels.wasm";
import { createHandler } from "./handler.ts";

export default createHandler({ wasmModule: kernels });
