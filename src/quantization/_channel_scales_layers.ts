/**
 * Channel scales for TensorFlow.js layers models. A layers model has no graph node to put a
 * `Mul` into, but it can take a layer that multiplies each channel by a value of its own:
 *
 * - after a `Conv2D`, `DepthwiseConv2D` or `SeparableConv2D` layer `L`: `L_channel_scale`, a
 *   `DepthwiseConv2D` with a 1 x 1 kernel (the scales) and a depth multiplier of 1, which takes
 *   `L`'s bias and activation;
 * - after a `Dense` or `Conv1D` layer (any rank): `L_channel_scale`, a `BatchNormalization` on
 *   the last axis with `epsilon` 0, a zero moving mean and a unit moving variance (tfjs then
 *   computes `beta + x · gamma`), whose `gamma` is the scales and `beta` `L`'s bias; an
 *   `Activation` layer `L_activation` after it when `L` had an activation.
 *
 * `L` loses its bias and activation, so the layers compute `act(op(x, codes) · scale_c + b)`:
 * the function `L` computed, with the per-channel values. Every layer that read `L` reads the
 * last new layer instead (Functional models), or the new layers follow `L` (Sequential models).
 *
 * The layers of a `Sequential` or a Keras 2 `Functional` (`Model`) topology take scales, and
 * those of the `Sequential` and `Functional` models nested in it, with their weights named
 * `<layer>/<weight>` as tfjs loads them and a name used once in the topology. A 2-D convolution
 * in `channels_first` gets its carrier in `channels_first` too.
 *
 * @module
 */

import type { TfjsModel, TfjsWeightSpec } from "../io/tfjs/tfjs_types.ts";
import { withWeights } from "./_tfjs_graph.ts";

/** A layers-model kernel that can take a scale per output channel. */
export interface LayersScaleSite {
  /** The kernel's weight name (`<layer>/kernel`, `/depthwise_kernel` or `/pointwise_kernel`). */
  readonly kernel: string;
  /** The layer's name. */
  readonly layer: string;
  /** Its output channels (the kernel's last dim, `in · multiplier` for a depthwise kernel). */
  readonly channels: number;
  /** The layer that carries the scales: a 1 x 1 `DepthwiseConv2D` or a `BatchNormalization`. */
  readonly carrier: "DepthwiseConv2D" | "BatchNormalization";
  /**
   * Whether the layer's outputs hold their channels first (`data_format: "channels_first"`: a
   * 2-D convolution's `[n, c, h, w]`): its carrier then reads them so too.
   */
  readonly channelsFirst?: boolean;
}

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Whether a layer's data format (if it has one) is channels last. */
export function channelsLast(config: Record<string, unknown>): boolean {
  const f = config.data_format;
  return f === undefined || f === null || f === "channels_last";
}

/** The kernel's local weight name and rank, by layer class. */
export const KERNEL: Readonly<Record<string, { local: string; rank: number }>> = {
  Conv2D: { local: "kernel", rank: 4 },
  DepthwiseConv2D: { local: "depthwise_kernel", rank: 4 },
  SeparableConv2D: { local: "pointwise_kernel", rank: 4 },
  Conv1D: { local: "kernel", rank: 3 },
  Dense: { local: "kernel", rank: 2 },
};

/**
 * The bytes a `BatchNormalization` carrier adds beside the scales, per channel: its zero
 * moving mean and unit moving variance, stored as tfjs `uint8` codes (one byte each).
 */
export const BATCH_NORM_EXTRA_BYTES = 2;

/** The layer list of a (possibly nested) model of a topology, and whether it is Functional. */
export interface LayerList {
  /** The `{class_name, config}` record whose config holds the layers. */
  readonly root: Record<string, unknown>;
  readonly layers: Record<string, unknown>[];
  readonly functional: boolean;
}

/** An inbound node entry in the Keras 2 form `[layer, node index, tensor index, kwargs?]`. */
const isEntry = (e: unknown): e is unknown[] =>
  Array.isArray(e) && e.length >= 3 && typeof e[0] === "string" && Number.isInteger(e[1]) &&
  Number.isInteger(e[2]);

