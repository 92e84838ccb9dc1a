// TensorFlow.js for `eval --reference` on model.json files: tfjs-core on the CPU backend or the
// WebAssembly one (`@tensorflow/tfjs-backend-wasm`, what web pages use where WebGL/WebGPU are
// absent), the converter's loadGraphModel and tfjs-layers' loadLayersModel, loaded on first use.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { TfjsRuntime } from "../../compress/compare_tfjs.ts";
import { CliError } from "../cli_error.ts";

const PACKAGES =
  "@tensorflow/tfjs-core @tensorflow/tfjs-backend-cpu @tensorflow/tfjs-converter @tensorflow/tfjs-layers";

/** A tfjs backend `eval` runs models on. */
export type TfjsBackend = "cpu" | "wasm";

/**
 * The hint of a tfjs error that names a layer class tfjs-layers does not know, or an op the
 * converter does not run.
 */
export function tfjsSetupHint(message: string): string | undefined {
  if (/Unknown layer/i.test(message)) {
    return "the model has a custom layer: register it with --tfjs-setup <module.js>, a module " +
      "whose default export takes tf and calls tf.serialization.registerClass (as the package " +
      "that ships the model does before loading it)";
  }
  return /Unknown op '/.test(message)
    ? "the graph has an op tfjs does not run: give it an implementation with --tfjs-setup " +
      "<module.js>, a module whose default export takes tf and calls tf.registerOp"
    : undefined;
}

/**
 * Runs a `--tfjs-setup` module: its default export, its `setup` export, or the `setup` of its
 * default export (an UpscalerJS model definition), called with tf (tfjs-core, the converter and
 * tfjs-layers in one namespace: `tf.layers.Layer`, `tf.serialization.registerClass`,
 * `tf.registerOp`, the ops).
 */
async function runSetup(path: string, tf: Record<string, unknown>): Promise<void> {
  const fn = await moduleFunction(
    "tfjs-setup",
    path,
    (mod) => {
      const def = mod.default as { setup?: unknown } | undefined;
      return [def, mod.setup, def?.setup];
    },
    "export default (tf) => { … } (or setup)",
  ) as (tf: unknown) => unknown;
  try {
    await fn(tf);
  } catch (e) {
    throw new CliError(`--tfjs-setup ${path} failed: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * The function a module given on the command line (`--<flag> <path>`) exports: the first of
 * `candidates(module)` that is a function; a CliError naming the flag and file when the module
 * does not load or exports none (`expected` says what it should export).
 */
export async function moduleFunction(
  flag: string,
  path: string,
  candidates: (mod: Record<string, unknown>) => unknown[],
  expected: string,
): Promise<(...args: never[]) => unknown> {
  let mod: Record<string, unknown>;
  try {
    mod = await import(pathToFileURL(resolve(path)).href);
  } catch (e) {
    throw new CliError(`cannot load --${flag} ${path}: ${(e as Error).message}`, { cause: e });
  }
  const fn = candidates(mod).find((f) => typeof f === "function");
  if (fn === undefined) throw new CliError(`--${flag} ${path} exports no function: ${expected}`);
  return fn as (...args: never[]) => unknown;
}

/**
 * Loads tfjs with the given backend (default CPU); a CliError with the install line when a
 * package is missing. tfjs has one active backend at a time: the runtime returned runs on the
 * backend of the last call. `setup`: a module run once tfjs is loaded, to register the custom
 * layers of a layers model (`--tfjs-setup`).
 */
export async function loadTfjs(
  backend: TfjsBackend = "cpu",
  setup?: string,
): Promise<TfjsRuntime> {
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
  if (setup !== undefined) await runSetup(setup, { ...tf, ...converter, ...layers });
  return {
    tf,
    loadGraphModel: (h) => converter.loadGraphModel(h),
    loadLayersModel: (h) =>
      layers.loadLayersModel(h).catch((e) => {
        const hint = tfjsSetupHint((e as Error).message);
        throw hint === undefined ? e : new CliError((e as Error).message, { hint, cause: e });
      }),
  };
}
