// Example config lists offered by the page.

import { PRUNER_TABLE, QUANTIZER_ALGORITHMS } from "../src/config/algorithms.ts";

/** A named config list with its mode and algorithm. */
export interface Preset {
  readonly label: string;
  readonly mode: "pruning" | "quantization";
  readonly algorithm: string;
  readonly configList: readonly Record<string, unknown>[];
}

export const PRESETS: readonly Preset[] = [
  {
    label: "int8 per-channel on Conv and Linear weights",
    mode: "quantization",
    algorithm: "PtqQuantizer",
    configList: [{
      op_types: ["Conv2d", "Linear"],
      target_names: ["weight"],
      quant_dtype: "int8",
      granularity: "per_channel",
    }],
  },
  {
    label: "int4 per-channel on Linear weights",
    mode: "quantization",
    algorithm: "PtqQuantizer",
    configList: [{
      op_types: ["Linear"],
      target_names: ["weight"],
      quant_dtype: "int4",
      granularity: "per_channel",
    }],
  },
  {
    label: "Level pruning 50% of Linear weights",
    mode: "pruning",
    algorithm: "LevelPruner",
    configList: [{ op_types: ["Linear"], target_names: ["weight"], sparse_ratio: 0.5 }],
  },
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
];

/**
 * The algorithms of each mode, from the one table the library uses (Wanda needs calibration
 * data, which the page does not collect, so it is left out).
 */
export const ALGORITHMS: Readonly<Record<"pruning" | "quantization", readonly string[]>> = {
  pruning: PRUNER_TABLE.filter((p) => p.name !== "wanda").map((p) => p.algorithm),
  quantization: QUANTIZER_ALGORITHMS,
};
