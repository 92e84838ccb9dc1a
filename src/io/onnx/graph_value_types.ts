/**
 * `graphValueTypes`: the element types and dims (symbolic names included) of a model's graph
 * inputs and outputs, read from their `ValueInfoProto`s.
 *
 * @module
 */

import { expectWire, type Field, forEachField, LEN, readInt64, readString } from "./_wire.ts";
import type { OnnxModel } from "./onnx_types.ts";
import type { OrtTensorType } from "./ort.ts";

/** A graph input or output as the file declares it. */
export interface GraphValueType {
  /** The value name. */
  readonly name: string;
  /** The ONNX `TensorProto.DataType` code (0 when the value is not a tensor or has none). */
  readonly elemType: number;
  /** The onnxruntime name of the element type, when onnxruntime feeds that type. */
  readonly type?: OrtTensorType;
  /**
   * The dims: a number for `dim_value`, a string for `dim_param` (a symbolic name such as
   * `"batch"`), `null` for a dim with neither. Absent when the file gives no shape (any rank);
   * `[]` is a scalar.
   */
  readonly dims?: readonly (number | string | null)[];
}

/** The onnxruntime names of ONNX element type codes. */
const ORT_TYPES: Readonly<Record<number, OrtTensorType>> = {
  1: "float32",
  2: "uint8",
  3: "int8",
  4: "uint16",
  5: "int16",
  6: "int32",
  7: "int64",
  9: "bool",
  10: "float16",
  11: "float64",
  12: "uint32",
  13: "uint64",
};

function valueType(
  ctx: { bytes: Uint8Array; file: string },
  f: Field,
  path: string,
): GraphValueType {
  expectWire(ctx, f, LEN, path);
  let name = "";
  let elemType = 0;
  let dims: (number | string | null)[] | undefined;
  forEachField(ctx, f.start, f.end, path, (g) => {
    if (g.number === 1) name = readString(ctx, g, `${path}.name`);
    if (g.number !== 2 || g.wire !== LEN) return;
    // TypeProto.tensor_type (1): elem_type (1), shape (2) of dims (1): dim_value 1, dim_param 2
    forEachField(ctx, g.start, g.end, `${path}.type`, (t) => {
      if (t.number !== 1 || t.wire !== LEN) return;
      forEachField(ctx, t.start, t.end, `${path}.type.tensor_type`, (e) => {
        if (e.number === 1) elemType = e.value;
        if (e.number !== 2 || e.wire !== LEN) return;
        dims = [];
        const list = dims;
        forEachField(ctx, e.start, e.end, `${path}.type.tensor_type.shape`, (d) => {
          if (d.number !== 1 || d.wire !== LEN) return;
          let dim: number | string | null = null;
          const at = `${path}.type.tensor_type.shape.dim[${list.length}]`;
          forEachField(ctx, d.start, d.end, at, (v) => {
            if (v.number === 1) dim = readInt64(ctx, v, `${at}.dim_value`);
            if (v.number === 2) dim = readString(ctx, v, `${at}.dim_param`) || null;
          });
          list.push(dim);
        });
      });
    });
  });
  const type = ORT_TYPES[elemType];
  return {
    name,
    elemType,
    ...(type === undefined ? {} : { type }),
    ...(dims === undefined ? {} : { dims }),
  };
}

/**
 * Reads the main graph's inputs (without initializers listed as inputs, as old IR versions do)
 * and outputs with their element types and dims.
 *
 * @param onnx The decoded model.
 * @returns The inputs and outputs in graph order.
 * @throws {ModelFormatError} When a `ValueInfoProto` is malformed (file, field, byte offset).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildOnnx } from "./build_onnx.ts";
 * import { decodeOnnx } from "./decode_onnx.ts";
 * import { graphValueTypes } from "./graph_value_types.ts";
 *
 * const onnx = decodeOnnx(buildOnnx({
 *   opsets: [{ domain: "", version: 17 }],
 *   nodes: [{ name: "id", opType: "Identity", inputs: ["state"], outputs: ["stateN"] }],
 *   inputs: [
 *     { name: "state", type: { elemType: 1, dims: [2, "batch", 128] } },
 *     { name: "sr", type: { elemType: 7, dims: [] } },
 *   ],
 *   outputs: [{ name: "stateN", type: { elemType: 1, dims: [2, "batch", 128] } }],
 * }));
 * const { inputs } = graphValueTypes(onnx);
 * assert.deepEqual(inputs[0], { name: "state", elemType: 1, type: "float32", dims: [2, "batch", 128] });
 * assert.deepEqual(inputs[1], { name: "sr", elemType: 7, type: "int64", dims: [] });
 * ```
 */
export function graphValueTypes(
  onnx: OnnxModel,
): { inputs: GraphValueType[]; outputs: GraphValueType[] } {
  const ctx = { bytes: onnx.bytes, file: onnx.file };
  const stored = new Set(onnx.graph.initializers.map((t) => t.name));
  const inputs: GraphValueType[] = [];
  const outputs: GraphValueType[] = [];
  forEachField(ctx, 0, onnx.bytes.length, "model", (f) => {
    if (f.number !== 7 || f.wire !== LEN) return;
    forEachField(ctx, f.start, f.end, "graph", (g) => {
      if (g.number === 11) {
        const v = valueType(ctx, g, `graph.input[${inputs.length}]`);
        if (!stored.has(v.name)) inputs.push(v);
      } else if (g.number === 12) {
        outputs.push(valueType(ctx, g, `graph.output[${outputs.length}]`));
      }
    });
  });
  return { inputs, outputs };
}
