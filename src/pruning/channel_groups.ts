/**
 * `channelGroups` and `autoDependencyGroups`: the modules whose output channels are coupled one
 * to one in an ONNX graph, and the dependency groups a config list gets from them.
 *
 * @module
 */

import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import { type ChannelGraph, channelGraph } from "./channel_graph.ts";
import type { PruningTarget } from "./types.ts";

/** Modules whose output channels are coupled one to one (channel i of each is removed together). */
export interface ChannelGroup {
  /** The module names, in graph order. */
  readonly members: readonly string[];
  /** The channel count they share. */
  readonly channels: number;
  /** Why they are coupled: the ops that join them. */
  readonly reasons: readonly string[];
  /** Why their channels cannot be removed, when they cannot (the first reason found). */
  readonly frozen?: string;
}

const PRODUCERS = new Set(["Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization"]);

/**
 * The groups of at least two modules (Conv, ConvTranspose, Gemm, MatMul, BatchNormalization)
 * whose output channels `channelGraph` couples one to one — through a residual `Add`, a `Mul`
 * (squeeze-and-excitation), a depthwise conv and its parent, a BatchNorm and its conv. These
 * are NNI's channel dependency sets (`auto_set_denpendency_group_ids`: layers meeting in
 * `add`/`mul`, depthwise convs with their parents), found from the ONNX graph, plus the
 * BatchNorms that follow the convs.
 *
 * @param onnx the decoded model
 * @param model its module view (`onnxModel(onnx)`), for the module names of the nodes
 * @param graph the channel graph (default `channelGraph(onnx)`)
 * @returns the groups, in graph order of their first member
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildOnnx } from "../io/onnx/build_onnx.ts";
 * import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
 * import { onnxModel } from "../model/onnx_model.ts";
 * import { channelGroups } from "./channel_groups.ts";
 *
 * const f32 = (n: number) => new Uint8Array(new Float32Array(n).fill(0.5).buffer);
 * const onnx = decodeOnnx(buildOnnx({
 *   opsets: [{ domain: "", version: 13 }],
 *   initializers: [
 *     { name: "a.weight", dataType: 1, dims: [4, 3, 1, 1], raw: f32(12) },
 *     { name: "b.weight", dataType: 1, dims: [4, 3, 1, 1], raw: f32(12) },
 *     { name: "c.weight", dataType: 1, dims: [2, 4, 1, 1], raw: f32(8) },
 *   ],
 *   nodes: [
 *     { name: "a", opType: "Conv", inputs: ["x", "a.weight"], outputs: ["ya"] },
 *     { name: "b", opType: "Conv", inputs: ["x", "b.weight"], outputs: ["yb"] },
 *     { name: "add", opType: "Add", inputs: ["ya", "yb"], outputs: ["s"] },
 *     { name: "c", opType: "Conv", inputs: ["s", "c.weight"], outputs: ["y"] },
 *   ],
 *   inputs: [{ name: "x", type: { elemType: 1, dims: [1, 3, 4, 4] } }],
 *   outputs: [{ name: "y", type: { elemType: 1, dims: [1, 2, 4, 4] } }],
 * }));
 * const [group] = channelGroups(onnx, onnxModel(onnx));
 * assert.deepEqual(group.members, ["a", "b"]);
 * assert.match(group.reasons[0], /Add node "add"/);
 * ```
 */
export function channelGroups(
  onnx: OnnxModel,
  model: ModelGraph,
  graph: ChannelGraph = channelGraph(onnx),
): ChannelGroup[] {
  const modules = model.graph?.nodes.map((n) => n.module) ?? [];
  const byKey = new Map<string, { members: string[]; roots: number[] }>();
  onnx.graph.nodes.forEach((n, i) => {
    const module = modules[i];
    if (module === undefined || !PRODUCERS.has(n.opType)) return;
    if (n.opType !== "BatchNormalization" && !graph.weighted.has(i)) return;
    const v = graph.values.get(n.outputs[0]);
    if (v === undefined) return;
    const roots = v.elements.map((e) => graph.find(e));
    const key = roots.join(",");
    const entry = byKey.get(key) ?? { members: [], roots };
    if (!entry.members.includes(module)) entry.members.push(module);
    byKey.set(key, entry);
  });
  const out: ChannelGroup[] = [];
  for (const { members, roots } of byKey.values()) {
    if (members.length < 2) continue;
    const reasons = [...new Set(roots.flatMap((r) => graph.reasons(r)))];
    const frozen = roots.map((r) => graph.frozen(r)).find((r) => r !== undefined);
    out.push({
      members,
      channels: roots.length,
      reasons,
      ...(frozen === undefined ? {} : { frozen }),
    });
  }
  return out;
}

