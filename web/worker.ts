/// <reference lib="webworker" />
/**
 * The compression worker: runs the config list on the model off the page's thread, with the
 * WebAssembly kernels.
 *
 * @module
 */

import { describeError } from "../src/compress/describe_error.ts";
import { compressModel } from "../src/compress/compress_model.ts";
import { loadModel } from "../src/compress/load_model.ts";
import { getKernels } from "../src/kernels/default.ts";
import type { CompressRequest, WorkerMessage } from "./protocol.ts";

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<CompressRequest>) => void) | null;
  postMessage(message: WorkerMessage, transfer?: Transferable[]): void;
};

scope.onmessage = async (event) => {
  const req = event.data;
  try {
    const model = loadModel(new Uint8Array(req.bytes), req.name);
    const { bytes, report } = await compressModel(model, {
      mode: req.mode,
      configList: req.configList,
      algorithm: req.algorithm,
      storage: req.storage,
      label: `${req.mode} ${req.name}`,
      onProgress: (stage, done, total) =>
        scope.postMessage({ type: "progress", stage, done, total }),
    });
    const out = bytes.slice().buffer as ArrayBuffer;
    scope.postMessage({ type: "done", bytes: out, report, kernels: getKernels().name }, [out]);
  } catch (e) {
    scope.postMessage({ type: "error", error: describeError(e) });
  }
};
