/**
 * `fuseModel`: the module view of a model after its `fuse_names` groups are fused.
 *
 * @module
 */

import { toFileBytes } from "../model/from_float32.ts";
import type { GraphNode, ModelGraph, Module, TensorRef } from "../model/model_graph.ts";
import { foldBatchNorm } from "./fold_batch_norm.ts";
import type { FusionGroup } from "./fusion_groups.ts";
import { QuantizationError } from "./quantization_error.ts";
import { locateError } from "./_locate_error.ts";

/** A tensor written by folding. */
export interface FoldedTensor {
  /** The tensor, as the fused model sees it. */
  readonly ref: TensorRef;
  /** Its float32 bytes in the file layout. */
  readonly bytes: Uint8Array;
  /** `true` for a bias the first module did not have. */
  readonly created: boolean;
  /** The stored name of the folded module's weight (the tensor itself for a weight). */
  readonly weight: string;
}

/** A model with its `fuse_names` groups fused, and how to rewrite its files. */
export interface FusedModel {
  /**
   * The fused module view: each folded BatchNorm is an `Identity` module without parameters
   * (NNI's `IdentityModuleWrapper`) and without graph nodes; the first module of its group has
   * the folded `weight` and `bias` (a new bias is named like the weight with `weight` → `bias`,
   * else `<module>.bias`), and its last node writes the BatchNorm's output.
   */
  readonly model: ModelGraph;
  /** The groups. */
  readonly groups: readonly FusionGroup[];
  /** The folded weights and biases, by stored tensor name. */
  readonly folded: ReadonlyMap<string, FoldedTensor>;
  /** Stored tensors of the folded BatchNorms that nothing else reads: dropped from outputs. */
  readonly droppedTensors: readonly string[];
  /** Main-graph node indices removed: the BatchNorm nodes and `Constant`s of dropped tensors. */
  readonly droppedNodes: ReadonlySet<number>;
  /** Main-graph node index of each group's last first-module node: its new output and bias. */
  readonly rewired: ReadonlyMap<number, { readonly output: string; readonly bias?: string }>;
}

/** Options of `fuseModel`. */
export interface FuseModelOptions {
  /** The `eps` of a BatchNorm module (default: 1e-5, PyTorch's default). */
  readonly epsilon?: (bn: string) => number | undefined;
}

function floatRef(
  base: TensorRef,
  name: string,
  values: Float32Array,
  weight: string,
): FoldedTensor {
  const ref: TensorRef = {
    ...base,
    name,
    data: () => Promise.resolve(values.slice()),
    bytes: () => Promise.resolve(bytes),
  };
  const bytes = toFileBytes(ref, values);
  return { ref, bytes, created: false, weight };
}

function freeName(model: ModelGraph, wanted: string): string {
  const taken = new Set(model.modules.flatMap((m) => Object.values(m.params).map((t) => t.name)));
  for (const n of model.graph?.nodes ?? []) {
    for (const v of [...n.inputs, ...n.outputs]) taken.add(v);
  }
  let name = wanted;
  for (let k = 1; taken.has(name); k++) name = `${wanted}_${k}`;
  return name;
}

/**
 * Fuses the groups of `fusionGroups` into a new module view, with BatchNorm folding: the first
 * module's weight and bias become `foldBatchNorm` of the BatchNorm's stored running statistics
 * (inference statistics, see docs/quantization.md for how NNI differs), the BatchNorm becomes an
 * `Identity` module and its graph node is removed. Groups without a BatchNorm after the first
 * module (`(Conv, ReLU)`, `(BatchNorm, ReLU)`, …) change nothing: the ReLU stays a ReLU. The
 * input model is not changed.
 *
 * @param model The model.
 * @param groups Groups from `fusionGroups(model, …)`.
 * @param options The BatchNorm `eps` per module.
 * @returns The fused view and what exporters must rewrite.
 * @throws {QuantizationError} Code `fusion`, at the group's config path, when a folded tensor is
 * not float32 or is read by another node too, or a
 * MatMul without a bias would need one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ModelGraph } from "../model/model_graph.ts";
 * import { fuseModel } from "./fuse_model.ts";
 *
 * const t = (name: string, shape: number[], ...v: number[]) => ({ name, dtype: "F32" as const,
 *   shape, fileShape: shape, data: () => Promise.resolve(Float32Array.from(v)),
 *   bytes: () => Promise.resolve(new Uint8Array(Float32Array.from(v).buffer)) });
 * const model: ModelGraph = { format: "safetensors", metadata: {}, modules: [
 *   { name: "fc", type: "Linear", params: { weight: t("fc.weight", [1, 2], 1, 2) } },
 *   { name: "bn", type: "BatchNorm1d", params: { running_mean: t("bn.running_mean", [1], 1),
 *     running_var: t("bn.running_var", [1], 4) } },
 * ] };
 * const fused = await fuseModel(model, [{ path: "[0].fuse_names[0]", modules: ["fc", "bn"], first: "fc", bn: "bn" }],
 *   { epsilon: () => 0 });
 * assert.deepEqual([...await fused.model.modules[0].params.bias.data()], [-0.5]);
 * assert.deepEqual(fused.droppedTensors, ["bn.running_mean", "bn.running_var"]);
 * ```
 */
