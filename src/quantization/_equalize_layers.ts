// Cross-layer equalization's pairs in a tfjs layers model (`equalizeTfjs`): a `Conv2D`,
// `DepthwiseConv2D`, `SeparableConv2D` or `Dense` layer whose only reader — directly or through
// layers that commute with a positive scale per channel — is another such layer, and the two
// kernels inside each `SeparableConv2D`.

import type { TfjsModel, TfjsWeight } from "../io/tfjs/tfjs_types.ts";
import { newPair, type Pair, type Param, type Params } from "./_equalize_pair.ts";
import {
  ambiguousLayers,
  channelsLast,
  isRecord,
  KERNEL,
  type LayerList,
  layersTopologyModels,
} from "./_channel_scales_layers.ts";

/**
 * The producer and consumer classes, with their kernel's local name (a producer's: a separable
 * convolution's pointwise kernel) and rank.
 */
const KERNELS: Readonly<Record<string, { local: string; rank: number }>> = Object.fromEntries(
  ["Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Dense"].map((c) => [c, KERNEL[c]]),
);

/** The kernel whose input channels a consumer scales, where it is not the producer's one. */
const CONSUMER_LOCAL: Readonly<Record<string, string>> = { SeparableConv2D: "depthwise_kernel" };

/** Activations f with f(x / s) = f(x) / s for s > 0. */
const HOMOGENEOUS = new Set(["linear", "relu"]);

/** Layers that commute with a positive scale per channel (channels last), as they are. */
const PASS = new Set([
  "LeakyReLU",
  "PReLU",
  "MaxPooling2D",
  "AveragePooling2D",
  "ZeroPadding2D",
  "Dropout",
  "SpatialDropout2D",
]);

/** Layers after which a convolution's channels are a dense layer's inputs. */
const TO_FEATURES = new Set(["GlobalAveragePooling2D", "GlobalMaxPooling2D"]);

const OUTSIDE = "\0outside";

/** The readers of each layer of one model list (`OUTSIDE` for the model's outputs). */
function readersOf(m: LayerList): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (from: string, to: string) => {
    const list = out.get(from);
    if (list === undefined) out.set(from, [to]);
    else list.push(to);
  };
  const names = m.layers.map((l) => (isRecord(l.config) ? l.config.name : undefined));
  if (!m.functional) {
    names.forEach((n, i) => {
      if (typeof n === "string") add(n, (names[i + 1] as string | undefined) ?? OUTSIDE);
    });
    return out;
  }
  m.layers.forEach((l, i) => {
    const n = names[i];
    if (typeof n !== "string") return;
    for (const node of l.inbound_nodes as unknown[][][]) {
      for (const e of node) add(e[0] as string, n);
    }
  });
  const config = m.root.config as Record<string, unknown>;
  for (const e of (config.output_layers ?? []) as unknown[][]) {
    if (Array.isArray(e) && typeof e[0] === "string") add(e[0], OUTSIDE);
  }
  return out;
}

/**
 * The equalization pairs of a layers model: the depthwise and pointwise kernels of each
 * `SeparableConv2D` (named by their weights), and a producer (`Conv2D`, `DepthwiseConv2D`,
 * `SeparableConv2D` by its pointwise kernel, `Dense`; channels last, activation `linear` or
 * `relu`) whose one reader (a separable convolution by its depthwise kernel), step by step through
 * `Activation` (`linear`, `relu`), `ReLU` (no clip, no threshold), `LeakyReLU`, `PReLU`, max or
 * average pooling, `ZeroPadding2D` and dropout, is a consumer of the same kind (a convolution
 * after a convolution; a `Dense` after a `Dense`, or after a convolution and a global pooling).
 * Layers called more than once, names used twice, models nested as layers and any other layer
 * end a path. A `BatchNormalization` ends it too: passing the scale through one (its moving mean
 * and beta divided by it) keeps the function, but on a test model (conv, batch norm, LeakyReLU,
 * pooling, conv) the uint8 error then grew: 1.8x and 6x with one of the two kernels quantized,
 * 2.5x with every kernel (the batch norm's per-channel gain, which the kernels' ranges do not
 * see, weighs the channels); weighing the ranges by that gain made it worse still. Only float32
 * weights (with `float16`, float16 ones too) are rescaled.
 *
 * @param model A decoded layers model.
 * @param params The parameters the pairs rescale (`Params.apply` writes them back).
 * @param float16 Whether weights stored as float16 are rescaled too.
 * @returns The pairs, in topology order.
 */