/** A `{class_name, config}` record as a model whose layers can be rewritten, if it is one. */
function asModel(root: Record<string, unknown>): LayerList | undefined {
  const config = root.config;
  const layers = Array.isArray(config)
    ? config
    : isRecord(config) && Array.isArray(config.layers)
    ? config.layers
    : undefined;
  if (layers === undefined || !layers.every(isRecord)) return undefined;
  if (root.class_name === "Sequential") return { root, layers, functional: false };
  if (root.class_name !== "Model" && root.class_name !== "Functional") return undefined;
  // Keras 2's inbound nodes only (Keras 3 writes `{args, kwargs}` records, which tfjs does not read).
  const keras2 = layers.every((l) =>
    Array.isArray(l.inbound_nodes) &&
    l.inbound_nodes.every((n) => Array.isArray(n) && n.every(isEntry))
  );
  if (!keras2 || !isRecord(config) || !Array.isArray(config.output_layers)) return undefined;
  if (!config.output_layers.every(isEntry)) return undefined;
  return { root, layers, functional: true };
}

/**
 * The models of a layers model's topology whose layers can be rewritten: the model itself and
 * every `Sequential` or `Functional` nested in it (a Teachable Machine model is a `Sequential`
 * of two `Sequential`s), outer first.
 */
export function layersTopologyModels(json: Readonly<Record<string, unknown>>): LayerList[] {
  const topology = json.modelTopology;
  if (!isRecord(topology)) return [];
  const out: LayerList[] = [];
  const visit = (root: Record<string, unknown>) => {
    const m = asModel(root);
    if (m === undefined) return;
    out.push(m);
    for (const l of m.layers) visit(l);
  };
  visit(isRecord(topology.model_config) ? topology.model_config : topology);
  return out;
}

/**
 * The layer names that cannot be told apart or are not single-output layers: a name used twice
 * in the topology, or a layer read at another tensor index than 0.
 */
export function ambiguousLayers(all: readonly LayerList[]): Set<string> {
  const excluded = new Set<string>();
  const seen = new Set<string>();
  for (const m of all) {
    for (const l of m.layers) {
      const name = isRecord(l.config) ? l.config.name : undefined;
      if (typeof name === "string") {
        if (seen.has(name)) excluded.add(name);
        seen.add(name);
      }
      if (!m.functional) continue;
      for (const n of l.inbound_nodes as unknown[][][]) {
        for (const e of n) if (e[2] !== 0) excluded.add(e[0] as string);
      }
    }
  }
  return excluded;
}

/** A layer entry of a topology with its model and its place in the model's list. */
export interface PlacedLayer {
  readonly layer: Record<string, unknown>;
  readonly config: Record<string, unknown>;
  readonly name: string;
  readonly model: LayerList;
  readonly index: number;
}

/** Every named layer of the models of a topology (`layersTopologyModels`), outer model first. */
export function placedLayers(all: readonly LayerList[]): PlacedLayer[] {
  const out: PlacedLayer[] = [];
  for (const model of all) {
    model.layers.forEach((layer, index) => {
      const config = layer.config;
      if (isRecord(config) && typeof config.name === "string") {
        out.push({ layer, config, name: config.name, model, index });
      }
    });
  }
  return out;
}

/** A layer whose kernel is a float32 weight `<layer>/<weight>` (`layerKernels`). */
export interface LayerKernel {
  readonly placed: PlacedLayer;
  /** The layer class (`Conv2D`, `DepthwiseConv2D`, `SeparableConv2D`, `Conv1D`, `Dense`). */
  readonly className: string;
  readonly kernel: TfjsWeightSpec;
  /** Its output channels (the kernel's last dim, `in · multiplier` for a depthwise kernel). */
  readonly channels: number;
  /** Whether its outputs hold their channels first (`data_format: "channels_first"`). */
  readonly channelsFirst: boolean;
}

