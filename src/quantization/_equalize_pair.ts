// Cross-layer equalization's arithmetic (Nagel et al. 2019), shared by the graph models'
// pairs (`equalize_tfjs.ts`) and the layers models' (`_equalize_layers.ts`): a pair's scales
// from the two kernels' per-channel ranges, applied until they settle, and the rescaled
// weights written back.

import { encodeTfjs, type TfjsReplacement } from "../io/tfjs/write_tfjs.ts";
import { readTfjs, tfjsWeightValues } from "../io/tfjs/read_tfjs.ts";
import type { TfjsModel, TfjsWeight } from "../io/tfjs/tfjs_types.ts";
import type { Kernels } from "../kernels/types.ts";

/** A rescalable weight: its values (tfjs layout), shape and storage. */
export interface Param {
  readonly weight: TfjsWeight;
  values: Float32Array;
  changed: boolean;
  readonly half: boolean;
}

/** One producer/consumer pair and the per-channel vectors that follow the producer's scale. */
export interface Pair {
  /** The producer's node or layer name. */
  readonly producer: string;
  /** The consumer's node or layer name. */
  readonly consumer: string;
  /**
   * The producer's kernel, its output channel the fastest-varying index (`[kh, kw, in, out]`,
   * a depthwise `[kh, kw, in, mult]`, a dense `[in, out]`).
   */
  readonly kernel: Param;
  /** Vectors of one value per channel divided by the scale too (biases, batch-norm shifts). */
  readonly vectors: readonly Param[];
  /** The consumer's kernel, its input channel the second-last dim. */
  readonly next: Param;
  readonly channels: number;
  /** Through a ReLU6: the channels' largest values on calibration data. */
  readonly clip?: ArrayLike<number>;
  /** The bound channels stay below: 6 / margin. */
  readonly bound: number;
  /** The scale applied so far per channel (the ReLU6 bounds hold on it). */
  readonly total: Float64Array;
}

/** The weights of a model as rescalable parameters, each made once, by name. */
export class Params {
  readonly #params = new Map<string, Param>();

  /** The parameter of `w` (its values decoded once); `half`: stored as float16. */
  of(w: TfjsWeight, half: boolean): Param {
    let p = this.#params.get(w.spec.name);
    if (p === undefined) {
      p = { weight: w, values: Float32Array.from(tfjsWeightValues(w)), changed: false, half };
      this.#params.set(w.spec.name, p);
    }
    return p;
  }

  /**
   * Equalizes `pairs` (at most `rounds` passes, ending once no scale moves by 0.1%) and writes
   * the rescaled weights back into `model`, stored as they were (float32, or float16).
   */
  apply(model: TfjsModel, pairs: readonly Pair[], rounds: number, kernels: Kernels): TfjsModel {
    for (let round = 0; round < rounds; round++) {
      let moved = 0;
      for (const p of pairs) moved = Math.max(moved, equalizePair(p));
      if (moved < 1e-3) break;
    }
    const replacements = new Map<string, TfjsReplacement>();
    for (const [name, p] of this.#params) {
      if (!p.changed) continue;
      replacements.set(name, { values: p.values, storage: p.half ? "float16" : "float32" });
    }
    const out = encodeTfjs(model, replacements, { shardBytes: Number.MAX_SAFE_INTEGER, kernels });
    return readTfjs(out.modelJson, out.shards, { file: model.file });
  }
}

/** A new pair with no scale applied yet. */
export function newPair(p: Omit<Pair, "total">): Pair {
  return { ...p, total: new Float64Array(p.channels).fill(1) };
}

/** One equalization step of a pair; returns the largest |log s| applied. */
function equalizePair(p: Pair): number {
  const c = p.channels;
  const k = p.kernel.values;
  const r1 = new Float64Array(c);
  // Producer kernel [..., out] or [kh, kw, in, mult]: output channel = index % c.
  for (let i = 0; i < k.length; i++) r1[i % c] = Math.max(r1[i % c], Math.abs(k[i]));
  const n = p.next.values;
  const shape = p.next.weight.spec.shape;
  const last = shape[shape.length - 1];
  const inOf = (i: number) => Math.floor(i / last) % c;
  const r2 = new Float64Array(c);
  for (let i = 0; i < n.length; i++) {
    const ch = inOf(i);
    r2[ch] = Math.max(r2[ch], Math.abs(n[i]));
  }
  const s = new Float64Array(c);
  let moved = 0;
  for (let ch = 0; ch < c; ch++) {
    s[ch] = r1[ch] > 0 && r2[ch] > 0 ? Math.sqrt(r1[ch] / r2[ch]) : 1;
    if (p.clip !== undefined) {
      // ReLU6: the total scale stays 1 where the channel reached 6 / margin on calibration
      // data, and at least max / (6 / margin) elsewhere (it stays below that after scaling).
      const m = p.clip[ch];
      const total = p.total[ch] * s[ch];
      const bounded = m >= p.bound * (1 - 1e-6) ? 1 : Math.max(total, m / p.bound);
      s[ch] = bounded / p.total[ch];
    }
    p.total[ch] *= s[ch];
    moved = Math.max(moved, Math.abs(Math.log(s[ch])));
  }
  if (moved < 1e-6) return 0;
  for (let i = 0; i < k.length; i++) k[i] = k[i] / s[i % c];
  for (const v of p.vectors) {
    for (let i = 0; i < v.values.length; i++) v.values[i] = v.values[i] / s[i];
    v.changed = true;
  }
  for (let i = 0; i < n.length; i++) n[i] = n[i] * s[inOf(i)];
  p.kernel.changed = true;
  p.next.changed = true;
  return moved;
}