export async function fuseModel(
  model: ModelGraph,
  groups: readonly FusionGroup[],
  options: FuseModelOptions = {},
): Promise<FusedModel> {
  const byName = new Map(model.modules.map((m) => [m.name, m]));
  const nodes = model.graph?.nodes ?? [];
  const replaced = new Map<string, Module>();
  const folded = new Map<string, FoldedTensor>();
  const droppedTensors: string[] = [];
  const droppedNodes = new Set<number>();
  const rewired = new Map<number, { output: string; bias?: string }>();
  for (const g of groups) {
    if (g.bn === undefined) continue;
    const first = byName.get(g.first)!;
    const bn = byName.get(g.bn)!;
    const { weight, bias } = first.params;
    for (const ref of [weight, bias, ...Object.values(bn.params)]) {
      if (ref !== undefined && ref.dtype !== "F32" && ref.shape.length > 0) {
        throw new QuantizationError(
          "fusion",
          `BatchNorm folding supports float32 tensors: tensor "${ref.name}" is ${ref.dtype}`,
          { path: g.path },
        );
      }
    }
    const lastIndex = nodes.findLastIndex((n) => n.module === g.first);
    if (lastIndex >= 0 && bias === undefined && nodes[lastIndex].opType === "MatMul") {
      throw new QuantizationError(
        "fusion",
        `"${g.first}" is a MatMul without a bias Add, which cannot take the folded bias`,
        { path: g.path },
      );
    }
    const own = nodes.flatMap((n, i) => (n.module === g.first ? [i] : []));
    for (const ref of [weight, bias]) {
      const other = nodes.find((n, i) => !own.includes(i) && n.inputs.includes(ref?.name ?? ""));
      if (ref !== undefined && other !== undefined) {
        throw new QuantizationError(
          "fusion",
          `tensor "${ref.name}" of "${g.first}" is also read by node "${other.name}" (${other.opType}), which folding would change`,
          { path: g.path },
        );
      }
    }
    const read = async (p: string) => await bn.params[p]?.data();
    const stats = {
      ...(bn.params.weight ? { gamma: await read("weight") } : {}),
      ...(bn.params.bias ? { beta: await read("bias") } : {}),
      mean: (await read("running_mean"))!,
      variance: (await read("running_var"))!,
      eps: options.epsilon?.(g.bn) ?? 1e-5,
    };
    let values;
    try {
      values = foldBatchNorm(await weight.data(), weight.shape, await bias?.data(), stats);
    } catch (e) {
      throw locateError(e, { path: g.path }, "fusion");
    }
    const w = floatRef(weight, weight.name, values.weight, weight.name);
    const wanted = /weight$/.test(weight.name)
      ? weight.name.replace(/weight$/, "bias")
      : `${first.name === "" ? "" : `${first.name}.`}bias`;
    const biasName = bias?.name ?? freeName(model, wanted);
    const shape = [weight.shape[0]];
    const fresh = { name: biasName, dtype: weight.dtype, shape, fileShape: shape };
    const b = bias === undefined
      ? {
        ...floatRef(
          { ...fresh, data: weight.data, bytes: weight.bytes },
          biasName,
          values.bias,
          weight.name,
        ),
        created: true,
      }
      : floatRef(bias, bias.name, values.bias, weight.name);
    folded.set(w.ref.name, w).set(b.ref.name, b);
    replaced.set(g.first, { ...first, params: { ...first.params, weight: w.ref, bias: b.ref } });
    replaced.set(g.bn, { name: bn.name, type: "Identity", params: {} });
    const bnNodes = nodes.flatMap((n, i) => (n.module === g.bn ? [i] : []));
    for (const i of bnNodes) droppedNodes.add(i);
    for (const ref of Object.values(bn.params)) {
      const readers = nodes.filter((n, i) => !bnNodes.includes(i) && n.inputs.includes(ref.name));
      if (readers.length > 0) continue;
      droppedTensors.push(ref.name);
      const producer = nodes.findIndex((n) => n.opType === "Constant" && n.outputs[0] === ref.name);
      if (producer >= 0) droppedNodes.add(producer);
    }
    if (lastIndex >= 0) {
      const output = nodes[bnNodes[bnNodes.length - 1]].outputs[0];
      rewired.set(lastIndex, { output, ...(b.created ? { bias: biasName } : {}) });
    }
  }
  const graph = model.graph;
  const fusedNodes = graph?.nodes.flatMap((n, i): GraphNode[] => {
    if (droppedNodes.has(i)) return [];
    const r = rewired.get(i);
    if (r === undefined) return [n];
    return [{ ...n, outputs: [r.output], inputs: r.bias ? [...n.inputs, r.bias] : n.inputs }];
  });
  return {
    model: {
      ...model,
      modules: model.modules.map((m) => replaced.get(m.name) ?? m),
      ...(graph === undefined ? {} : { graph: { ...graph, nodes: fusedNodes! } }),
    },
    groups,
    folded,
    droppedTensors,
    droppedNodes,
    rewired,
  };
}
