/** The config lists the demo applies to both PP-OCR models. */

/** One demo run: a labelled NNI config list in one mode. */
export interface DemoConfig {
  readonly label: string;
  readonly mode: "pruning" | "quantization";
  readonly algorithm: string;
  readonly configList: readonly Record<string, unknown>[];
  /** How quantized weights are stored (`compressModel`'s `storage`; default `auto`). */
  readonly storage?: "auto" | "nbits";
  /** The block along K of `storage: "nbits"`. */
  readonly blockSize?: number;
  /**
   * Pruning: remove the emptied channels from the written model (`compressModel`'s
   * `removeChannels`, with coupled convs sharing one mask).
   */
  readonly removeChannels?: boolean;
  /**
   * Pruning: refit the pruned layers on the first `lines` labelled lines (`compressModel`'s
   * `reconstruct`, with channels ranked by `removal-scores`, depthwise convs and layers with
   * fewer rows than weight columns left as pruned). The run is scored on the other lines only,
   * so that calibration and evaluation data stay apart.
   */
  readonly reconstruct?: { readonly lines: number };
}

/** The demo's config lists, in table order. */
export const DEMO_CONFIGS: readonly DemoConfig[] = [
  {
    label: "int8 per-channel, Conv + Linear",
    mode: "quantization",
    algorithm: "PtqQuantizer",
    configList: [{
      op_types: ["Conv2d", "Linear"],
      target_names: ["weight"],
      quant_dtype: "int8",
      quant_scheme: "symmetric",
      granularity: "per_channel",
    }],
  },
  {
    // One range per output channel, split into blocks of 32 along K by the MatMulNBits export
    // (K = 120 or 240 is not a multiple of 32: the last block is padded with zeros).
    label: "int4 MatMulNBits, 32 along K",
    mode: "quantization",
    algorithm: "PtqQuantizer",
    configList: [{
      op_types: ["MatMul"],
      target_names: ["weight"],
      quant_dtype: "int4",
      quant_scheme: "symmetric",
      granularity: "per_channel",
    }],
    storage: "nbits",
    blockSize: 32,
  },
  {
    label: "Level 50%, MatMul weights",
    mode: "pruning",
    algorithm: "LevelPruner",
    configList: [{ op_types: ["MatMul"], target_names: ["weight"], sparse_ratio: 0.5 }],
  },
  {
    // The trade-off of channel pruning: a quarter of every conv's filters removed (coupled convs
    // share one mask), the layers after them refit on 20 lines, scored on the 20 others.
    label: "L1 25% conv filters removed, refit",
    mode: "pruning",
    algorithm: "L1NormPruner",
    configList: [{
      op_types: ["Conv2d"],
      target_names: ["weight"],
      sparse_ratio: 0.25,
      granularity: "out_channel",
    }],
    removeChannels: true,
    reconstruct: { lines: 20 },
  },
  {
    label: "Level global 30%, all Linear",
    mode: "pruning",
    algorithm: "LevelPruner",
    configList: [{
      op_types: ["Linear"],
      target_names: ["weight"],
      sparse_ratio: 0.3,
      global_group_id: "linear",
    }],
  },
];
