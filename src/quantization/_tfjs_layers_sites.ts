/**
 * The layers of a TensorFlow.js layers model that bias correction and GPTQ rounding work on,
 * their geometry, and new biases for those without one. A layers model has no tensor names:
 * a layer's input is named by the layer itself (`TfjsBiasSite.input` is the layer's name), and
 * the runtime taps it by building a model whose outputs are the layers' inputs
 * (`tfjsChannelStats`, `tfjsLayerHessians` in src/compress/compare_tfjs.ts).
 *
 * @module
 */

import type { TfjsModel, TfjsWeightSpec } from "../io/tfjs/tfjs_types.ts";
import type { TfjsBiasSite } from "./bias_correct_tfjs.ts";
import type { TfjsConvGeometry } from "./gptq_tfjs.ts";
import {
  ambiguousLayers,
  channelsLast,
  isRecord,
  layerKernels,
  layersTopologyModels,
  type PlacedLayer,
  placedLayers,
} from "./_channel_scales_layers.ts";
import { withWeights } from "./_tfjs_graph.ts";

/** The site kind of the layer classes bias correction and GPTQ rounding work on. */
const KIND: Record<string, TfjsBiasSite["kind"]> = {
  Conv2D: "conv",
  Conv1D: "conv",
  DepthwiseConv2D: "depthwise",
  Dense: "matmul",
};

/** The number of times a Functional layer is applied (1 in a Sequential). */
function calls(p: PlacedLayer): number {
  return p.model.functional ? (p.layer.inbound_nodes as unknown[]).length : 1;
}

/** The only layer that reads `p` (the next one in a Sequential), if exactly one does. */
function onlyReader(
  p: PlacedLayer,
  byName: ReadonlyMap<string, PlacedLayer>,
): PlacedLayer | undefined {
  const { model } = p;
  if (!model.functional) {
    const next = model.layers[p.index + 1];
    const name = isRecord(next?.config) ? next.config.name : undefined;
    return typeof name === "string" ? byName.get(name) : undefined;
  }
  const outputs = (model.root.config as { output_layers: unknown[][] }).output_layers;
  if (outputs.some((e) => e[0] === p.name)) return undefined;
  let reader: PlacedLayer | undefined;
  let reads = 0;
  for (const l of model.layers) {
    for (const node of l.inbound_nodes as unknown[][][]) {
      for (const e of node) {
        if (e[0] !== p.name) continue;
        reads++;
        reader = byName.get((l.config as { name: string }).name);
      }
    }
  }
  return reads === 1 ? reader : undefined;
}

const linear = (activation: unknown) =>
  activation === undefined || activation === null || activation === "linear";

/**
 * The layers of a layers model whose kernels bias correction and GPTQ rounding work on:
 * `Conv2D`, `Conv1D` (bias correction only), `DepthwiseConv2D`, `SeparableConv2D` and `Dense`
 * layers of the model or of a `Sequential` or `Functional` model nested in it, channels last,
 * with a float32 kernel named `<layer>/<weight>` (a layer applied more than once is one site,
 * its input's statistics taken over every call). A `SeparableConv2D` is its pointwise kernel
 * (`through` its depthwise one, whose output no layer input holds) and, when that takes a bias,
 * a site `<layer>/depthwise` for the depthwise kernel whose shift goes `into` it. A layer's
 * bias takes its correction; a linear layer without one whose only reader is a
 * `BatchNormalization` on the last axis passes it to that layer's moving mean (`subtracted`:
 * the shift is added to it, which cancels it exactly); any other layer without a bias is listed
 * without one (`withLayersBiases` gives it one, added before its activation as Keras adds a
 * bias). `input` is the layer's own name.
 *
 * @param model A decoded layers model.
 * @returns The layers, in topology order (outer model first).
 */
