// TensorFlow.js for `eval --reference` on model.json files: tfjs-core on the CPU backend or the
// WebAssembly one (`@tensorflow/tfjs-backend-wasm`, what web pages use where WebGL/WebGPU are
// absent), the converter's loadGraphModel and tfjs-layers' loadLayersModel, loaded on first use.
import type { TfjsRuntime } from "../../compress/compare_tfjs.ts";
import { CliError } from "../cli_error.ts";

const PACKAGES =
  "@tensorflow/tfjs-core @tensorflow/tfjs-backend-cpu @tensorflow/tfjs-converter @tensorflow/tfjs-layers";

/** A tfjs backend `eval` runs models on. */
export type TfjsBackend = "cpu" | "wasm";

/**
 * Loads tfjs with the given backend (default CPU); a CliError with the install line when a
 * package is missing. tfjs has one active backend at a time: the runtime returned runs on the
 * backend of the last call.
 */
export async function loadTfjs(backend: TfjsBackend = "cpu"): Promise<TfjsRuntime> {
  let tf;
  let converter;
  let layers;
  try {
    tf = await import("@tensorflow/tfjs-core");
    await import("@tensorflow/tfjs-backend-cpu");
    converter = await import("@tensorflow/tfjs-converter");
    layers = await import("@tensorflow/tfjs-layers");
  } catch (e) {
    throw new CliError(`cannot load TensorFlow.js: ${(e as Error).message}`, {
      hint: `install it with: npm i -D ${PACKAGES}`,
      cause: e,
    });
  }
  if (backend === "wasm") {
    try {
      await import("@tensorflow/tfjs-backend-wasm");
    } catch (e) {
      throw new CliError(
        `--backend wasm needs @tensorflow/tfjs-backend-wasm: ${(e as Error).message}`,
        {
          hint: "install it with: npm i -D @tensorflow/tfjs-backend-wasm, or use --backend cpu",
          cause: e,
        },
      );
    }
  }
  // No "install tfjs-node" banner on stdout.
  tf.env().set("PROD", true);
  if (!await tf.setBackend(backend)) {
    throw new CliError(`TensorFlow.js could not start its ${backend} backend`);
  }
  return {
    tf,
    loadGraphModel: (h) => converter.loadGraphModel(h),
    loadLayersModel: (h) => layers.loadLayersModel(h),
  };
}
