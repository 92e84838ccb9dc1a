/**
 * `ortFloat32`: the values of an onnxruntime tensor as float32, whatever float type the graph
 * computed it in.
 *
 * @module
 */

import { f16ToF32 } from "../../tensor/float16.ts";

/**
 * The values of an onnxruntime output as a `Float32Array`: float32 data as is; float16 widened
 * exactly — onnxruntime returns a `Float16Array` where the runtime has one (Deno, Bun, recent
 * browsers) and the bit patterns in a `Uint16Array` elsewhere (Node 20), which must not be read
 * as numbers; float64 rounded. Other types (integers, bool, strings; onnxruntime-common has no
 * bfloat16 tensors) give `undefined`.
 *
 * @param tensor An output of `session.run` (its `type` and `data`).
 * @returns The values, or `undefined` for a type that is not float.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ortFloat32 } from "./ort_float32.ts";
 *
 * const half = { type: "float16", data: new Uint16Array([0x3c00, 0xc000]) };
 * assert.deepEqual([...ortFloat32(half)!], [1, -2]);
 * assert.equal(ortFloat32({ type: "int64", data: new BigInt64Array(1) }), undefined);
 * ```
 */
export function ortFloat32(
  tensor: { readonly type?: string; readonly data: unknown },
): Float32Array | undefined {
  const d = tensor.data;
  if (d instanceof Float32Array) return d;
  if (d instanceof Uint16Array && tensor.type === "float16") return f16ToF32(d);
  if (d instanceof Float64Array) return Float32Array.from(d);
  const F16 = (globalThis as { Float16Array?: abstract new (...a: never[]) => ArrayLike<number> })
    .Float16Array;
  if (F16 !== undefined && d instanceof F16) return Float32Array.from(d);
  return undefined;
}
