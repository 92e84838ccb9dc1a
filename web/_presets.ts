// Example config lists offered by the page.

import { DEMO_CONFIGS } from "../demo/configs.ts";
import { PRUNER_TABLE, QUANTIZER_ALGORITHMS } from "../src/config/algorithms.ts";

/** The config list of the demo run labelled `label` (an error if the demo has no such run). */
function demoList(label: string): readonly Record<string, unknown>[] {
  const run = DEMO_CONFIGS.find((c) => c.label === label);
  if (run === undefined) throw new Error(`the demo has no config list labelled "${label}"`);
  return run.configList;
}

/** A named config list with its mode and algorithm. */
export interface Preset {
  readonly label: string;
  readonly mode: "pruning" | "quantization";
  readonly algorithm: string;
  readonly configList: readonly Record<string, unknown>[];
  /** The storage select's value (default: left as it is). */
  readonly storage?: string;
}

/**
 * The demo's four lists (`npm run demo`), an L1 filter-pruning list, and transformers.js's
 * int8, q4 and bnb4 variants.
 */
export const PRESETS: readonly Preset[] = [
  // (not the demo's refit run: the page has no calibration lines)
  ...DEMO_CONFIGS.filter((c) => c.reconstruct === undefined).map((c) => ({
    label: c.label,
    mode: c.mode,
    algorithm: c.algorithm,
    configList: c.configList,
    ...(c.storage === undefined ? {} : { storage: c.storage }),
  })),
  {
    label: "L1 pruning 30% of Conv filters, one global group",
    mode: "pruning",
    algorithm: "L1NormPruner",
    configList: [{
      op_types: ["Conv2d"],
      target_names: ["weight"],
      sparse_ratio: 0.3,
      global_group_id: "convs",
    }],
  },
  // transformers.js's variants (`nncompress variants` writes all of them with their names).
  {
    label: "transformers.js int8: dynamic, MatMul + Conv weights per channel",
    mode: "quantization",
    algorithm: "PtqQuantizer",
    // The demo's int8 list (Conv + Linear weights, symmetric, per channel), stored dynamic.
    configList: demoList("int8 per-channel, Conv + Linear"),
    storage: "dynamic",
  },
  {
    label: "transformers.js q4: MatMul weights int4, blocks of 32 (MatMulNBits)",
    mode: "quantization",
    algorithm: "PtqQuantizer",
    // The demo's int4 list; the storage's default block (32) is transformers.js's.
    configList: demoList("int4 MatMulNBits, 32 along K"),
    storage: "nbits",
  },
  {
    label: "transformers.js bnb4: MatMul weights NF4, blocks of 64 (MatMulBnb4)",
    mode: "quantization",
    algorithm: "PtqQuantizer",
    configList: [{ op_types: ["MatMul"], target_names: ["weight"], quant_dtype: "int4" }],
    storage: "bnb4",
  },
];

/**
 * The algorithms of each mode, from the one table the library uses (Wanda needs calibration
 * data, which the page does not collect, so it is left out).
 */
export const ALGORITHMS: Readonly<Record<"pruning" | "quantization", readonly string[]>> = {
  pruning: PRUNER_TABLE.filter((p) => p.name !== "wanda").map((p) => p.algorithm),
  quantization: QUANTIZER_ALGORITHMS,
};
