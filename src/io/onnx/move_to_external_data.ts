/**
 * `moveToExternalData`: an ONNX model with its large initializers moved into one external data
 * file, both held in memory.
 *
 * @module
 */

import { ModelFormatError } from "../model_format_error.ts";
import { encodeOnnxWithExternal, type OnnxReplacement } from "./encode_onnx.ts";
import type { OnnxModel } from "./onnx_types.ts";

/** The value of a `Constant` node of the main graph (exporters such as Paddle2ONNX use these). */
const MAIN_CONSTANT = /^graph\.node\[\d+\]\.attribute\[\d+\]\.t$/;

/** Options of `moveToExternalData`. */
export interface MoveToExternalDataOptions {
  /**
   * Initializers of at least this many bytes move (default 1024, as `onnx.save_model`'s
   * `size_threshold`); smaller ones stay in the model.
   */
  readonly minBytes?: number;
}

/** A model split into its `.onnx` bytes and one external data file. */
export interface SplitOnnx {
  /** The `.onnx` bytes; moved tensors refer to `location`. */
  readonly bytes: Uint8Array;
  /** The data file's `location`, relative to the model's folder. */
  readonly location: string;
  /** The data file's bytes (each tensor at an offset aligned to 4096 bytes). */
  readonly data: Uint8Array;
  /** The names of the moved tensors. */
  readonly moved: readonly string[];
}

/**
 * Writes a self-contained model as a `.onnx` file plus one external data file, the layout the
 * ONNX tools use for models over protobuf's 2 GiB limit: every main-graph initializer and
 * main-graph `Constant` value (onnxruntime reads both from external data) of at least `minBytes`
 * bytes stored as `raw_data` (the form exporters write) moves to `location`, at an offset
 * aligned to 4096 bytes, with `location`, `offset` and `length` in its `external_data`.
 * Typed-field (`float_data`, …) and sparse tensors and tensors inside subgraphs stay where they
 * are. Write the data file before the `.onnx` file, so the model never refers to a file not yet
 * written.
 *
 * @param model The decoded model (tensors already external stay in their own files).
 * @param location The data file's path relative to the model's folder (`model.onnx.data`).
 * @param options The size threshold.
 * @returns The model bytes, the data file and the moved tensor names.
 * @throws {ModelFormatError} When `location` is empty, absolute or leaves the model's folder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildOnnx } from "./build_onnx.ts";
 * import { decodeOnnx } from "./decode_onnx.ts";
 * import { moveToExternalData } from "./move_to_external_data.ts";
 *
 * const w = new Uint8Array(new Float32Array(512).fill(0.5).buffer);
 * const model = decodeOnnx(buildOnnx({
 *   opsets: [{ domain: "", version: 13 }],
 *   nodes: [{ name: "add", opType: "Add", inputs: ["x", "w"], outputs: ["y"] }],
 *   initializers: [{ name: "w", dataType: 1, dims: [512], raw: w }],
 *   inputs: [{ name: "x", type: { elemType: 1, dims: [512] } }],
 *   outputs: [{ name: "y", type: { elemType: 1, dims: [512] } }],
 * }));
 * const split = moveToExternalData(model, "m.onnx.data");
 * assert.deepEqual(split.moved, ["w"]);
 * assert.equal(split.data.length, 2048);
 * assert.ok(split.bytes.length < 200);
 * assert.throws(() => moveToExternalData(model, "../m.data"), /inside the model's folder/);
 * ```
 */
export function moveToExternalData(
  model: OnnxModel,
  location: string,
  options: MoveToExternalDataOptions = {},
): SplitOnnx {
  if (
    location === "" || /^([\\/]|[A-Za-z]:)/.test(location) ||
    location.split(/[\\/]/).includes("..")
  ) {
    throw new ModelFormatError(
      `external data location ${
        JSON.stringify(location)
      } must be a relative path inside the model's folder`,
      { file: model.file, field: "external_data.location" },
    );
  }
  const minBytes = options.minBytes ?? 1024;
  const replacements = new Map<string, OnnxReplacement>();
  for (const t of model.tensors) {
    if (
      !(t.path.startsWith("graph.initializer[") || MAIN_CONSTANT.test(t.path)) ||
      replacements.has(t.name) ||
      t.storage.kind !== "raw" || t.storage.end - t.storage.start < minBytes
    ) continue;
    const bytes = model.bytes.subarray(t.storage.start, t.storage.end);
    replacements.set(t.name, { bytes, external: location });
  }
  const { bytes, external } = encodeOnnxWithExternal(model, replacements, {
    externalSizes: new Map([[location, 0]]),
  });
  const mine = external.filter((p) => p.location === location);
  const size = mine.reduce((n, p) => Math.max(n, p.offset + p.bytes.length), 0);
  const data = new Uint8Array(size);
  for (const p of mine) data.set(p.bytes, p.offset);
  return { bytes, location, data, moved: [...replacements.keys()] };
}
