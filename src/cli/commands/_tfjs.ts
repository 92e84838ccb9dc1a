// TensorFlow.js for `eval --reference` on model.json files: tfjs-core on the CPU backend, the
// converter's loadGraphModel and tfjs-layers' loadLayersModel, loaded on first use.
import type { TfjsRuntime } from "../../compress/compare_tfjs.ts";
import { CliError } from "../cli_error.ts";

const PACKAGES =
  "@tensorflow/tfjs-core @tensorflow/tfjs-backend-cpu @tensorflow/tfjs-converter @tensorflow/tfjs-layers";

/** Loads tfjs with the CPU backend; a CliError with the install line when it is missing. */
export async function loadTfjs(): Promise<TfjsRuntime> {
  try {
    const tf = await import("@tensorflow/tfjs-core");
    await import("@tensorflow/tfjs-backend-cpu");
    const converter = await import("@tensorflow/tfjs-converter");
    const layers = await import("@tensorflow/tfjs-layers");
    // No "install tfjs-node" banner on stdout.
    tf.env().set("PROD", true);
    await tf.setBackend("cpu");
    return {
      tf,
      loadGraphModel: (h) => converter.loadGraphModel(h),
      loadLayersModel: (h) => layers.loadLayersModel(h),
    };
  } catch (e) {
    throw new CliError(`cannot load TensorFlow.js: ${(e as Error).message}`, {
      hint: `install it with: npm i -D ${PACKAGES}`,
      cause: e,
    });
  }
}