/** One dependency group `autoDependencyGroups` set. */
export interface AutoGroup {
  /** The `dependency_group_id` given to the members (`"auto:<first member>"`). */
  readonly id: string;
  /** The members' targets as `module.target`. */
  readonly targets: readonly string[];
  /** Why the modules are coupled. */
  readonly reasons: readonly string[];
}

/**
 * Gives coupled modules shared channel masks, like NNI's `auto_set_denpendency_group_ids`
 * (`nni-semantics.md` §12): for each channel group, the `weight` targets of its members that
 * the config list prunes by output channel (`granularity: "out_channel"`, or 1-D BatchNorm
 * weights) with a `sparse_ratio` and no `dependency_group_id` of their own get one
 * `dependency_group_id` — so the dependency rule fuses their metrics by the mean and gives them
 * one mask — and `internal_metric_block: 1` (depthwise convs are one group of channels, as in
 * NNI). Members whose ratio differs from the first selected member's stay as they are. Groups
 * with fewer than two selected members change nothing.
 *
 * @param targets the resolved targets (`resolveTargetSettings`)
 * @param groups the channel groups (`channelGroups`)
 * @returns the targets (changed ones are copies) and the groups that were set
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { autoDependencyGroups } from "./channel_groups.ts";
 * import type { PruningTarget } from "./types.ts";
 *
 * const t = (module: string): PruningTarget => ({
 *   module, target: "weight", kind: "parameter", shape: [4, 3, 1, 1],
 *   setting: { sparse_ratio: 0.5, granularity: "out_channel" },
 * });
 * const out = autoDependencyGroups([t("a"), t("b"), t("c")], [
 *   { members: ["a", "b"], channels: 4, reasons: ["Add node \"add\""] },
 * ]);
 * assert.deepEqual(out.groups.map((g) => g.targets), [["a.weight", "b.weight"]]);
 * assert.equal(out.targets[1].setting.dependency_group_id, "auto:a");
 * assert.equal(out.targets[2].setting.dependency_group_id, undefined);
 * ```
 */
export function autoDependencyGroups(
  targets: readonly PruningTarget[],
  groups: readonly ChannelGroup[],
): { targets: PruningTarget[]; groups: AutoGroup[] } {
  const channelWise = (t: PruningTarget) =>
    t.kind === "parameter" && t.target === "weight" && t.setting.sparse_ratio != null &&
    t.setting.dependency_group_id == null &&
    (t.setting.granularity === "out_channel" || t.shape?.length === 1);
  const out = [...targets];
  const set: AutoGroup[] = [];
  for (const g of groups) {
    const members = new Set(g.members);
    const picked = out.flatMap((t, i) => (members.has(t.module) && channelWise(t) ? [i] : []));
    if (picked.length === 0) continue;
    const ratio = out[picked[0]].setting.sparse_ratio;
    const same = picked.filter((i) => out[i].setting.sparse_ratio === ratio);
    if (new Set(same.map((i) => out[i].module)).size < 2) continue;
    const id = `auto:${out[same[0]].module}`;
    for (const i of same) {
      out[i] = {
        ...out[i],
        setting: { ...out[i].setting, dependency_group_id: id, internal_metric_block: 1 },
      };
    }
    set.push({ id, targets: same.map((i) => `${out[i].module}.weight`), reasons: g.reasons });
  }
  return { targets: out, groups: set };
}
