/**
 * GPTQ rounding of TensorFlow.js kernels onto their per-tensor uint8 grid: instead of rounding
 * each weight to its nearest code, the codes are chosen column by column and each column's
 * rounding error is compensated on the columns not yet rounded, through the inverse of the
 * layer's input second moments `H = Σ x xᵀ` on calibration data (Frantar et al., 2022). The
 * grid (tfjs's one `min` and `scale` per tensor) stays the one NNI's parameters give, so the
 * kernel is still stored as tfjs uint8 codes; only which code each weight takes changes.
 *
 * A convolution's inputs are its patches (`kh·kw·in` values each, zero where the padding is), a
 * depthwise convolution's are the patches of each channel on its own (one `kh·kw` matrix per
 * channel), a MatMul's the rows of its input.
 *
 * @module
 */

import type { TfjsModel } from "../io/tfjs/tfjs_types.ts";
import type { TfjsBiasSite } from "./bias_correct_tfjs.ts";
import { attrStrings, graphNodes } from "./_tfjs_graph.ts";
import { layersConvGeometry } from "./_tfjs_layers_sites.ts";

/** How a convolution walks its input (NHWC). */
export interface TfjsConvGeometry {
  /** Strides along height and width. */
  readonly strides: readonly [number, number];
  /** Dilations along height and width. */
  readonly dilations: readonly [number, number];
  /** `SAME`, `VALID` or `EXPLICIT` (with `explicit`). */
  readonly padding: "SAME" | "VALID" | "EXPLICIT";
  /** `EXPLICIT` padding: top, bottom, left, right. */
  readonly explicit?: readonly [number, number, number, number];
}

const ints = (a: unknown): number[] | undefined => {
  const list = (a as { list?: { i?: unknown[] } } | undefined)?.list?.i;
  return Array.isArray(list) ? list.map(Number) : undefined;
};

/**
 * The geometry of a convolution node (`undefined` for a MatMul, a layout other than NHWC, or
 * attributes this module does not understand); in a layers model, of the `Conv2D` or
 * `DepthwiseConv2D` layer `site.node` (from its config).
 */
export function tfjsConvGeometry(
  model: TfjsModel,
  site: Pick<TfjsBiasSite, "node" | "kind">,
): TfjsConvGeometry | undefined {
  if (site.kind === "matmul") return undefined;
  if (model.kind === "layers-model") return layersConvGeometry(model, site.node);
  const node = graphNodes(model).find((n) => n.name === site.node);
  if (node === undefined) return undefined;
  const attr = node.attr ?? {};
  const format = attrStrings(node, "data_format")[0] ?? "NHWC";
  if (format !== "NHWC") return undefined;
  const strides = ints(attr.strides) ?? [1, 1, 1, 1];
  const dilations = ints(attr.dilations) ?? [1, 1, 1, 1];
  const padding = attrStrings(node, "padding")[0] ?? "VALID";
  if (
    strides.length !== 4 || dilations.length !== 4 ||
    ![...strides, ...dilations].every((v) => Number.isInteger(v) && v >= 1) ||
    (padding !== "SAME" && padding !== "VALID" && padding !== "EXPLICIT")
  ) {
    return undefined;
  }
  let explicit: [number, number, number, number] | undefined;
  if (padding === "EXPLICIT") {
    const p = ints(attr.explicit_paddings) ?? [];
    if (p.length !== 8 || !p.every((v) => Number.isInteger(v) && v >= 0)) return undefined;
    explicit = [p[2], p[3], p[4], p[5]];
  }
  return {
    strides: [strides[1], strides[2]],
    dilations: [dilations[1], dilations[2]],
    padding,
    ...(explicit === undefined ? {} : { explicit }),
  };
}

/** A depthwise convolution: kernel values `[kh, kw, in, mult]` (tfjs layout) and geometry. */
export interface TfjsDepthwise {
  /** The kernel's values, tfjs layout. */
  readonly kernel: Float32Array;
  /** Its shape, `[kh, kw, in, mult]`. */
  readonly shape: readonly number[];
  /** Its strides, dilations and padding. */
  readonly geometry: TfjsConvGeometry;
}

