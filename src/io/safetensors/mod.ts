/**
 * safetensors files (subpath `nncompress/safetensors`): read whole or open lazily (tensors read on
 * demand from any random-access source), write in memory or streamed to a sink.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSafetensors, writeSafetensors } from "./mod.ts";
 *
 * const bytes = writeSafetensors([{ name: "w", dtype: "F32", shape: [2], data: new Float32Array([1, 2]) }]);
 * assert.deepEqual(readSafetensors(bytes).tensors.map((t) => t.name), ["w"]);
 * ```
 *
 * @module
 */

export { MAX_HEADER_BYTES, type SafetensorsEntry, type SafetensorsHeader } from "./parse_header.ts";
export {
  readSafetensors,
  type ReadSafetensorsOptions,
  type SafetensorsFile,
  type SafetensorsTensor,
} from "./read_safetensors.ts";
export {
  type LazySafetensors,
  openSafetensors,
  type OpenSafetensorsOptions,
} from "./open_safetensors.ts";
export {
  type ByteSink,
  collectSafetensors,
  type OutputFile,
  type SafetensorsInput,
  type SafetensorsStreamInput,
  streamSafetensors,
  writeSafetensors,
  type WriteSafetensorsOptions,
} from "./write_safetensors.ts";
export {
  isShardIndexPath,
  parseShardIndex,
  type ShardIndex,
  shardIndexText,
} from "./shard_index.ts";
export { bytesSource, type RandomAccessSource } from "../random_access.ts";
export { ModelFormatError, type ModelFormatErrorOptions } from "../model_format_error.ts";