/**
 * The kernels of a layers model's `Conv2D`, `DepthwiseConv2D`, `SeparableConv2D` (its pointwise
 * kernel), `Conv1D` and `Dense` layers, of the model or of a `Sequential` or `Functional` model
 * nested in it: channels last (with `channelsFirst`, the 2-D convolutions' channels first too;
 * the kernel's layout is the same either way), a named (or no) activation, a layer name that
 * tells its weights apart (`ambiguousLayers`), a float32 kernel of the class's rank, at least one
 * channel.
 *
 * @param model A decoded layers model.
 * @param all Its topology's models (`layersTopologyModels`).
 * @param options `channelsFirst`: take the 2-D convolutions whose data format is channels first.
 * @returns The kernels, in topology order.
 */
export function layerKernels(
  model: TfjsModel,
  all: readonly LayerList[],
  options: { readonly channelsFirst?: boolean } = {},
): LayerKernel[] {
  const specs = new Map(model.weights.map((w) => [w.spec.name, w.spec]));
  const excluded = ambiguousLayers(all);
  const out: LayerKernel[] = [];
  for (const placed of placedLayers(all)) {
    const className = String(placed.layer.class_name);
    const kind = KERNEL[className];
    const { config, name } = placed;
    if (kind === undefined || excluded.has(name)) continue;
    const format = config.data_format;
    // Dense has no data format. A Conv1D in channels first is left: tfjs-layers 4.22 gives
    // its outputs channels last (Keras channels first), so no carrier axis fits both.
    const first = format === "channels_first" && options.channelsFirst === true &&
      kind.rank === 4;
    if (!channelsLast(config) && !first) continue;
    const activation = config.activation;
    if (activation !== undefined && activation !== null && typeof activation !== "string") continue;
    const kernel = specs.get(`${name}/${kind.local}`);
    if (kernel === undefined || kernel.dtype !== "float32") continue;
    if (kernel.shape.length !== kind.rank) continue;
    const s = kernel.shape;
    const channels = kind.local === "depthwise_kernel" ? s[2] * s[3] : s[s.length - 1];
    if (channels > 0) out.push({ placed, className, kernel, channels, channelsFirst: first });
  }
  return out;
}

/**
 * The kernels of a layers model that can take a scale per output channel: those of
 * `layerKernels`, with the bias the layer's `use_bias` says it has.
 *
 * @param model A decoded layers model.
 * @returns The sites by kernel weight name (none for a topology of another form).
 */
export function layersScaleSites(model: TfjsModel): Map<string, LayersScaleSite> {
  const out = new Map<string, LayersScaleSite>();
  if (model.kind !== "layers-model") return out;
  const specs = new Map(model.weights.map((w) => [w.spec.name, w.spec]));
  const all = layersTopologyModels(model.json);
  for (
    const { placed, kernel, channels, channelsFirst } of layerKernels(model, all, {
      channelsFirst: true,
    })
  ) {
    const bias = specs.get(`${placed.name}/bias`);
    if ((placed.config.use_bias !== false) !== (bias !== undefined)) continue;
    if (bias !== undefined && (bias.shape.length !== 1 || bias.shape[0] !== channels)) continue;
    const carrier = kernel.shape.length === 4 ? "DepthwiseConv2D" : "BatchNormalization";
    out.set(kernel.name, {
      kernel: kernel.name,
      layer: placed.name,
      channels,
      carrier,
      ...(channelsFirst ? { channelsFirst } : {}),
    });
  }
  return out;
}

/** Every layer name of a topology, nested models included. */
function layerNames(node: unknown, out: Set<string>): Set<string> {
  if (Array.isArray(node)) {
    for (const n of node) layerNames(n, out);
  } else if (isRecord(node)) {
    if (typeof node.name === "string") out.add(node.name);
    for (const v of Object.values(node)) layerNames(v, out);
  }
  return out;
}

/** A new weight: float32 values, or `uint8` codes of one constant (`constant`). */
interface NewWeight {
  readonly name: string;
  readonly shape: number[];
  readonly values: Float32Array;
  /** Stored as uint8 codes 0 with `min` this value (a constant vector at one byte a value). */
  readonly constant?: number;
}