/**
 * The input second moments of one layer, accumulated input by input (`add`): a convolution's
 * `[D, D]` with `D = kh·kw·in` (a layers model's `Conv1D`, kernel `[k, in, out]`: `k·in`, as a
 * 2-D convolution of height 1), a depthwise convolution's `in` matrices `[kh·kw, kh·kw]`, a
 * MatMul's `[in, in]`. Only the upper triangle is summed; `matrix` fills the rest.
 */
export class TfjsLayerHessian {
  /** The layer. */
  readonly site: TfjsBiasSite;
  /** The kernel's shape (tfjs layout). */
  readonly shape: readonly number[];
  /** The convolution's geometry (none for a MatMul). */
  readonly geometry?: TfjsConvGeometry;
  /**
   * The layer reads its input through this depthwise kernel first (a layers model's
   * `SeparableConv2D`: its pointwise kernel, a 1 x 1 convolution of the depthwise output, which
   * no layer input holds): `tfjsLayerHessians` runs it with tfjs before `add`.
   */
  readonly through?: TfjsDepthwise;
  /** The rows summed so far (patches or input rows). */
  count = 0;
  readonly #sums: Float64Array;
  readonly #dim: number;
  readonly #groups: number;

  /**
   * An empty accumulator for one layer.
   *
   * @param site The layer (`tfjsBiasSites`).
   * @param shape Its kernel's shape, tfjs layout.
   * @param geometry Its geometry (`tfjsConvGeometry`); required for convolutions.
   * @param through A depthwise kernel the input passes first (see `through`).
   */
  constructor(
    site: TfjsBiasSite,
    shape: readonly number[],
    geometry?: TfjsConvGeometry,
    through?: TfjsDepthwise,
  ) {
    this.site = site;
    this.shape = shape;
    if (through !== undefined) this.through = through;
    if (site.kind !== "matmul" && geometry === undefined) {
      throw new TypeError(`the convolution ${JSON.stringify(site.node)} needs its geometry`);
    }
    if (geometry !== undefined) this.geometry = geometry;
    if (site.kind === "matmul") {
      this.#dim = shape[site.transposeB ? 1 : 0];
      this.#groups = 1;
    } else if (site.kind === "depthwise") {
      this.#dim = shape[0] * shape[1];
      this.#groups = shape[2];
    } else {
      // [kh, kw, in, out], or a layers model's Conv1D [k, in, out].
      this.#dim = shape.slice(0, -1).reduce((a, b) => a * b, 1);
      this.#groups = 1;
    }
    this.#sums = new Float64Array(this.#groups * this.#dim * this.#dim);
  }

  /** The matrix size `D` (per channel for a depthwise convolution). */
  get dim(): number {
    return this.#dim;
  }

