/**
 * Channel scales for TensorFlow.js layers models. A layers model has no graph node to put a
 * `Mul` into, but it can take a layer: a `DepthwiseConv2D` with a 1 x 1 kernel and a depth
 * multiplier of 1 multiplies each channel by its own kernel value. A `Conv2D`,
 * `DepthwiseConv2D` or `SeparableConv2D` layer `L` with channel scales becomes `L` without its
 * bias and activation, followed by `L_channel_scale`, a 1 x 1 `DepthwiseConv2D` whose kernel is
 * the scales and which takes `L`'s bias and activation: `act(conv(x, codes) · scale_c + b)`, the
 * function `L` computed with the per-channel values. Every layer that read `L` reads the new
 * layer instead (Functional models), or the new layer follows `L` (Sequential models).
 *
 * Only the top-level layers of a `Sequential` or a Keras 2 `Functional` (`Model`) topology take
 * scales, `channels_last`, with their weights named `<layer>/<weight>` as tfjs loads them.
 *
 * @module
 */

import type { TfjsModel, TfjsWeight } from "../io/tfjs/tfjs_types.ts";

/** A layers-model kernel that can take a scale per output channel. */
export interface LayersScaleSite {
  /** The kernel's weight name (`<layer>/kernel`, `/depthwise_kernel` or `/pointwise_kernel`). */
  readonly kernel: string;
  /** The layer's name. */
  readonly layer: string;
  /** Its output channels (the kernel's last dim, `in · multiplier` for a depthwise kernel). */
  readonly channels: number;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The kernel's local weight name, by layer class. */
const KERNEL: Record<string, string> = {
  Conv2D: "kernel",
  DepthwiseConv2D: "depthwise_kernel",
  SeparableConv2D: "pointwise_kernel",
};

/** The top-level layer list of a layers model's topology, and whether it is Functional. */
interface TopLevel {
  /** The `{class_name, config}` record whose config holds the layers. */
  readonly root: Record<string, unknown>;
  readonly layers: Record<string, unknown>[];
  readonly functional: boolean;
}

/** An inbound node entry in the Keras 2 form `[layer, node index, tensor index, kwargs?]`. */
const isEntry = (e: unknown): e is unknown[] =>
  Array.isArray(e) && e.length >= 3 && typeof e[0] === "string" && Number.isInteger(e[1]) &&
  Number.isInteger(e[2]);

function topLevel(json: Readonly<Record<string, unknown>>): TopLevel | undefined {
  const topology = json.modelTopology;
  if (!isRecord(topology)) return undefined;
  const root = isRecord(topology.model_config) ? topology.model_config : topology;
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
 * The kernels of a layers model that can take a scale per output channel: those of top-level
 * `Conv2D`, `DepthwiseConv2D` and `SeparableConv2D` (its pointwise kernel) layers, channels
 * last, float32, 4-D, with the bias the layer's `use_bias` says it has.
 *
 * @param model A decoded layers model.
 * @returns The sites by kernel weight name (none for a topology of another form).
 */
export function layersScaleSites(model: TfjsModel): Map<string, LayersScaleSite> {
  const out = new Map<string, LayersScaleSite>();
  const top = model.kind === "layers-model" ? topLevel(model.json) : undefined;
  if (top === undefined) return out;
  const specs = new Map(model.weights.map((w) => [w.spec.name, w.spec]));
  const outputs = new Map<string, boolean>();
  if (top.functional) {
    // A layer read at another tensor index than 0 is not the single-output layer assumed here.
    for (const l of top.layers) {
      for (const n of l.inbound_nodes as unknown[][][]) {
        for (const e of n) if (e[2] !== 0) outputs.set(e[0] as string, false);
      }
    }
  }
  for (const l of top.layers) {
    const local = KERNEL[String(l.class_name)];
    const config = l.config;
    if (local === undefined || !isRecord(config) || typeof config.name !== "string") continue;
    const name = config.name;
    if (outputs.get(name) === false) continue;
    const format = config.data_format;
    if (format !== undefined && format !== null && format !== "channels_last") continue;
    const activation = config.activation;
    if (activation !== undefined && activation !== null && typeof activation !== "string") continue;
    const kernel = specs.get(`${name}/${local}`);
    if (kernel === undefined || kernel.dtype !== "float32" || kernel.shape.length !== 4) continue;
    const bias = specs.get(`${name}/bias`);
    if ((config.use_bias !== false) !== (bias !== undefined)) continue;
    const s = kernel.shape;
    const channels = local === "depthwise_kernel" ? s[2] * s[3] : s[3];
    if (channels === 0) continue;
    if (bias !== undefined && (bias.shape.length !== 1 || bias.shape[0] !== channels)) continue;
    out.set(kernel.name, { kernel: kernel.name, layer: name, channels });
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

/**
 * The model with a 1 x 1 `DepthwiseConv2D` after each layer whose kernel has scales (see the
 * module comment); the source is unchanged.
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
  const json = structuredClone(model.json) as Record<string, unknown>;
  const top = topLevel(json)!;
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
  const scaleLayer = new Map<string, string>();
  const added: { name: string; values: Float32Array; channels: number }[] = [];
  for (const [kernel, values] of scales) {
    const site = sites.get(kernel);
    if (site === undefined) {
      throw new RangeError(
        `weight ${JSON.stringify(kernel)} takes no channel scales: it must be the kernel of a ` +
          `top-level Conv2D, DepthwiseConv2D or SeparableConv2D layer (channels last)`,
      );
    }
    if (values.length !== site.channels) {
      throw new RangeError(
        `the channel scales of ${JSON.stringify(kernel)} must have ${site.channels} values, ` +
          `one per output channel: current value is ${values.length}`,
      );
    }
    const layer = unique(`${site.layer}_channel_scale`);
    scaleLayer.set(site.layer, layer);
    weights.set(kernel, `${layer}/depthwise_kernel`);
    added.push({ name: `${layer}/depthwise_kernel`, values, channels: site.channels });
  }
  const layers: Record<string, unknown>[] = [];
  for (const l of top.layers) {
    const config = l.config as Record<string, unknown>;
    const scaled = scaleLayer.get(config.name as string);
    if (top.functional) {
      // Readers of a scaled layer read its scale layer (same node, same tensor).
      l.inbound_nodes = (l.inbound_nodes as unknown[][][]).map((n) =>
        n.map((e) =>
          scaleLayer.has(e[0] as string) ? [scaleLayer.get(e[0] as string), ...e.slice(1)] : e
        )
      );
    }
    layers.push(l);
    if (scaled === undefined) continue;
    const layer = config.name as string;
    const bias = config.use_bias !== false;
    if (bias) renamed.set(`${layer}/bias`, `${scaled}/bias`);
    const entry: Record<string, unknown> = {
      class_name: "DepthwiseConv2D",
      config: {
        name: scaled,
        trainable: config.trainable ?? true,
        ...(config.dtype === undefined ? {} : { dtype: config.dtype }),
        kernel_size: [1, 1],
        strides: [1, 1],
        padding: "valid",
        data_format: "channels_last",
        dilation_rate: [1, 1],
        depth_multiplier: 1,
        activation: config.activation ?? "linear",
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
    config.activation = "linear";
    config.use_bias = false;
    config.activity_regularizer = null;
    if (top.functional) {
      entry.name = scaled;
      entry.inbound_nodes = (l.inbound_nodes as unknown[]).map((_, k) => [[layer, k, 0, {}]]);
    }
    layers.push(entry);
  }
  const config = top.root.config;
  if (Array.isArray(config)) top.root.config = layers;
  else {
    const c = config as Record<string, unknown>;
    c.layers = layers;
    if (top.functional) {
      c.output_layers = (c.output_layers as unknown[][]).map((e) =>
        scaleLayer.has(e[0] as string) ? [scaleLayer.get(e[0] as string), ...e.slice(1)] : e
      );
    }
  }
  // The weights: biases renamed in place, the scale kernels at the end of the last group.
  const rename = (w: TfjsWeight): TfjsWeight => {
    const to = renamed.get(w.spec.name);
    return to === undefined ? w : { ...w, spec: { ...w.spec, name: to } };
  };
  const group = model.weights.reduce((g, w) => Math.max(g, w.group), 0);
  let offset = model.weights.filter((w) => w.group === group)
    .reduce((n, w) => Math.max(n, w.offset + w.bytes.byteLength), 0);
  const extra: TfjsWeight[] = added.map(({ name, values, channels }) => {
    const bytes = new Uint8Array(Float32Array.from(values).buffer);
    const w = {
      spec: { name, shape: [1, 1, channels, 1], dtype: "float32" as const },
      bytes,
      group,
      offset,
    };
    offset += bytes.byteLength;
    return w;
  });
  const manifest = (json.weightsManifest ?? []) as { weights?: { name: string }[] }[];
  json.weightsManifest = manifest.map((g, i) => {
    const specs = (g.weights ?? []).map((s) =>
      renamed.has(s.name) ? { ...s, name: renamed.get(s.name)! } : s
    );
    return { ...g, weights: i === group ? [...specs, ...extra.map((w) => w.spec)] : specs };
  });
  return {
    model: { ...model, json, weights: [...model.weights.map(rename), ...extra] },
    weights,
    renamed,
  };
}