/** The layers that carry a site's scales (readers of the layer read the last), and their weights. */
function carrierLayers(
  site: LayersScaleSite,
  config: Record<string, unknown>,
  scales: Float32Array,
  unique: (base: string) => string,
): { layers: Record<string, unknown>[]; weights: NewWeight[]; bias?: string } {
  const name = unique(`${site.layer}_channel_scale`);
  const bias = config.use_bias !== false;
  const activation = config.activation ?? "linear";
  const common = {
    name,
    trainable: config.trainable ?? true,
    ...(config.dtype === undefined ? {} : { dtype: config.dtype }),
  };
  const c = site.channels;
  if (site.carrier === "DepthwiseConv2D") {
    const layer = {
      class_name: "DepthwiseConv2D",
      config: {
        ...common,
        kernel_size: [1, 1],
        strides: [1, 1],
        padding: "valid",
        data_format: site.channelsFirst === true ? "channels_first" : "channels_last",
        dilation_rate: [1, 1],
        depth_multiplier: 1,
        activation,
        use_bias: bias,
        depthwise_initializer: { class_name: "Ones", config: {} },
        bias_initializer: { class_name: "Zeros", config: {} },
        depthwise_regularizer: null,
        bias_regularizer: null,
        activity_regularizer: config.activity_regularizer ?? null,
        depthwise_constraint: null,
        bias_constraint: null,
      },
    };
    return {
      layers: [layer],
      weights: [{ name: `${name}/depthwise_kernel`, shape: [1, 1, c, 1], values: scales }],
      ...(bias ? { bias: `${name}/bias` } : {}),
    };
  }
  // beta + (x - 0) · gamma / sqrt(1 + 0): tfjs's batch norm with these statistics is the scale.
  const norm = {
    class_name: "BatchNormalization",
    config: {
      ...common,
      axis: -1,
      momentum: 0.99,
      epsilon: 0,
      center: bias,
      scale: true,
      beta_initializer: { class_name: "Zeros", config: {} },
      gamma_initializer: { class_name: "Ones", config: {} },
      moving_mean_initializer: { class_name: "Zeros", config: {} },
      moving_variance_initializer: { class_name: "Ones", config: {} },
      beta_regularizer: null,
      gamma_regularizer: null,
      beta_constraint: null,
      gamma_constraint: null,
    },
  };
  const layers: Record<string, unknown>[] = [norm];
  if (activation !== "linear" || config.activity_regularizer) {
    layers.push({
      class_name: "Activation",
      config: {
        ...common,
        name: unique(`${site.layer}_activation`),
        activation,
        ...(config.activity_regularizer
          ? { activity_regularizer: config.activity_regularizer }
          : {}),
      },
    });
  }
  const zeros = new Float32Array(c);
  return {
    layers,
    weights: [
      { name: `${name}/gamma`, shape: [c], values: scales },
      { name: `${name}/moving_mean`, shape: [c], values: zeros, constant: 0 },
      { name: `${name}/moving_variance`, shape: [c], values: zeros.map(() => 1), constant: 1 },
    ],
    ...(bias ? { bias: `${name}/beta` } : {}),
  };
}

/**
 * The model with the layers that carry the scales after each layer whose kernel has scales (see
 * the module comment); the source is unchanged.
 *
 * @param model A decoded layers model.
 * @param scales The scales (one per output channel) by kernel weight name; each must be a site
 * of `layersScaleSites`.
 * @returns The new model, the scale weight name by kernel, and the weights renamed (a layer's
 * bias moves to its scale layer: old name -> new name).
 * @throws {RangeError} A kernel that is not a site, or scales of the wrong length.
 */
