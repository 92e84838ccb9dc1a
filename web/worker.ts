/// <reference lib="webworker" />
/**
 * The page's worker: compresses a model with the WebAssembly kernels, or checks the config list
 * against the model's modules, off the page's thread (the page runs one instance for each, so a
 * check never waits behind a compression and can be stopped on its own).
 *
 * @module
 */

import * as ort from "onnxruntime-web/wasm";
import { describeError } from "../src/compress/describe_error.ts";
import { compareOutputs } from "../src/compress/compare_outputs.ts";
import { inputFeeds } from "../src/compress/input_feeds.ts";
import type { OrtLike } from "../src/compress/ocr_eval.ts";
import { decodeOnnx } from "../src/io/onnx/decode_onnx.ts";
import { graphValueTypes } from "../src/io/onnx/graph_value_types.ts";
import { toOrtTensor } from "../src/io/onnx/ort.ts";
import { compressModel } from "../src/compress/compress_model.ts";
import { loadModel } from "../src/compress/load_model.ts";
import { namedTfjsFiles } from "../src/io/tfjs/write_tfjs.ts";
import { getKernels } from "../src/kernels/default.ts";
import type { ModuleInfo } from "../src/config/types.ts";
import type { CompareRequest, WorkerMessage, WorkerRequest } from "./protocol.ts";
import { validate } from "./_validate.ts";

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerMessage, transfer?: Transferable[]): void;
};

let modules: readonly ModuleInfo[] = [];

// onnxruntime-web's WebAssembly files are served next to this script (web/build.ts copies them);
// threads only where the page is cross-origin isolated (SharedArrayBuffer), SIMD always.
ort.env.wasm.wasmPaths = new URL("./", self.location.href).href;
const threads = (self as unknown as { crossOriginIsolated?: boolean }).crossOriginIsolated
  ? Math.max(1, Math.min(4, navigator.hardwareConcurrency ?? 1))
  : 1;
ort.env.wasm.numThreads = threads;

/** The median of some numbers. */
function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs both models on the same inputs: output agreement, and latency (median of `runs`). */
async function compare(req: CompareRequest): Promise<WorkerMessage> {
  const original = new Uint8Array(req.original);
  const compressed = new Uint8Array(req.compressed);
  const declared = graphValueTypes(decodeOnnx(original, { file: "original" })).inputs;
  const specs = req.input === undefined || declared.length === 0
    ? {}
    : { [declared[0].name]: { data: req.input.data, dims: req.input.dims } };
  const ortLike = ort as unknown as OrtLike;
  const outputs = await compareOutputs(ortLike, compressed, original, {
    inputs: specs,
    batch: 1,
  });
  const feeds = inputFeeds(declared, specs, { batch: 1 });
  const latency = async (bytes: Uint8Array) => {
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
    });
    try {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) {
        ortFeeds[name] = toOrtTensor(ortLike, t) as ort.Tensor;
      }
      const times: number[] = [];
      for (let i = 0; i < req.runs + 2; i++) {
        const t0 = performance.now();
        await session.run(ortFeeds);
        if (i >= 2) times.push(performance.now() - t0);
      }
      return median(times);
    } finally {
      await session.release();
    }
  };
  return {
    type: "compared",
    outputs: outputs.map((o) => ({
      name: o.name,
      dims: o.dims,
      cosine: o.cosine,
      maxAbsDiff: o.maxAbsDiff,
      relativeError: o.relativeError,
      ...(o.argmax === undefined ? {} : { top1: { same: o.argmax.same, total: o.argmax.total } }),
      ...(o.afterSelection === undefined ? {} : { afterSelection: o.afterSelection }),
      ...(o.beforeSelection === undefined ? {} : { beforeSelection: o.beforeSelection }),
      ...(o.matched === undefined
        ? {}
        : { matched: { cosine: o.matched.cosine, unmatched: o.matched.unmatched } }),
    })),
    latency: { original: await latency(original), compressed: await latency(compressed) },
    runs: req.runs,
    threads,
    inputs: Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, t.dims])),
  };
}

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
  if (req.type === "compare") {
    try {
      scope.postMessage(await compare(req));
    } catch (e) {
      scope.postMessage({ type: "error", error: describeError(e) });
    }
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
      ...(req.tfjs?.channelScales === true ? { channelScales: true } : {}),
      ...(req.tfjs?.equalize === true ? { equalize: true } : {}),
      ...(req.tfjs?.headroom === undefined ? {} : { headroom: req.tfjs.headroom }),
      ...(req.registry === undefined ? {} : { registry: req.registry }),
      label: `${req.mode} ${req.name}`,
      onProgress: (stage, done, total) =>
        scope.postMessage({ type: "progress", stage, done, total }),
    });
    // A weights manifest keeps its name (face-api.js loads `<name>-weights_manifest.json`), its
    // shards named after it.
    const named = files !== undefined && model.format === "tfjs" &&
        model.tfjs.kind === "weights-manifest"
      ? namedTfjsFiles(req.name.slice(req.name.lastIndexOf("/") + 1), files)
      : files;
    const out = (named === files ? bytes : named!.values().next().value!).slice()
      .buffer as ArrayBuffer;
    const all = named !== undefined && named.size > 1
      ? [...named].map(([n, b]) => [n, b.slice().buffer as ArrayBuffer] as const)
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