  /**
   * Adds one input tensor of the layer: NHWC (or HWC) for a convolution (`[n, length, in]` or
   * `[length, in]` for a `Conv1D`), `[..., in]` for a MatMul.
   *
   * @throws {RangeError} When the tensor's channels do not match the kernel's inputs.
   */
  add(values: ArrayLike<number>, dims: readonly number[]): void {
    const { site } = this;
    if (site.kind === "matmul") {
      const d = this.#dim;
      if (dims.at(-1) !== d) {
        throw new RangeError(
          `the input of ${JSON.stringify(site.node)} has ${
            dims.at(-1)
          } features: the kernel reads ${d}`,
        );
      }
      const rows = values.length / d;
      const row = new Float64Array(d);
      for (let r = 0; r < rows; r++) {
        for (let i = 0; i < d; i++) row[i] = values[r * d + i];
        this.#outer(0, row);
      }
      this.count += rows;
      return;
    }
    // A Conv1D ([k, in, out]) is a 2-D convolution of height 1 on [n, 1, length, channels].
    const oneD = this.shape.length === 3;
    const [kh, kw, cin] = oneD ? [1, ...this.shape] : this.shape;
    if (oneD) dims = dims.length === 2 ? [1, 1, ...dims] : [dims[0], 1, ...dims.slice(1)];
    // tfjs convolutions take an unbatched [h, w, c] input too.
    else if (dims.length === 3) dims = [1, ...dims];
    if (dims.length !== 4 || dims[3] !== cin) {
      throw new RangeError(
        `the input of ${
          JSON.stringify(site.node)
        } must be NHWC with ${cin} channels: its dims are [${dims}]`,
      );
    }
    const [n, h, w] = dims;
    const g = this.geometry!;
    const [sh, sw] = g.strides;
    const [dh, dw] = g.dilations;
    const eh = (kh - 1) * dh + 1;
    const ew = (kw - 1) * dw + 1;
    let oh: number, ow: number, top: number, left: number;
    if (g.padding === "VALID") {
      oh = Math.floor((h - eh) / sh) + 1;
      ow = Math.floor((w - ew) / sw) + 1;
      top = left = 0;
    } else if (g.padding === "SAME") {
      oh = Math.ceil(h / sh);
      ow = Math.ceil(w / sw);
      top = Math.floor(Math.max(0, (oh - 1) * sh + eh - h) / 2);
      left = Math.floor(Math.max(0, (ow - 1) * sw + ew - w) / 2);
    } else {
      const [pt, pb, pl, pr] = g.explicit!;
      oh = Math.floor((h + pt + pb - eh) / sh) + 1;
      ow = Math.floor((w + pl + pr - ew) / sw) + 1;
      top = pt;
      left = pl;
    }
    if (oh <= 0 || ow <= 0) return;
    const depthwise = site.kind === "depthwise";
    const patch = new Float64Array(depthwise ? kh * kw : kh * kw * cin);
    for (let b = 0; b < n; b++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          if (depthwise) {
            for (let c = 0; c < cin; c++) {
              let t = 0;
              for (let ky = 0; ky < kh; ky++) {
                const y = oy * sh - top + ky * dh;
                for (let kx = 0; kx < kw; kx++, t++) {
                  const x = ox * sw - left + kx * dw;
                  patch[t] = y < 0 || y >= h || x < 0 || x >= w
                    ? 0
                    : values[((b * h + y) * w + x) * cin + c];
                }
              }
              this.#outer(c, patch);
            }
          } else {
            let t = 0;
            for (let ky = 0; ky < kh; ky++) {
              const y = oy * sh - top + ky * dh;
              for (let kx = 0; kx < kw; kx++) {
                const x = ox * sw - left + kx * dw;
                const outside = y < 0 || y >= h || x < 0 || x >= w;
                const at = ((b * h + y) * w + x) * cin;
                for (let c = 0; c < cin; c++, t++) patch[t] = outside ? 0 : values[at + c];
              }
            }
            this.#outer(0, patch);
          }
        }
      }
    }
    this.count += n * oh * ow;
  }

  /** `sums[group] += v vᵀ`, upper triangle. */
  #outer(group: number, v: Float64Array): void {
    const d = this.#dim;
    const s = this.#sums;
    const base = group * d * d;
    for (let i = 0; i < d; i++) {
      const vi = v[i];
      if (vi === 0) continue;
      const row = base + i * d;
      for (let j = i; j < d; j++) s[row + j] += vi * v[j];
    }
  }

  /** The full symmetric matrix of a group (a depthwise channel; 0 otherwise), `[D, D]`. */
  matrix(group = 0): Float64Array {
    const d = this.#dim;
    const m = this.#sums.slice(group * d * d, (group + 1) * d * d);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < i; j++) m[i * d + j] = m[j * d + i];
    }
    return m;
  }
}

/** In place: the lower Cholesky factor of a symmetric positive definite `[n, n]`; false if not. */
function cholesky(a: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let k = 0; k < j; k++) d -= a[j * n + k] * a[j * n + k];
    if (!(d > 0)) return false;
    const l = Math.sqrt(d);
    a[j * n + j] = l;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / l;
    }
    for (let k = j + 1; k < n; k++) a[j * n + k] = 0;
  }
  return true;
}