export function layersPairs(model: TfjsModel, params: Params, float16: boolean): Pair[] {
  const weights = new Map<string, TfjsWeight>(model.weights.map((w) => [w.spec.name, w]));
  const param = (name: string): Param | undefined => {
    const w = weights.get(name);
    const q = w?.spec.quantization?.dtype;
    if (
      w === undefined || w.spec.dtype !== "float32" ||
      (q !== undefined && !(q === "float16" && float16))
    ) {
      return undefined;
    }
    return params.of(w, q === "float16");
  };
  const all = layersTopologyModels(model.json);
  const excluded = ambiguousLayers(all);
  const pairs: Pair[] = [];
  for (const m of all) {
    const readers = readersOf(m);
    const byName = new Map<string, Record<string, unknown>>();
    for (const l of m.layers) {
      const c = l.config;
      if (!isRecord(c) || typeof c.name !== "string") continue;
      // A layer called more than once (shared) ends a path.
      if (m.functional && (l.inbound_nodes as unknown[]).length > 1) excluded.add(c.name);
      byName.set(c.name, l);
    }
    /** The one reader of `name`, if it reads nothing else. */
    const onlyReader = (name: string): Record<string, unknown> | undefined => {
      const r = readers.get(name) ?? [];
      if (r.length !== 1 || r[0] === OUTSIDE || excluded.has(r[0])) return undefined;
      const layer = byName.get(r[0]);
      if (layer === undefined) return undefined;
      if (m.functional) {
        const nodes = layer.inbound_nodes as unknown[][];
        if (nodes.length !== 1 || nodes[0].length !== 1) return undefined;
      }
      return layer;
    };
    for (const [name, layer] of byName) {
      const className = String(layer.class_name);
      const kind = KERNELS[className];
      const config = layer.config as Record<string, unknown>;
      if (className === "SeparableConv2D" && !excluded.has(name)) {
        // Inside a separable convolution nothing comes between its depthwise kernel and its
        // pointwise one (no bias, no activation, in either data format): always a pair.
        const dw = param(`${name}/depthwise_kernel`);
        const pw = param(`${name}/pointwise_kernel`);
        const ds = dw?.weight.spec.shape ?? [];
        const ps = pw?.weight.spec.shape ?? [];
        if (dw && pw && ds.length === 4 && ps.length === 4 && ps[2] === ds[2] * ds[3]) {
          pairs.push(newPair({
            producer: dw.weight.spec.name,
            consumer: pw.weight.spec.name,
            kernel: dw,
            vectors: [],
            next: pw,
            channels: ps[2],
            bound: 3,
          }));
        }
      }
      if (kind === undefined || excluded.has(name) || !channelsLast(config)) continue;
      if (!HOMOGENEOUS.has(String(config.activation ?? "linear"))) continue;
      const kernel = param(`${name}/${kind.local}`);
      const shape = kernel?.weight.spec.shape;
      if (kernel === undefined || shape!.length !== kind.rank) continue;
      const channels = className === "DepthwiseConv2D"
        ? shape![2] * shape![3]
        : shape![shape!.length - 1];
      if (!(channels > 0)) continue;
      const vectors: Param[] = [];
      if (config.use_bias !== false) {
        const bias = param(`${name}/bias`);
        if (bias === undefined || bias.values.length !== channels) continue;
        vectors.push(bias);
      }
      // Follow the single path to the next layer with a kernel.
      let features = kind.rank === 2;
      let at = name;
      let consumer: Record<string, unknown> | undefined;
      for (let step = 0; step < 16; step++) {
        const next = onlyReader(at);
        if (next === undefined) break;
        const c = next.config as Record<string, unknown>;
        const cls = String(next.class_name);
        const nextName = String(c.name);
        if (KERNELS[cls] !== undefined) {
          if ((KERNELS[cls].rank === 2) === features && channelsLast(c)) consumer = next;
          break;
        }
        if (!channelsLast(c)) break;
        let passes = PASS.has(cls) ||
          cls === "Activation" && HOMOGENEOUS.has(String(c.activation)) ||
          cls === "ReLU" && c.max_value == null && !c.threshold;
        if (TO_FEATURES.has(cls) && !features) {
          // [n, c] (or [n, 1, 1, c] with keepdims): a convolution's channels, one value each.
          features = c.keepdims !== true;
          passes = true;
        }
        if (!passes) break;
        at = nextName;
      }
      if (consumer === undefined) continue;
      const cc = consumer.config as Record<string, unknown>;
      const ck = KERNELS[String(consumer.class_name)];
      const next = param(`${cc.name}/${CONSUMER_LOCAL[String(consumer.class_name)] ?? ck.local}`);
      const ns = next?.weight.spec.shape;
      if (next === undefined || ns!.length !== ck.rank || ns![ns!.length - 2] !== channels) {
        continue;
      }
      if (next === kernel) continue;
      pairs.push(newPair({
        producer: name,
        consumer: String(cc.name),
        kernel,
        vectors,
        next,
        channels,
        bound: 3,
      }));
    }
  }
  return pairs;
}
