/**
 * Plain-data types of the pruning engine: the targets it prunes, their metrics and the masks it
 * produces.
 *
 * @module
 */

import type { PruningSetting, TargetKind } from "../config/types.ts";
import type { ModelGraph } from "../model/model_graph.ts";

export type { Align, Granularity, PruningSetting, TargetKind } from "../config/types.ts";

import { PRUNER_TABLE, type PrunerName } from "../config/algorithms.ts";

export type { PrunerName } from "../config/algorithms.ts";

/** The pruners whose metric this package computes, in the order of `PRUNER_TABLE`. */
export const PRUNERS: readonly PrunerName[] = PRUNER_TABLE.map((p) => p.name);

/**
 * One (module, target) to prune, with the setting the compressor uses (NNI's target-space
 * setting: de-duplicated, `granularity: "default"` already resolved). Structurally compatible
 * with the config layer's `ResolvedTarget`.
 */
export interface PruningTarget {
  /** The module name (`"fc1"`, `"blocks.0.conv"`). */
  readonly module: string;
  /** The target name (`"weight"`, `"bias"`, `"_input_0"`). */
  readonly target: string;
  /** `parameter` for weights and biases, `input`/`output` for activations. */
  readonly kind: TargetKind;
  /** The setting of the target. */
  readonly setting: PruningSetting;
  /** The full shape of the target (PyTorch layout); `null` when unknown (activations). */
  readonly shape: readonly number[] | null;
  /** The index of the sub-config that configured the target, for error messages. */
  readonly configIndex?: number;
}

/** Metric values per module, then per target: one float32 value per block, block-grid order. */
export type Metrics = Readonly<Record<string, Readonly<Record<string, Float32Array>>>>;

/**
 * How a target's metric and mask map onto its elements: NNI's `Scaling` kernel padded to the
 * target's rank.
 */
export interface BlockLayout {
  /** The full target shape. */
  readonly shape: readonly number[];
  /** The padded kernel, one entry per dim: a block length, or -1 for the whole dim. */
  readonly kernel: readonly number[];
  /** The shape of the block grid (NNI's keepdim metric shape): `shape[d] / block length`. */
  readonly grid: readonly number[];
  /** The number of blocks (product of `grid`). */
  readonly gridSize: number;
  /** NNI's compact mask shape (`raw_mask_shapes`): 1 on whole-dim (-1) dims, else `shape[d]`. */
  readonly raw: readonly number[];
  /** Elements per block. */
  readonly blockSize: number;
}

/** The mask of one target: one 0/1 value per block (1 keeps), plus its layout. */
export interface TargetMask {
  /** The module name. */
  readonly module: string;
  /** The target name. */
  readonly target: string;
  /** How the block values map onto the target's elements. */
  readonly layout: BlockLayout;
  /** One value per block of `layout.grid`, row-major: 1 keeps, 0 prunes. */
  readonly blocks: Uint8Array;
  /**
   * NNI's compact shape of this mask (`raw_mask_shapes`): `layout.raw` for masks from metrics;
   * an aligned mask keeps the shape of the reduced source (e.g. `[1]` for a bias aligned to an
   * `in_channel` weight). Broadcasts onto `layout.shape`.
   */
  readonly rawShape: readonly number[];
}

/** A model with the targets and masks of a pruning run: what the exporters write. */
export interface PrunedModel {
  /** The model the masks were generated for (its tensors are read again when writing). */
  readonly model: ModelGraph;
  /** The targets with their settings (activation targets need their `shape`). */
  readonly targets: readonly PruningTarget[];
  /** The masks by module, then target. */
  readonly masks: Readonly<Record<string, Readonly<Record<string, TargetMask>>>>;
}