export function layersBiasSites(model: TfjsModel): TfjsBiasSite[] {
  if (model.kind !== "layers-model") return [];
  const all = layersTopologyModels(model.json);
  const excluded = ambiguousLayers(all);
  const byName = new Map(
    placedLayers(all).filter((p) => !excluded.has(p.name)).map((p) => [p.name, p]),
  );
  const specs = new Map(model.weights.map((w) => [w.spec.name, w.spec]));
  const vector = (name: string, channels: number) => {
    const s = specs.get(name);
    return s !== undefined && s.dtype === "float32" && s.shape.length === 1 &&
      s.shape[0] === channels;
  };
  const sites: TfjsBiasSite[] = [];
  for (const { placed: p, className, kernel, channels } of layerKernels(model, all)) {
    const separable = className === "SeparableConv2D";
    const kind = separable ? "conv" : KIND[className];
    // A layer called more than once is one site: its input statistics are over every call.
    if (kind === undefined) continue;
    // A SeparableConv2D's pointwise kernel reads its depthwise kernel's output.
    const depthwise = separable ? specs.get(`${p.name}/depthwise_kernel`) : undefined;
    if (
      separable &&
      (depthwise?.dtype !== "float32" || depthwise.shape.length !== 4 ||
        depthwise.shape[2] * depthwise.shape[3] !== kernel.shape[2])
    ) continue;
    const site: TfjsBiasSite = {
      node: p.name,
      kind,
      kernel: kernel.name,
      transposeB: false,
      input: p.name,
      channels,
      ...(depthwise === undefined ? {} : { through: depthwise.name }),
    };
    const own = `${p.name}/bias`;
    let placed: TfjsBiasSite | undefined;
    if (p.config.use_bias !== false) {
      // A bias the config promises but the manifest does not hold as a float vector: no site.
      if (vector(own, channels)) placed = { ...site, bias: own };
    } else if (!specs.has(own)) {
      const reader = linear(p.config.activation) ? onlyReader(p, byName) : undefined;
      const axis = reader?.config.axis;
      const last = Array.isArray(axis) ? axis.length === 1 && axis[0] : axis;
      // The channel axis of a convolution's output: 3 (Conv2D), 2 (Conv1D).
      const channelAxis = kernel.shape.length - 1;
      placed = reader !== undefined && reader.layer.class_name === "BatchNormalization" &&
          calls(reader) === 1 && (last === -1 || (kind !== "matmul" && last === channelAxis)) &&
          vector(`${reader.name}/moving_mean`, channels)
        ? { ...site, bias: `${reader.name}/moving_mean`, subtracted: true }
        : site;
    }
    if (placed === undefined) continue;
    sites.push(placed);
    // The depthwise kernel's shift goes through the pointwise kernel into the layer's bias.
    if (depthwise !== undefined && placed.bias !== undefined) {
      sites.push({
        node: `${p.name}/depthwise`,
        kind: "depthwise",
        kernel: depthwise.name,
        transposeB: false,
        input: p.name,
        channels: kernel.shape[2],
        into: p.name,
      });
    }
  }
  return sites;
}

/** One positive integer (Keras writes a Conv1D's as `[2]`). */
function single(v: unknown, fallback: number): number | undefined {
  const a = v === undefined || v === null ? [fallback] : Array.isArray(v) ? v : [v];
  return a.length === 1 && Number.isInteger(a[0]) && a[0] >= 1 ? a[0] : undefined;
}

/** One or two integers (Keras writes `[2, 2]`; a single number means both). */
function pair(v: unknown, fallback: number): [number, number] | undefined {
  const a = v === undefined || v === null ? [fallback, fallback] : Array.isArray(v) ? v : [v, v];
  if (a.length !== 2 || !a.every((x) => Number.isInteger(x) && x >= 1)) return undefined;
  return [a[0], a[1]];
}

/**
 * The geometry of a layers model's `Conv2D`, `DepthwiseConv2D` or `Conv1D` layer (`undefined`
 * for a `Dense` layer, a layer not found, channels first, or padding other than `same`/`valid`
 * (a `Conv1D`'s `causal` too)): Keras's `same` is TensorFlow's `SAME`, which tfjs-layers runs. A
 * `Conv1D`'s is that of the 2-D convolution of height 1 it is (`TfjsLayerHessian` reads its
 * `[n, length, channels]` input as `[n, 1, length, channels]`).
 *
 * @param model A decoded layers model.
 * @param layer The layer's name.
 * @returns Its strides, dilations and padding.
 */
