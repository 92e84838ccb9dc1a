/**
 * `savePrunedFile`: writes a pruned model to a file, atomically (file-system access through
 * `src/io/fs.ts`; not part of the browser-safe core).
 *
 * @module
 */

import { writeFileAtomic } from "../io/fs.ts";
import { saveOnnx } from "../io/onnx/save_onnx.ts";
import { saveTfjsFiles } from "../io/tfjs/save_tfjs.ts";
import { tfjsSaved } from "../io/tfjs/write_tfjs.ts";
import { prunedTfjs } from "./pruned_tfjs.ts";
import type { Kernels } from "../kernels/types.ts";
import { prunedOnnxParts } from "./pruned_onnx.ts";
import { streamPrunedSafetensors } from "./pruned_safetensors.ts";
import type { PrunedModel } from "./types.ts";

/** Options of `savePrunedFile`. */
export interface SavePrunedFileOptions {
  /**
   * The path the ONNX model was read from, needed when it keeps tensors in external data files
   * (they are copied next to `path` with the masked tensors patched in).
   */
  readonly sourcePath?: string;
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
}

/**
 * Writes the masks of a pruning run into a model file at `path`, atomically (a temporary file
 * renamed over `path` when complete; on failure `path` is left as it was). ONNX models are
 * written as `prunedOnnx` describes, including models with external data files (through
 * `saveOnnx`, activation masks included); TensorFlow.js models as `prunedTfjs` does, `path`
 * being `model.json` with its shards beside it; safetensors files as `prunedSafetensors`
 * does, streamed one tensor at a time so a file opened lazily and larger than memory can be
 * written.
 *
 * @param path where to write
 * @param pruned the model view, targets and masks (a `prune()` result); the view's `source` is
 * the file that gets the masks
 * @param options the source path (ONNX external data) and kernels
 * @returns nothing; resolves when the file is in place
 * @throws {PruningError} for activation masks that the format cannot carry
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFile } from "../io/fs.ts";
 * import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { safetensorsModel } from "../model/safetensors_model.ts";
 * import { prune } from "./prune.ts";
 * import { savePrunedFile } from "./save_pruned_file.ts";
 *
 * const file = readSafetensors(writeSafetensors([
 *   { name: "fc.weight", dtype: "F32", shape: [2, 1], data: new Float32Array([1, 3]) },
 * ]));
 * const result = await prune(safetensorsModel(file), [{ op_names: ["fc"], sparse_ratio: 0.5 }]);
 * const path = `${await Deno.makeTempDir()}/fc.safetensors`;
 * await savePrunedFile(path, result);
 * const w = readSafetensors(await readFile(path)).tensors[0].data;
 * assert.deepEqual([...new Float32Array(w.slice().buffer)], [0, 3]);
 * ```
 */
export async function savePrunedFile(
  path: string,
  pruned: PrunedModel,
  options: SavePrunedFileOptions = {},
): Promise<void> {
  const from = pruned.model.source;
  if (from === undefined) {
    throw new TypeError(
      "the model has no source file to write into: build it with onnxModel() or safetensorsModel()",
    );
  }
  if (from.format === "safetensors") {
    const source = from.file;
    await writeFileAtomic(
      path,
      (sink) => streamPrunedSafetensors(source, pruned, sink, { kernels: options.kernels }),
    );
    return;
  }
  if (from.format === "tfjs") {
    const files = await prunedTfjs(from.tfjs, pruned, { kernels: options.kernels });
    return await saveTfjsFiles(path, tfjsSaved(files).files);
  }
  const source = from.onnx;
  const parts = await prunedOnnxParts(source, pruned, { kernels: options.kernels });
  const external = source.tensors.some((t) => t.storage.kind === "external");
  if (!external) return await writeFileAtomic(path, parts.bytes);
  await saveOnnx(path, source, parts.edits, { source: options.sourcePath });
}