/** `U` upper with `Uᵀ U = (H + damp·I)⁻¹`, or undefined when `H` is not positive definite. */
function inverseUpper(h: Float64Array, n: number, percDamp: number): Float64Array | undefined {
  const a = h.slice();
  let mean = 0;
  for (let i = 0; i < n; i++) mean += a[i * n + i];
  mean /= n;
  for (let i = 0; i < n; i++) {
    // A feature never seen: its own column only (its weight is rounded to nearest).
    if (a[i * n + i] === 0) a[i * n + i] = mean > 0 ? mean : 1;
    a[i * n + i] += percDamp * (mean > 0 ? mean : 1);
  }
  if (!cholesky(a, n)) return undefined;
  // L⁻¹ (lower), then H⁻¹ = L⁻ᵀ L⁻¹.
  const inv = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    inv[j * n + j] = 1 / a[j * n + j];
    for (let i = j + 1; i < n; i++) {
      let s = 0;
      for (let k = j; k < i; k++) s -= a[i * n + k] * inv[k * n + j];
      inv[i * n + j] = s / a[i * n + i];
    }
  }
  const hinv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < n; k++) s += inv[k * n + i] * inv[k * n + j];
      hinv[i * n + j] = s;
      hinv[j * n + i] = s;
    }
  }
  // H⁻¹ = L2 L2ᵀ: U = L2ᵀ.
  if (!cholesky(hinv, n)) return undefined;
  const u = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) u[i * n + j] = hinv[j * n + i];
  }
  return u;
}

/** A per-tensor grid: the values of codes `0 .. levels.length - 1`, `min + code·scale`. */
export interface TfjsGrid {
  /** The value of code 0. */
  readonly min: number;
  /** The step. */
  readonly scale: number;
  /** The value of each code as written (tfjs decodes exactly these). */
  readonly levels: Float32Array;
  /**
   * A scale per output channel (tfjs output-channel order) applied after the layer
   * (`withTfjsChannelScales`): channel `c`'s values are `levels[k] · channelScales[c]`.
   */
  readonly channelScales?: Float32Array;
}

/**
 * GPTQ on a fixed grid: rounds the rows of `w` (`[rows, cols]`, modified) column by column in
 * order of decreasing `diag(H)`, each column's error compensated on the later columns through
 * `U = chol((H + damp·I)⁻¹)`. Returns the rounded values, or undefined when `H` is not positive
 * definite (round to nearest then).
 */
function gptqRows(
  w: Float64Array,
  rows: number,
  cols: number,
  hessian: Float64Array,
  grid: TfjsGrid,
  percDamp: number,
  rowScales?: ArrayLike<number>,
): Float32Array | undefined {
  const perm = Array.from({ length: cols }, (_, i) => i);
  perm.sort((a, b) => hessian[b * cols + b] - hessian[a * cols + a] || a - b);
  const h = new Float64Array(cols * cols);
  for (let i = 0; i < cols; i++) {
    for (let j = 0; j < cols; j++) h[i * cols + j] = hessian[perm[i] * cols + perm[j]];
  }
  const u = inverseUpper(h, cols, percDamp);
  if (u === undefined) return undefined;
  const { min, scale, levels } = grid;
  const top = levels.length - 1;
  const out = new Float32Array(rows * cols);
  const row = new Float64Array(cols);
  const value = new Float32Array(1);
  for (let r = 0; r < rows; r++) {
    const rs = rowScales === undefined ? 1 : rowScales[r];
    for (let i = 0; i < cols; i++) row[i] = w[r * cols + perm[i]];
    for (let i = 0; i < cols; i++) {
      const x = row[i];
      const code = Math.min(top, Math.max(0, Math.round((x / rs - min) / scale)));
      value[0] = levels[code] * rs;
      const q = value[0];
      out[r * cols + perm[i]] = q;
      const e = (x - q) / u[i * cols + i];
      if (e === 0) continue;
      for (let j = i + 1; j < cols; j++) row[j] -= e * u[i * cols + j];
    }
  }
  return out;
}

