/**
 * The C ABI of `crates/kernels` as seen from TypeScript: the exported functions (pointers and
 * lengths are byte offsets and element counts in linear memory, every function returns an `i32`
 * status) and the status check.
 *
 * @module
 */

import type { IntCodes } from "./types.ts";

/** The exports of `wasm/kernels.wasm`. */
export interface KernelExports {
  readonly memory: WebAssembly.Memory;
  readonly __heap_base: WebAssembly.Global;
  nnc_key_hist(data: number, n: number, level: number, prefix: number, hist: number): number;
  nnc_range_count(
    data: number,
    n: number,
    lo: number,
    hi: number,
    counts: number,
    cand: number,
    cap: number,
  ): number;
  nnc_select_mask(data: number, n: number, t: number, ties: number, out: number): number;
  nnc_mag_low_hist(data: number, n: number, high: number, hist: number): number;
  nnc_mag_band(
    data: number,
    n: number,
    width: number,
    infinity: number,
    lo: number,
    hi: number,
    keys: number,
    cap: number,
    state: number,
  ): number;
  nnc_mag_bin(
    data: number,
    n: number,
    high: number,
    offset: number,
    hist: number,
    positions: number,
    lows: number,
    cap: number,
    state: number,
  ): number;
  nnc_mag_apply_bits(
    data: number,
    n: number,
    width: number,
    infinity: number,
    bits: number,
    state: number,
  ): number;
  nnc_mag_cut(
    data: number,
    n: number,
    width: number,
    cut: number,
    apply: number,
    state: number,
    bits: number,
  ): number;
  nnc_threshold_mask(data: number, n: number, t: number, out: number): number;
  nnc_histogram(data: number, n: number, lo: number, hi: number, bins: number, out: number): number;
  nnc_block_reduce(
    data: number,
    dims: number,
    dimsLen: number,
    first: number,
    count: number,
    op: number,
    acc: number,
  ): number;
  nnc_reduce_finish(acc: number, n: number, op: number, blockSize: number, out: number): number;
  nnc_min_max(
    data: number,
    dims: number,
    dimsLen: number,
    first: number,
    count: number,
    min: number,
    max: number,
  ): number;
  nnc_positive_zero(x: number, n: number): number;
  nnc_block_expand(
    blockMask: number,
    dims: number,
    dimsLen: number,
    first: number,
    count: number,
    out: number,
  ): number;
  nnc_quantize(
    data: number,
    dims: number,
    dimsLen: number,
    first: number,
    count: number,
    scale: number,
    zeroPoint: number,
    qmin: number,
    qmax: number,
    kind: number,
    out: number,
  ): number;
  nnc_dequantize(
    codes: number,
    kind: number,
    dims: number,
    dimsLen: number,
    first: number,
    count: number,
    scale: number,
    zeroPoint: number,
    out: number,
  ): number;
  nnc_fake_quantize(
    data: number,
    dims: number,
    dimsLen: number,
    first: number,
    count: number,
    scale: number,
    zeroPoint: number,
    qmin: number,
    qmax: number,
    out: number,
  ): number;
  nnc_apply_mask(data: number, mask: number, n: number, add: number, out: number): number;
  nnc_f16_to_f32(bits: number, n: number, out: number): number;
  nnc_f32_to_f16(data: number, n: number, out: number): number;
  nnc_bf16_to_f32(bits: number, n: number, out: number): number;
  nnc_f32_to_bf16(data: number, n: number, out: number): number;
  nnc_pack_int4(codes: number, n: number, out: number): number;
  nnc_unpack_int4(packed: number, n: number, signed: number, out: number): number;
  nnc_hessian_accumulate(
    h: number,
    x: number,
    n: number,
    rows: number,
    decay: number,
    scale: number,
    scratch: number,
    scratchLen: number,
  ): number;
  nnc_inverse_cholesky_upper(
    h: number,
    n: number,
    out: number,
    scratch: number,
    scratchLen: number,
    failed: number,
  ): number;
  nnc_subtract_products(
    c: number,
    a: number,
    b: number,
    m: number,
    n: number,
    k: number,
    scratch: number,
    scratchLen: number,
  ): number;
}

const STATUS: Record<number, string> = {
  1: "a null or misaligned pointer",
  2: "a malformed block layout",
  3: "an unknown op, level or code type",
  4: "a chunk past the end of its layout",
};

/**
 * Throws unless a kernel returned status 0. Arguments are validated before every call, so a
 * non-zero status is an internal error.
 *
 * @param kernel The export's name.
 * @param status Its return value.
 * @throws {Error} For a non-zero status.
 */
export function checkStatus(kernel: string, status: number): void {
  if (status !== 0) {
    throw new Error(
      `WebAssembly kernel ${kernel} failed with status ${status} (${STATUS[status] ?? "unknown"})`,
    );
  }
}

/**
 * The code-type number of the ABI for an integer code array (0 `Int8Array`, 1 `Uint8Array`,
 * 2 `Int16Array`, 3 `Int32Array`).
 *
 * @param codes A validated code array.
 * @returns The code-type number.
 */
export function codeKind(codes: IntCodes): number {
  if (codes instanceof Int8Array) return 0;
  if (codes instanceof Uint8Array) return 1;
  if (codes instanceof Int16Array) return 2;
  return 3;
}

/** The instance's exports, typed. */
export function kernelExports(instance: WebAssembly.Instance): KernelExports {
  return instance.exports as unknown as KernelExports;
}
