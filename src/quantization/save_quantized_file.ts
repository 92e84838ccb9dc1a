/**
 * `saveQuantizedFile`: writes a quantized model file atomically (file-system access through
 * `src/io/fs.ts`; not part of the browser-safe core, which returns bytes from `save()`).
 *
 * @module
 */

import { writeFileAtomic } from "../io/fs.ts";
import { saveTfjsFiles } from "../io/tfjs/save_tfjs.ts";
import type { QuantizedStorage, QuantizeResult } from "./quantize.ts";

/**
 * Builds the quantized file with `result.save(storage)` and writes it to `path`
 * atomically: the bytes go to a temporary file in the same folder that is renamed over `path`
 * only when complete. When building fails (e.g. `qdq` for a safetensors source) nothing is
 * written; when writing fails the temporary file is removed and `path` is left as it was.
 *
 * @param path Where to write.
 * @param result A `quantize()` result.
 * @param storage `float` (default), `qdq` (ONNX only) or `int` (see `QuantizeResult.save`).
 * @returns Nothing; resolves when the file is in place.
 * @throws {QuantizationError} Code `storage` when the storage does not fit the source.
 * @throws {Error} The runtime's error when the file cannot be written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFile } from "../io/fs.ts";
 * import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { safetensorsModel } from "../model/safetensors_model.ts";
 * import { quantize } from "./quantize.ts";
 * import { saveQuantizedFile } from "./save_quantized_file.ts";
 *
 * const file = readSafetensors(writeSafetensors([
 *   { name: "fc.weight", dtype: "F32", shape: [1, 2], data: Float32Array.of(1, -0.5) },
 * ]));
 * const result = await quantize(safetensorsModel(file), [
 *   { op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int8" },
 * ]);
 * const path = `${await Deno.makeTempDir()}/fc.int8.safetensors`;
 * await saveQuantizedFile(path, result, "int");
 * const names = readSafetensors(await readFile(path)).tensors.map((t) => t.name);
 * assert.deepEqual(names.sort(), ["fc.weight", "fc.weight_scale", "fc.weight_zero_point"]);
 * ```
 */
export async function saveQuantizedFile(
  path: string,
  result: Pick<QuantizeResult, "save">,
  storage: QuantizedStorage = "float",
): Promise<void> {
  const bytes = await result.save(storage);
  // A TensorFlow.js model: `path` is model.json, its shards go beside it.
  if (bytes.files !== undefined) return await saveTfjsFiles(path, bytes.files);
  await writeFileAtomic(path, bytes);
}