/**
 * A kernel (tfjs layout) rounded onto a per-tensor grid (times `grid.channelScales` per output
 * channel, when given) by GPTQ with the layer's input second
 * moments: every value is one of `grid.levels`. A matrix that is not positive definite even
 * after dampening leaves its rows rounded to nearest.
 *
 * @param hessian The layer's input second moments (`TfjsLayerHessian`).
 * @param kernel The kernel's values, tfjs layout (not modified).
 * @param grid The grid: `min`, `scale`, and the value of each code.
 * @param percDamp Dampening relative to the mean diagonal (default 0.01).
 * @returns The rounded kernel, tfjs layout.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gptqTfjsKernel, TfjsLayerHessian } from "./gptq_tfjs.ts";
 *
 * // A 2 -> 1 MatMul whose two inputs are always equal: only the sum of the weights matters.
 * const site = { node: "m", kind: "matmul" as const, kernel: "k", transposeB: false, input: "x", channels: 1 };
 * const h = new TfjsLayerHessian(site, [2, 1]);
 * h.add(Float32Array.of(1, 1, -2, -2, 0.5, 0.5), [3, 2]);
 * const levels = Float32Array.from({ length: 5 }, (_, k) => k - 2);
 * // 0.4 + 0.4: nearest rounding gives 0 + 0; GPTQ keeps the sum near 0.8 with 1 + 0.
 * const q = gptqTfjsKernel(h, Float32Array.of(0.4, 0.4), { min: -2, scale: 1, levels });
 * assert.equal(q[0] + q[1], 1);
 * ```
 */
export function gptqTfjsKernel(
  hessian: TfjsLayerHessian,
  kernel: Float32Array,
  grid: TfjsGrid,
  percDamp = 0.01,
): Float32Array {
  const { site, shape } = hessian;
  const cs = grid.channelScales;
  const transposed = site.kind === "matmul" && site.transposeB;
  const rows = site.kind === "depthwise"
    ? shape[2] * shape[3]
    : transposed
    ? shape[0]
    : shape[shape.length - 1];
  const nearest = (x: number, i: number) => {
    const s = cs === undefined
      ? 1
      : cs[transposed ? Math.floor(i / (kernel.length / rows)) : i % rows];
    const k = Math.min(
      grid.levels.length - 1,
      Math.max(0, Math.round((x / s - grid.min) / grid.scale)),
    );
    return grid.levels[k] * s;
  };
  const out = Float32Array.from(kernel, nearest);
  const d = hessian.dim;
  if (site.kind === "depthwise") {
    const [kh, kw, cin, mult] = shape;
    const kk = kh * kw;
    const w = new Float64Array(mult * kk);
    for (let c = 0; c < cin; c++) {
      for (let m = 0; m < mult; m++) {
        for (let t = 0; t < kk; t++) w[m * kk + t] = kernel[(t * cin + c) * mult + m];
      }
      const scales = cs?.subarray(c * mult, (c + 1) * mult);
      const q = gptqRows(w, mult, kk, hessian.matrix(c), grid, percDamp, scales);
      if (q === undefined) continue;
      for (let m = 0; m < mult; m++) {
        for (let t = 0; t < kk; t++) out[(t * cin + c) * mult + m] = q[m * kk + t];
      }
    }
    return out;
  }
  // Rows are output channels, columns the inputs (patch values).
  const w = new Float64Array(rows * d);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < d; i++) {
      w[r * d + i] = transposed ? kernel[r * d + i] : kernel[i * rows + r];
    }
  }
  const q = gptqRows(w, rows, d, hessian.matrix(0), grid, percDamp, cs);
  if (q === undefined) return out;
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < d; i++) {
      if (transposed) out[r * d + i] = q[r * d + i];
      else out[i * rows + r] = q[r * d + i];
    }
  }
  return out;
}
