/**
 * Loads the GPTQ / SparseGPT oracle (cases run through the authors' reference code, see
 * `tests/gptq_oracle/README.md`): every `expected/*.json` of the copy in `tests/gptq_oracle/`,
 * which the repository carries (refresh it from the oracle's source when cases are added). Also
 * the measures the
 * oracle tests compare: the layer reconstruction error and the baselines (round-to-nearest,
 * magnitude pruning) computed the way the reference's harness does.
 *
 * @module
 */

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { readSafetensors } from "../../src/io/safetensors/read_safetensors.ts";
import { gptqCode, gptqParams } from "../../src/quantization/gptq_quantizer.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const EXPECTED = join(ROOT, "tests/gptq_oracle/expected");

/** One oracle case: the expected JSON and its tensors. */
export interface OracleCase {
  readonly id: string;
  readonly algorithm: "gptq" | "sparsegpt";
  // deno-lint-ignore no-explicit-any
  readonly expected: any;
  /** Tensors by name: float32 as `Float32Array`, u8 as `Uint8Array`, i32 as `Int32Array`. */
  readonly tensors: Record<string, Float32Array | Uint8Array | Int32Array>;
  /** The layer's `[out, in]`. */
  readonly shape: [number, number];
  /** The calibration batches (one add_batch call each). */
  readonly batches: Float32Array[];
  /** The reference's nsamples increment per batch. */
  readonly sampleCounts: number[];
  /** All calibration rows, `[n, in]`. */
  readonly x: Float32Array;
}

/** The expected JSON files of the oracle, by id. */
export function oracleFiles(algorithm: "gptq" | "sparsegpt"): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of readdirSync(EXPECTED).sort()) {
    if (!name.endsWith(".json")) continue;
    const path = join(EXPECTED, name);
    if (JSON.parse(readFileSync(path, "utf8")).algorithm === algorithm) {
      files.set(name.slice(0, -5), path);
    }
  }
  return files;
}

function typed(dtype: string, bytes: Uint8Array): Float32Array | Uint8Array | Int32Array {
  const copy = bytes.slice();
  if (dtype === "F32") return new Float32Array(copy.buffer);
  if (dtype === "U8") return copy;
  if (dtype === "I32") return new Int32Array(copy.buffer);
  throw new Error(`unexpected dtype ${dtype}`);
}

/** Loads one case from its expected JSON. */
export function loadCase(path: string): OracleCase {
  const expected = JSON.parse(readFileSync(path, "utf8"));
  const dir = dirname(dirname(path));
  const file = readSafetensors(new Uint8Array(readFileSync(join(dir, expected.data_file))));
  const tensors: Record<string, Float32Array | Uint8Array | Int32Array> = {};
  for (const t of file.tensors) tensors[t.name] = typed(t.dtype, t.data);
  const layer = expected.case.layer;
  const shape: [number, number] = [layer.out_features, layer.in_features];
  const x = tensors.X as Float32Array;
  const batches = expected.batches.map((b: { rows: [number, number] }) =>
    x.slice(b.rows[0] * shape[1], b.rows[1] * shape[1])
  );
  const sampleCounts = expected.batches.map((b: { nsamples_increment: number }) =>
    b.nsamples_increment
  );
  return {
    id: expected.id,
    algorithm: expected.algorithm,
    expected,
    tensors,
    shape,
    batches,
    sampleCounts,
    x,
  };
}

/** `‖W Xᵀ − Q Xᵀ‖² / ‖W Xᵀ‖²` in float64 (the oracle's `rel_error`). */
export function relError(w: Float32Array, q: Float32Array, x: Float32Array, cols: number): number {
  const rows = w.length / cols;
  const n = x.length / cols;
  let num = 0;
  let den = 0;
  const diff = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) diff[c] = w[r * cols + c] - q[r * cols + c];
    for (let s = 0; s < n; s++) {
      let a = 0;
      let b = 0;
      const xs = s * cols;
      for (let c = 0; c < cols; c++) {
        a += w[r * cols + c] * x[xs + c];
        b += diff[c] * x[xs + c];
      }
      num += b * b;
      den += a * a;
    }
  }
  return num / den;
}

/** Quantizes columns `[from, to)` of a row-major `[rows, cols]` weight to the nearest point. */
function rtnRange(
  w: Float32Array,
  out: Float32Array,
  cols: number,
  from: number,
  to: number,
  bits: number,
  sym: boolean,
  source: Float32Array = w,
): void {
  const rows = w.length / cols;
  const columns: Float32Array[] = [];
  for (let c = from; c < to; c++) {
    const column = new Float32Array(rows);
    for (let r = 0; r < rows; r++) column[r] = source[r * cols + c];
    columns.push(column);
  }
  const p = gptqParams(columns, bits, sym);
  for (let r = 0; r < rows; r++) {
    for (let c = from; c < to; c++) {
      const code = gptqCode(w[r * cols + c], p.scale[r], p.zero[r], p.maxq);
      out[r * cols + c] = Math.fround(p.scale[r] * (code - p.zero[r]));
    }
  }
}

/** Round-to-nearest with the GPTQ quantizer, per row or per group of consecutive columns. */
export function rtn(
  w: Float32Array,
  cols: number,
  bits: number,
  sym: boolean,
  groupSize: number,
): Float32Array {
  const out = new Float32Array(w.length);
  const step = groupSize === -1 ? cols : groupSize;
  for (let c = 0; c < cols; c += step) {
    rtnRange(w, out, cols, c, Math.min(cols, c + step), bits, sym);
  }
  return out;
}

/**
 * The magnitude baseline of SparseGPT's oracle: unstructured, `|w| <= sort(|W|)[int(numel ·
 * sparsity)]` over the layer; N:M, per row the `n` smallest `|w|` of every `m` columns (lower
 * index first on ties); then, with joint quantization, round-to-nearest with per-row parameters
 * of the unpruned weight.
 */
export function magnitude(
  w: Float32Array,
  cols: number,
  sparsity: number,
  n: number,
  m: number,
  quant?: { bits: number; sym: boolean },
): Float32Array {
  const rows = w.length / cols;
  const pruned = new Uint8Array(w.length);
  if (n === 0) {
    const abs = Float32Array.from(w, Math.abs).sort();
    const t = abs[Math.floor(w.length * sparsity)];
    for (let i = 0; i < w.length; i++) pruned[i] = Math.abs(w[i]) <= t ? 1 : 0;
  } else {
    for (let r = 0; r < rows; r++) {
      for (let c0 = 0; c0 < cols; c0 += m) {
        const idx = [];
        for (let c = c0; c < Math.min(cols, c0 + m); c++) idx.push(c);
        idx.sort((a, b) => Math.abs(w[r * cols + a]) - Math.abs(w[r * cols + b]) || a - b);
        for (const c of idx.slice(0, n)) pruned[r * cols + c] = 1;
      }
    }
  }
  const out = w.map((v, i) => (pruned[i] ? 0 : v));
  if (!quant) return out;
  const q = new Float32Array(w.length);
  rtnRange(out, q, cols, 0, cols, quant.bits, quant.sym, w);
  return q;
}

/** The share of equal entries. */
export function agreement(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}
