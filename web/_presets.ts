// Example config lists offered by the page.

import { DEMO_CONFIGS } from "../demo/configs.ts";
import { PRUNER_TABLE, QUANTIZER_ALGORITHMS } from "../src/config/algorithms.ts";

/** A named config list with its mode and algorithm. */
export interface Preset {
  readonly label: string;
  readonly mode: "pruning" | "quantization";
  readonly algorithm: string;
  readonly configList: readonly Record<string, unknown>[];
  /** The storage select's value (default: left as it is). */
  readonly storage?: string;
}

/** The demo's four lists (`npm run demo`), then an L1 filter-pruning list. */
export const PRESETS: readonly Preset[] = [
  ...DEMO_CONFIGS.map((c) => ({
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
];

/**
 * The algorithms of each mode, from the one table the library uses (Wanda needs calibration
 * data, which the page does not collect, so it is left out).
 */
export const ALGORITHMS: Readonly<Record<"pruning" | "quantization", readonly string[]>> = {
  pruning: PRUNER_TABLE.filter((p) => p.name !== "wanda").map((p) => p.algorithm),
  quantization: QUANTIZER_ALGORITHMS,
};
