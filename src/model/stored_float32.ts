/**
 * `storedFloat32`: an F32 tensor's values where they are stored, without a copy.
 *
 * @module
 */

import type { TensorRef } from "./model_graph.ts";

/** Whether typed arrays are little-endian here (as model files store numbers). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The values of a tensor stored as F32 in PyTorch layout, as a float32 view of its stored bytes
 * (no copy: do not modify it), when they sit at a 4-byte aligned offset on a little-endian host;
 * else `undefined` (read `ref.data()` then). For code that only reads the values (metrics,
 * ranges): a tensor-sized temporary less per tensor.
 *
 * @param ref the tensor
 * @returns the view, or `undefined`
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { safetensorsModel } from "./safetensors_model.ts";
 * import { storedFloat32 } from "./stored_float32.ts";
 *
 * const file = readSafetensors(writeSafetensors([
 *   { name: "fc.weight", dtype: "F32", shape: [1, 2], data: new Float32Array([1, -2]) },
 *   { name: "fc.bias", dtype: "F16", shape: [1], data: new Uint16Array([0x4200]) },
 * ]));
 * const { weight, bias } = safetensorsModel(file).modules[0].params;
 * const view = (await storedFloat32(weight))!;
 * assert.deepEqual([...view], [1, -2]);
 * assert.equal(view.buffer, file.tensors[0].data.buffer);
 * assert.equal(await storedFloat32(bias), undefined);
 * ```
 */
export async function storedFloat32(ref: TensorRef): Promise<Float32Array | undefined> {
  if (ref.dtype !== "F32" || ref.transpose !== undefined || !LITTLE_ENDIAN) return undefined;
  const bytes = await ref.bytes();
  if (bytes.byteOffset % 4 !== 0 || bytes.length % 4 !== 0) return undefined;
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
}
