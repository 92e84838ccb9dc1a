// Raising a model's default-domain opset to 11, for operators that need it (DynamicQuantizeLinear
// is opset 11, MatMulInteger and ConvInteger opset 10).
//
// onnxruntime's Python quantizer only rewrites the opset import (opset < 10 becomes 11) and
// leaves the nodes as they were; a node whose form changed between the versions then no longer
// loads (onnxruntime rejects a Clip-11 with `min`/`max` attributes: the PP-OCRv4 recognizer, at
// opset 9, has 28 of them). Here the operators whose inputs moved from attributes to inputs are
// rewritten into their opset-11 form, with the same values:
// - Slice (opset 10): `starts`, `ends`, `axes` attributes become int64 inputs;
// - Clip (opset 11): `min`, `max` attributes become scalar inputs of the input's type;
// - Pad (opset 11): `pads` becomes an int64 input, `value` a scalar input (`mode` stays);
// - TopK (opset 10): `k` becomes an int64 input of shape [1].
// Upsample (deprecated at opset 10) and Scatter (deprecated at opset 11) have no opset-11 form
// here: a model with them is refused. Every other operator keeps its meaning from opset 7 to 11
// (the changes are new attributes with the old behaviour as default, negative axes, more types).
import type { OnnxAttribute, OnnxModel } from "../io/onnx/onnx_types.ts";
import { graphPaths, type OnnxEdit } from "../io/onnx/edit_onnx.ts";
import type { TensorSpec } from "../io/onnx/proto_writer.ts";
import { ONNX_DATA_TYPE } from "../tensor/onnx_data_type.ts";
import { f32ToF16 } from "../tensor/float16.ts";
import { QuantizationError } from "./quantization_error.ts";
import { valueFloatTypes } from "./_float_storage.ts";

/** The default-domain opset version of a model (1 when it imports none). */
export function defaultOpset(onnx: OnnxModel): number {
  return onnx.opsets.find((o) => o.domain === "" || o.domain === "ai.onnx")?.version ?? 1;
}

const REFUSED = new Set(["Upsample", "Scatter"]);

function int64s(name: string, values: readonly number[], dims: readonly number[]): TensorSpec {
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return { name, dataType: ONNX_DATA_TYPE.INT64, dims, raw };
}

function scalar(name: string, value: number, type: number): TensorSpec {
  if (type === ONNX_DATA_TYPE.FLOAT16) {
    const h = f32ToF16(Float32Array.of(value));
    return { name, dataType: type, dims: [], raw: new Uint8Array(h.buffer, h.byteOffset, 2) };
  }
  if (type === ONNX_DATA_TYPE.DOUBLE) {
    return { name, dataType: type, dims: [], raw: new Uint8Array(Float64Array.of(value).buffer) };
  }
  return {
    name,
    dataType: ONNX_DATA_TYPE.FLOAT,
    dims: [],
    raw: new Uint8Array(Float32Array.of(value).buffer),
  };
}

/**
 * The edits that bring a model below opset 11 to opset 11 (none at 11 or above): the opset
 * import, and the Slice, Clip, Pad and TopK nodes of every graph in their opset-11 form.
 *
 * @throws {QuantizationError} Code `storage` for an Upsample or Scatter node (no opset-11 form).
 */
export function opset11Edits(onnx: OnnxModel, storage: string): OnnxEdit[] {
  const version = defaultOpset(onnx);
  if (version >= 11) return [];
  const edits: OnnxEdit[] = [{ op: "setOpset", domain: "", version: 11 }];
  const names = new Set<string>(onnx.tensors.map((t) => t.name));
  for (const g of graphPaths(onnx).values()) {
    for (const n of g.nodes) for (const v of [...n.inputs, ...n.outputs]) names.add(v);
  }
  const fresh = (base: string) => {
    let out = base;
    for (let k = 1; names.has(out); k++) out = `${base}_${k}`;
    names.add(out);
    return out;
  };
  const constants = onnx.tensors.filter((t) => t.kind === "constant");
  for (const [path, g] of graphPaths(onnx)) {
    const where = path === "graph" ? {} : { graph: path };
    let types: Map<string, number> | undefined;
    g.nodes.forEach((n, index) => {
      if (n.domain !== "" && n.domain !== "ai.onnx") return;
      if (REFUSED.has(n.opType)) {
        throw new QuantizationError(
          "storage",
          `${storage} needs opset 11 (DynamicQuantizeLinear) and the model is opset ${version}: its ${n.opType} node ${
            JSON.stringify(n.name || n.outputs[0])
          } has no opset-11 form here; export the model at opset 11 or later`,
        );
      }
      const get = (name: string): OnnxAttribute | undefined =>
        n.attributes.find((a) => a.name === name);
      const label = n.name || n.outputs[0];
      const keep = (drop: readonly string[]) =>
        n.attributes.filter((a) => !drop.includes(a.name)).map((a) => {
          if (a.i !== undefined) return { name: a.name, i: a.i };
          if (a.f !== undefined) return { name: a.name, f: a.f };
          if (a.s !== undefined) return { name: a.name, s: a.s };
          return { name: a.name, ints: a.ints ?? [] };
        });
      const add = (tensor: TensorSpec) => edits.push({ op: "addInitializer", tensor, ...where });
      const replace = (inputs: string[], drop: readonly string[]) =>
        edits.push({
          op: "replaceNode",
          node: index,
          ...where,
          with: {
            name: n.name,
            opType: n.opType,
            inputs,
            outputs: [...n.outputs],
            attributes: keep(drop),
          },
        });
      if (n.opType === "Slice" && version < 10 && get("starts") !== undefined) {
        const starts = get("starts")?.ints ?? [];
        const ends = get("ends")?.ints ?? [];
        const axes = get("axes")?.ints ?? starts.map((_, i) => i);
        const s = fresh(`${label}_starts`), e = fresh(`${label}_ends`), a = fresh(`${label}_axes`);
        add(int64s(s, starts, [starts.length]));
        add(int64s(e, ends, [ends.length]));
        add(int64s(a, axes, [axes.length]));
        replace([n.inputs[0], s, e, a], ["starts", "ends", "axes"]);
      } else if (n.opType === "Clip" && n.inputs.length === 1) {
        types ??= valueFloatTypes(g, constants);
        const type = types.get(n.inputs[0]) || ONNX_DATA_TYPE.FLOAT;
        const min = get("min")?.f, max = get("max")?.f;
        const inputs = [n.inputs[0], "", ""];
        if (min !== undefined) add(scalar(inputs[1] = fresh(`${label}_min`), min, type));
        if (max !== undefined) add(scalar(inputs[2] = fresh(`${label}_max`), max, type));
        while (inputs[inputs.length - 1] === "") inputs.pop();
        replace(inputs, ["min", "max"]);
      } else if (n.opType === "Pad" && get("pads") !== undefined) {
        types ??= valueFloatTypes(g, constants);
        const type = types.get(n.inputs[0]) || ONNX_DATA_TYPE.FLOAT;
        const pads = get("pads")?.ints ?? [];
        const p = fresh(`${label}_pads`), v = fresh(`${label}_value`);
        add(int64s(p, pads, [pads.length]));
        add(scalar(v, get("value")?.f ?? 0, type));
        replace([n.inputs[0], p, v], ["pads", "value"]);
      } else if (n.opType === "TopK" && get("k") !== undefined) {
        const k = fresh(`${label}_k`);
        add(int64s(k, [get("k")!.i ?? 0], [1]));
        replace([n.inputs[0], k], ["k"]);
      }
    });
  }
  return edits;
}
