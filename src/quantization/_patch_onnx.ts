// Rewriting an ONNX model's main graph: nodes and stored tensors removed by output/name, new
// initializers and nodes added, opset imports added. Everything else is copied byte for byte.
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import { concat, lenField, opsetProto } from "../io/onnx/proto_writer.ts";
import { fields, text, type WireField } from "./_onnx_wire.ts";

/** What to change in the main graph. */
export interface GraphPatch {
  /** Nodes to drop, by any of their output names (e.g. the `Constant` producing a weight). */
  readonly dropNodeOutputs: ReadonlySet<string>;
  /** Initializers (and graph inputs of the same name) to drop. */
  readonly dropInitializers: ReadonlySet<string>;
  /** Encoded TensorProtos to add as initializers. */
  readonly initializers: readonly Uint8Array[];
  /** Encoded NodeProtos to put first (their inputs must be initializers or graph inputs). */
  readonly nodesFirst: readonly Uint8Array[];
  /** Encoded NodeProtos to put where the node producing the given output was. */
  readonly nodesReplacing: ReadonlyMap<string, Uint8Array>;
  /** Encoded NodeProtos to put before / after the main-graph node of a given index. */
  readonly nodesBefore?: ReadonlyMap<number, readonly Uint8Array[]>;
  readonly nodesAfter?: ReadonlyMap<number, readonly Uint8Array[]>;
  /** Input / output names to rename in the main-graph node of a given index. */
  readonly renameInputs?: ReadonlyMap<number, ReadonlyMap<string, string>>;
  readonly renameOutputs?: ReadonlyMap<number, ReadonlyMap<string, string>>;
  /** Values to add as graph outputs (without type information). */
  readonly extraOutputs?: readonly string[];
  /** Opset imports to add when the model lacks the domain. */
  readonly opsets: readonly { readonly domain: string; readonly version: number }[];
}

const NODE = 1, INITIALIZER = 5, INPUT = 11, OUTPUT = 12;

function outputsOf(bytes: Uint8Array, f: WireField): string[] {
  return fields(bytes, f.valueStart, f.end).filter((x) => x.number === 2).map((x) =>
    text(bytes, x)
  );
}

function nameOf(bytes: Uint8Array, f: WireField, number: number): string | undefined {
  const n = fields(bytes, f.valueStart, f.end).find((x) => x.number === number);
  return n === undefined ? undefined : text(bytes, n);
}

/** A node with some input (field 1) and output (field 2) names replaced. */
function renamed(
  bytes: Uint8Array,
  f: WireField,
  inputs: ReadonlyMap<string, string> | undefined,
  outputs: ReadonlyMap<string, string> | undefined,
): Uint8Array {
  const parts = fields(bytes, f.valueStart, f.end).map((x) => {
    const map = x.number === 1 ? inputs : x.number === 2 ? outputs : undefined;
    const to = map?.get(text(bytes, x));
    return to === undefined ? bytes.subarray(x.start, x.end) : lenField(x.number, to);
  });
  return lenField(NODE, concat(parts));
}

function patchGraph(bytes: Uint8Array, graph: WireField, patch: GraphPatch): Uint8Array {
  const parts: Uint8Array[] = patch.nodesFirst.map((n) => lenField(NODE, n));
  let initializersAdded = false;
  let index = -1;
  for (const f of fields(bytes, graph.valueStart, graph.end)) {
    const raw = bytes.subarray(f.start, f.end);
    if (f.number === NODE) {
      index++;
      for (const n of patch.nodesBefore?.get(index) ?? []) parts.push(lenField(NODE, n));
      const outs = outputsOf(bytes, f);
      const replaced = outs.map((o) => patch.nodesReplacing.get(o)).find((x) => x !== undefined);
      const ins = patch.renameInputs?.get(index);
      const outNames = patch.renameOutputs?.get(index);
      if (replaced !== undefined) parts.push(lenField(NODE, replaced));
      else if (outs.some((o) => patch.dropNodeOutputs.has(o))) {
        // dropped
      } else if (ins !== undefined || outNames !== undefined) {
        parts.push(renamed(bytes, f, ins, outNames));
      } else parts.push(raw);
      for (const n of patch.nodesAfter?.get(index) ?? []) parts.push(lenField(NODE, n));
      continue;
    }
    if (f.number === INITIALIZER) {
      if (!patch.dropInitializers.has(nameOf(bytes, f, 8) ?? "")) parts.push(raw);
      continue;
    }
    if (f.number === INPUT) {
      if (!patch.dropInitializers.has(nameOf(bytes, f, 1) ?? "")) parts.push(raw);
      continue;
    }
    if (!initializersAdded && f.number > INITIALIZER) {
      for (const t of patch.initializers) parts.push(lenField(INITIALIZER, t));
      initializersAdded = true;
    }
    parts.push(raw);
  }
  if (!initializersAdded) {
    for (const t of patch.initializers) {
      parts.push(lenField(INITIALIZER, t));
    }
  }
  for (const name of patch.extraOutputs ?? []) parts.push(lenField(OUTPUT, lenField(1, name)));
  return concat(parts);
}

/** The model's bytes with the patch applied to its main graph. */
export function patchOnnx(model: OnnxModel, patch: GraphPatch): Uint8Array {
  const bytes = model.bytes;
  const parts: Uint8Array[] = [];
  const have = new Set(model.opsets.map((o) => o.domain));
  let opsetsAdded = false;
  const addOpsets = () => {
    if (opsetsAdded) return;
    opsetsAdded = true;
    for (const o of patch.opsets) {
      if (have.has(o.domain)) continue;
      parts.push(lenField(8, opsetProto(o.domain, o.version)));
    }
  };
  for (const f of fields(bytes, 0, bytes.length)) {
    if (f.number === 7) parts.push(lenField(7, patchGraph(bytes, f, patch)));
    else {
      if (f.number > 8) addOpsets();
      parts.push(bytes.subarray(f.start, f.end));
      if (f.number === 8) continue;
    }
  }
  addOpsets();
  return concat(parts);
}