export function layersConvGeometry(
  model: TfjsModel,
  layer: string,
): TfjsConvGeometry | undefined {
  // `<layer>/depthwise`: a SeparableConv2D's depthwise kernel (its pointwise one is 1 x 1 on
  // the depthwise output, which no layer input holds: no geometry).
  const separable = layer.endsWith("/depthwise") ? layer.slice(0, -"/depthwise".length) : undefined;
  const name = separable ?? layer;
  const p = placedLayers(layersTopologyModels(model.json)).find((q) => q.name === name);
  const className = String(p?.layer.class_name);
  const kind = separable === undefined
    ? KIND[className]
    : className === "SeparableConv2D"
    ? "depthwise"
    : undefined;
  if (p === undefined || kind === undefined || kind === "matmul") return undefined;
  if (!channelsLast(p.config)) return undefined;
  if (className === "Conv1D") {
    // A Conv1D runs as a 2-D convolution of height 1 ([n, 1, length, channels], the kernel
    // [1, k, in, out]); `causal` pads the start of the sequence alone.
    const [stride, dilation, k] = ["strides", "dilation_rate", "kernel_size"].map((key) =>
      single(p.config[key], 1)
    );
    const padding = String(p.config.padding ?? "valid").toLowerCase();
    if (stride === undefined || dilation === undefined || k === undefined) return undefined;
    const base = { strides: [1, stride], dilations: [1, dilation] } as const;
    if (padding === "causal") {
      return { ...base, padding: "EXPLICIT", explicit: [0, 0, (k - 1) * dilation, 0] };
    }
    if (padding !== "same" && padding !== "valid") return undefined;
    return { ...base, padding: padding === "same" ? "SAME" : "VALID" };
  }
  const strides = pair(p.config.strides, 1);
  const dilations = pair(p.config.dilation_rate, 1);
  const padding = String(p.config.padding ?? "valid").toLowerCase();
  if (strides === undefined || dilations === undefined) return undefined;
  if (padding !== "same" && padding !== "valid") return undefined;
  return { strides, dilations, padding: padding === "same" ? "SAME" : "VALID" };
}

/**
 * Gives layers of a layers model that have no bias one: the layer's config says `use_bias:
 * true` (with a zeros initializer and no regularizer or constraint where it names none) and a
 * float32 weight `<layer>/bias` joins the manifest; Keras layers add the bias before their
 * activation.
 *
 * @param model A decoded layers model.
 * @param biases The values (one per output channel) by layer name; each must be a site of
 * `layersBiasSites` without a bias.
 * @returns The new model (the source is unchanged) and the weight name by layer.
 * @throws {RangeError} A layer that is not such a site, or values of the wrong length.
 */
export function withLayersBiases(
  model: TfjsModel,
  biases: ReadonlyMap<string, Float32Array>,
): { model: TfjsModel; weights: Map<string, string> } {
  const sites = new Map(
    layersBiasSites(model).filter((s) => s.bias === undefined).map((s) => [s.node, s]),
  );
  for (const [layer, values] of biases) {
    const site = sites.get(layer);
    if (site === undefined) {
      throw new RangeError(
        `layer ${JSON.stringify(layer)} takes no new bias: only a Conv2D, Conv1D, ` +
          `DepthwiseConv2D, SeparableConv2D or Dense layer without one (use_bias false, no ` +
          `BatchNormalization after it) does`,
      );
    }
    if (values.length !== site.channels) {
      throw new RangeError(
        `the bias of layer ${JSON.stringify(layer)} must have ${site.channels} values, one ` +
          `per output channel: current value is ${values.length}`,
      );
    }
  }
  const json = structuredClone(model.json) as Record<string, unknown>;
  const weights = new Map<string, string>();
  const added: { spec: TfjsWeightSpec; bytes: Uint8Array }[] = [];
  for (const p of placedLayers(layersTopologyModels(json))) {
    const values = biases.get(p.name);
    if (values === undefined || weights.has(p.name)) continue;
    p.config.use_bias = true;
    p.config.bias_initializer ??= { class_name: "Zeros", config: {} };
    p.config.bias_regularizer ??= null;
    p.config.bias_constraint ??= null;
    const name = `${p.name}/bias`;
    weights.set(p.name, name);
    added.push({
      spec: { name, shape: [values.length], dtype: "float32" },
      bytes: new Uint8Array(Float32Array.from(values).buffer),
    });
  }
  return { model: withWeights(model, json, added), weights };
}