export function withLayersScales(
  model: TfjsModel,
  scales: ReadonlyMap<string, Float32Array>,
): {
  model: TfjsModel;
  weights: Map<string, string>;
  renamed: Map<string, string>;
} {
  const sites = layersScaleSites(model);
  for (const [kernel, values] of scales) {
    const site = sites.get(kernel);
    if (site === undefined) {
      throw new RangeError(
        `weight ${JSON.stringify(kernel)} takes no channel scales: it must be the kernel of a ` +
          `Conv2D, DepthwiseConv2D, SeparableConv2D, Conv1D or Dense layer`,
      );
    }
    if (values.length !== site.channels) {
      throw new RangeError(
        `the channel scales of ${JSON.stringify(kernel)} must have ${site.channels} values, ` +
          `one per output channel: current value is ${values.length}`,
      );
    }
  }
  const byLayer = new Map(
    [...scales].map(([kernel, v]) => [sites.get(kernel)!.layer, { kernel, v }]),
  );
  const json = structuredClone(model.json) as Record<string, unknown>;
  const all = layersTopologyModels(json);
  const taken = layerNames(json.modelTopology, new Set());
  for (const w of model.weights) taken.add(w.spec.name.split("/")[0]);
  const unique = (base: string) => {
    let name = base;
    for (let k = 1; taken.has(name); k++) name = `${base}_${k}`;
    taken.add(name);
    return name;
  };
  const weights = new Map<string, string>();
  const renamed = new Map<string, string>();
  const added: NewWeight[] = [];
  // Each scaled layer's carriers (in order); readers of the layer read the last one.
  const carriers = new Map<string, Record<string, unknown>[]>();
  for (const l of all.flatMap((m) => m.layers)) {
    const config = l.config as Record<string, unknown>;
    const s = byLayer.get(config.name as string);
    if (s === undefined) continue;
    const c = carrierLayers(sites.get(s.kernel)!, config, s.v, unique);
    carriers.set(config.name as string, c.layers);
    weights.set(s.kernel, c.weights[0].name);
    added.push(...c.weights);
    if (c.bias !== undefined) renamed.set(`${config.name}/bias`, c.bias);
  }
  const lastOf = (layer: string) => {
    const c = carriers.get(layer);
    return c === undefined ? layer : (c.at(-1)!.config as { name: string }).name;
  };
  const reread = (e: unknown[]) =>
    carriers.has(e[0] as string) ? [lastOf(e[0] as string), ...e.slice(1)] : e;
  for (const m of all) {
    const layers: Record<string, unknown>[] = [];
    for (const l of m.layers) {
      const config = l.config as Record<string, unknown>;
      // Readers of a scaled layer read its last carrier (same node, same tensor).
      if (m.functional) {
        l.inbound_nodes = (l.inbound_nodes as unknown[][][]).map((n) => n.map(reread));
      }
      layers.push(l);
      const chain = carriers.get(config.name as string);
      if (chain === undefined) continue;
      config.activation = "linear";
      config.use_bias = false;
      config.activity_regularizer = null;
      let previous = config.name as string;
      for (const entry of chain) {
        const name = (entry.config as { name: string }).name;
        if (m.functional) {
          entry.name = name;
          entry.inbound_nodes = (l.inbound_nodes as unknown[]).map((
            _,
            k,
          ) => [[previous, k, 0, {}]]);
        }
        layers.push(entry);
        previous = name;
      }
    }
    const config = m.root.config;
    if (Array.isArray(config)) m.root.config = layers;
    else {
      const c = config as Record<string, unknown>;
      c.layers = layers;
      if (m.functional) c.output_layers = (c.output_layers as unknown[][]).map(reread);
    }
  }
  // The weights: biases renamed in place, the carriers' weights at the end of the last group.
  const extra = added.map(({ name, shape, values, constant }) => ({
    spec: {
      name,
      shape,
      dtype: "float32" as const,
      ...(constant === undefined ? {} : {
        quantization: {
          dtype: "uint8" as const,
          min: constant,
          scale: 1,
          original_dtype: "float32",
        },
      }),
    },
    bytes: constant === undefined
      ? new Uint8Array(Float32Array.from(values).buffer)
      : new Uint8Array(values.length),
  }));
  return {
    model: withWeights(model, json, extra, renamed),
    weights,
    renamed,
  };
}
