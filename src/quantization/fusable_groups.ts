/**
 * `fusableGroups`: the `fuse_names` list of every Conv/Linear → BatchNorm (→ ReLU) chain of a
 * model graph.
 *
 * @module
 */

import type { ModelGraph } from "../model/model_graph.ts";

/**
 * Finds every chain in a model's graph that `quantize()` can fuse with BatchNorm folding: a Conv
 * (`Conv1d`/`2d`/`3d`) or `Linear` module whose output only a `BatchNorm*d` module reads (and
 * that is no graph output), extended by a `ReLU` module when the BatchNorm's output is read by
 * exactly one node, a ReLU's. Use the result as `fuse_names` in a quantization sub-config that
 * also quantizes those modules' weights, instead of listing the pairs by hand. Models without a
 * graph (safetensors) give `[]`: their module order does not say what feeds what.
 *
 * @param model A module view with a graph (`onnxModel()`).
 * @returns The groups, `[conv, bn]` or `[conv, bn, relu]`, in graph order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ModelGraph } from "../model/model_graph.ts";
 * import { fusableGroups } from "./fusable_groups.ts";
 *
 * const node = (module: string, opType: string, inputs: string[], outputs: string[]) =>
 *   ({ name: module, module, opType, domain: "", inputs, outputs });
 * const model: ModelGraph = {
 *   format: "onnx", metadata: {},
 *   modules: [{ name: "c", type: "Conv2d", params: {} }, { name: "b", type: "BatchNorm2d", params: {} },
 *     { name: "r", type: "ReLU", params: {} }],
 *   graph: { inputs: ["x"], outputs: ["y"], nodes: [node("c", "Conv", ["x", "w"], ["c_out"]),
 *     node("b", "BatchNormalization", ["c_out", "g", "be", "m", "v"], ["b_out"]), node("r", "Relu", ["b_out"], ["y"])] },
 * };
 * assert.deepEqual(fusableGroups(model), [["c", "b", "r"]]);
 * ```
 */
export function fusableGroups(model: ModelGraph): string[][] {
  const graph = model.graph;
  if (graph === undefined) return [];
  const types = new Map(model.modules.map((m) => [m.name, m.type]));
  const readers = new Map<string, number[]>();
  graph.nodes.forEach((n, i) => {
    for (const v of new Set(n.inputs)) readers.set(v, [...(readers.get(v) ?? []), i]);
  });
  const moduleAt = (i: number) => graph.nodes[i].module;
  const lastNode = new Map<string, number>();
  graph.nodes.forEach((n, i) => n.module !== undefined && lastNode.set(n.module, i));
  /** The module of the only node reading `value` as its first input, if there is one. */
  const onlyReader = (value: string | undefined) => {
    const r = value === undefined ? [] : readers.get(value) ?? [];
    if (r.length !== 1 || graph.outputs.includes(value!)) return undefined;
    const m = moduleAt(r[0]);
    return m !== undefined && graph.nodes[r[0]].inputs[0] === value ? m : undefined;
  };
  const groups: string[][] = [];
  for (const m of model.modules) {
    if (!/^Conv[123]d$/.test(m.type) && m.type !== "Linear") continue;
    const last = lastNode.get(m.name);
    if (last === undefined) continue;
    const bn = onlyReader(graph.nodes[last].outputs[0]);
    if (bn === undefined || !/^BatchNorm[123]d$/.test(types.get(bn) ?? "")) continue;
    const bnOut = graph.nodes[lastNode.get(bn)!].outputs[0];
    const relu = onlyReader(bnOut);
    groups.push(
      relu !== undefined && types.get(relu) === "ReLU" ? [m.name, bn, relu] : [m.name, bn],
    );
  }
  return groups;
}
