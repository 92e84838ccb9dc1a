/// <reference lib="webworker" />
/**
 * The page's worker: compresses a model with the WebAssembly kernels, or checks the config list
 * against the model's modules, off the page's thread (the page runs one instance for each, so a
 * check never waits behind a compression and can be stopped on its own).
 *
 * @module
 */

import { describeError } from "../src/compress/describe_error.ts";
import { compressModel } from "../src/compress/compress_model.ts";
import { loadModel } from "../src/compress/load_model.ts";
import { getKernels } from "../src/kernels/default.ts";
import type { ModuleInfo } from "../src/config/types.ts";
import type { WorkerMessage, WorkerRequest } from "./protocol.ts";
import { validate } from "./_validate.ts";

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerMessage, transfer?: Transferable[]): void;
};

let modules: readonly ModuleInfo[] = [];

scope.onmessage = async (event) => {
  const req = event.data;
  if (req.type === "modules") {
    modules = req.modules;
    return;
  }
  if (req.type === "validate") {
    const validation = validate(req.text, modules, req.mode, req.algorithm, req.registry);
    scope.postMessage({ type: "validation", id: req.id, validation });
    return;
  }
  try {
    const shards = new Map((req.shards ?? []).map(([n, b]) => [n, new Uint8Array(b)]));
    const model = loadModel(new Uint8Array(req.bytes), req.name, { shards });
    const { bytes, files, report } = await compressModel(model, {
      mode: req.mode,
      configList: req.configList,
      algorithm: req.algorithm,
      storage: req.storage,
      ...(req.registry === undefined ? {} : { registry: req.registry }),
      label: `${req.mode} ${req.name}`,
      onProgress: (stage, done, total) =>
        scope.postMessage({ type: "progress", stage, done, total }),
    });
    const out = bytes.slice().buffer as ArrayBuffer;
    const all = files !== undefined && files.size > 1
      ? [...files].map(([n, b]) => [n, b.slice().buffer as ArrayBuffer] as const)
      : undefined;
    scope.postMessage(
      {
        type: "done",
        bytes: out,
        ...(all === undefined ? {} : { files: all }),
        report,
        kernels: getKernels().name,
      },
      [out, ...(all ?? []).map(([, b]) => b)],
    );
  } catch (e) {
    scope.postMessage({ type: "error", error: describeError(e) });
  }
};
