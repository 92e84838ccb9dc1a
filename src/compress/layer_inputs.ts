/**
 * `readLayerInputs`: the calibration of GPTQ and SparseGPT on a safetensors model, which has no
 * graph to run: each Linear module's input rows, read from a safetensors file.
 *
 * @module
 */

import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
import { decodeFloat32 } from "../tensor/decode_float32.ts";
import type { LayerBatch, LayerInputs } from "./_layerwise.ts";

export type { LayerBatch, LayerInputs } from "./_layerwise.ts";

const FLOAT = new Set(["F32", "F16", "BF16", "F64"]);

/**
 * Reads per-layer calibration inputs: a safetensors file with one tensor `<module>.input` of
 * shape `[rows, in]` (any float dtype) per Linear module to process — the rows its forward
 * receives on calibration data (`in` the weight's input features), as PyTorch forward hooks
 * record them (`x.reshape(-1, in)`). Each layer is solved on its own rows (one `add_batch`);
 * there is no propagation through the already-compressed layers, so record the inputs from
 * the model as it is (or as the earlier layers were compressed, for the reference's
 * sequential mode).
 *
 * @param bytes The safetensors file.
 * @param file Its name for errors.
 * @returns The rows by module name, each as one float32 batch with its dims.
 * @throws {TypeError} When the file is not safetensors, holds no tensor, or a tensor is not
 *   named `<module>.input`, is not 2-D with at least one row, or is not a float type (each
 *   error names the file and the tensor).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { readLayerInputs } from "./layer_inputs.ts";
 *
 * const bytes = writeSafetensors([
 *   { name: "blocks.0.fc.input", dtype: "F32", shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
 * ]);
 * const inputs = readLayerInputs(bytes, "inputs.safetensors");
 * const [batch] = inputs.get("blocks.0.fc")!;
 * assert.deepEqual(batch.dims, [2, 3]);
 * assert.deepEqual([...batch.data], [1, 2, 3, 4, 5, 6]);
 * ```
 */
export function readLayerInputs(bytes: Uint8Array, file = "<memory>"): LayerInputs {
  let tensors;
  try {
    tensors = readSafetensors(bytes).tensors;
  } catch (e) {
    throw new TypeError(
      `layer inputs "${file}" must be a safetensors file of <module>.input tensors: ${
        (e as Error).message
      }`,
    );
  }
  if (tensors.length === 0) {
    throw new TypeError(
      `layer inputs "${file}" hold no tensor: expected one <module>.input tensor [rows, in] per Linear module`,
    );
  }
  const out = new Map<string, LayerBatch[]>();
  for (const t of tensors) {
    const at = `layer inputs "${file}": tensor "${t.name}"`;
    if (!t.name.endsWith(".input") || t.name.length === ".input".length) {
      throw new TypeError(
        `${at} must be named <module>.input (the module's name, then ".input")`,
      );
    }
    if (t.shape.length !== 2 || t.shape[0] < 1 || t.shape[1] < 1) {
      throw new TypeError(
        `${at} must have shape [rows, in] with at least one row: current shape is ${
          JSON.stringify(t.shape)
        }`,
      );
    }
    if (!FLOAT.has(t.dtype)) {
      throw new TypeError(`${at} must be F32, F16, BF16 or F64: current dtype is ${t.dtype}`);
    }
    out.set(t.name.slice(0, -".input".length), [{
      data: decodeFloat32(t.data, t.dtype),
      dims: [t.shape[0], t.shape[1]],
    }]);
  }
  return out;
}
