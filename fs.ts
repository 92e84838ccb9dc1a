/**
 * File-system helpers for Deno, Bun and Node (kept out of `mod.ts` so the core stays usable in
 * browsers and edge functions): read files, open them for random access, write atomically
 * (temporary file + rename), and save ONNX models with external data.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFile, writeFileAtomic } from "./fs.ts";
 *
 * const path = `${await Deno.makeTempDir()}/hello.bin`;
 * await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
 * assert.deepEqual([...await readFile(path)], [1, 2, 3]);
 * ```
 *
 * @module
 */

export {
  externalDataFiles,
  type FileSource,
  makeDir,
  openFile,
  readFile,
  writeFileAtomic,
  writeFileRange,
} from "./src/io/fs.ts";
export { saveOnnx, type SaveOnnxOptions } from "./src/io/onnx/save_onnx.ts";
export { writeReport } from "./src/report/write_report.ts";
export {
  type PruneFileOptions,
  pruneSafetensorsFile,
} from "./src/compress/prune_safetensors_file.ts";
export type { StreamedFileOptions } from "./src/compress/_safetensors_parts.ts";
export {
  type QuantizeFileOptions,
  quantizeSafetensorsFile,
} from "./src/compress/quantize_safetensors_file.ts";
export {
  quantizationConfigPath,
  writeQuantizationConfig,
} from "./src/compress/quantization_config_file.ts";
export { savePrunedFile, type SavePrunedFileOptions } from "./src/pruning/save_pruned_file.ts";
export type { ExternalDataFiles, FileProducer } from "./src/io/fs.ts";
export type { Progress } from "./src/compress/compress_model.ts";
export { saveQuantizedFile } from "./src/quantization/save_quantized_file.ts";
export {
  copyFileAtomic,
  exitCleanlyOnSignals,
  type FilePatch,
  readFileBounded,
  type ReadFileBoundedOptions,
  removeStaleTempFiles,
  removeTempFiles,
} from "./src/io/fs.ts";
export { FileError, type FileErrorCode, type FileErrorOptions } from "./src/io/file_error.ts";
export {
  MAX_CONFIG_BYTES,
  readConfigList,
  type ReadConfigListOptions,
} from "./src/compress/read_config_list.ts";
export { readModelFile, type ReadModelFileOptions } from "./src/compress/read_model_file.ts";
export {
  type OpenedCheckpoint,
  openShardedCheckpoint,
  outputShardNames,
  readShardedModel,
  readShardIndexFile,
  type ShardIndexFile,
  splitIntoShards,
  writeShardedFiles,
} from "./src/compress/sharded_checkpoint.ts";
export { readTfjsFile, readTfjsFiles, saveTfjsFiles } from "./src/io/tfjs/save_tfjs.ts";
