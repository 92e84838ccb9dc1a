/** Finding the parameters of ONNX LSTM, GRU and RNN nodes. */

import type { OnnxNode, OnnxTensor } from "../io/onnx/onnx_types.ts";

/** Operators whose first input carries the traced value (the others are shapes or indices). */
const PASS_FIRST = new Set(["Unsqueeze", "Squeeze", "Reshape", "Slice", "Identity", "Cast"]);

/**
 * The stored tensors a value is computed from by reshaping, slicing and concatenating, in
 * input order without repeats, or `undefined` when another operator or a graph input is met.
 */
function traceStored(
  value: string,
  constants: ReadonlyMap<string, OnnxTensor>,
  producer: ReadonlyMap<string, OnnxNode>,
  depth = 0,
): OnnxTensor[] | undefined {
  const t = constants.get(value);
  if (t !== undefined) return [t];
  const node = producer.get(value);
  if (node === undefined || depth > 8) return undefined;
  const inputs = node.opType === "Concat"
    ? node.inputs
    : PASS_FIRST.has(node.opType)
    ? node.inputs.slice(0, 1)
    : undefined;
  if (inputs === undefined) return undefined;
  const out: OnnxTensor[] = [];
  for (const i of inputs) {
    const found = traceStored(i, constants, producer, depth + 1);
    if (found === undefined) return undefined;
    for (const f of found) if (!out.includes(f)) out.push(f);
  }
  return out;
}

/**
 * The parameters of an LSTM/GRU/RNN node: `W`, `R`, `B` stored as they are become
 * `weight_ih`, `weight_hh`, `bias` (ONNX layout); when an input is computed from stored
 * tensors (the PyTorch exporter slices and concatenates PyTorch's tensors to reorder gates),
 * those tensors are the parameters instead: `weight_ih`, `weight_hh`, and `bias_ih` and
 * `bias_hh` for two bias tensors.
 */
export function recurrentParams(
  node: OnnxNode,
  constants: ReadonlyMap<string, OnnxTensor>,
  producer: ReadonlyMap<string, OnnxNode>,
): [string, OnnxTensor][] {
  const out: [string, OnnxTensor][] = [];
  const names = [["weight_ih"], ["weight_hh"], ["bias", "bias_ih", "bias_hh"]];
  for (let k = 0; k < 3; k++) {
    const value = node.inputs[k + 1] ?? "";
    if (value === "") continue;
    const found = traceStored(value, constants, producer);
    if (found === undefined || found.length === 0) continue;
    if (found.length === 1) out.push([names[k][0], found[0]]);
    else if (k === 2 && found.length === 2) {
      out.push(["bias_ih", found[0]], ["bias_hh", found[1]]);
    }
  }
  return out;
}
