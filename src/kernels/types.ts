/**
 * The `Kernels` interface: the closed set of numeric primitives that every compression stage is
 * built from. Two implementations exist: a readable TypeScript reference (`reference.ts`) and a
 * WebAssembly SIMD build of `crates/kernels` (`wasm.ts`). Both validate their arguments with the
 * same functions (`validate.ts`) and must agree exactly on every integer result (masks, codes,
 * histogram counts, selected values) and within `FLOAT_TOLERANCE` on floating-point reductions.
 *
 * Conventions shared by every kernel:
 * - Tensors are row-major `Float32Array`s with an explicit `shape` where the layout matters.
 * - Masks are `Uint8Array`s: 1 keeps, 0 prunes.
 * - A block `kernel` has one entry per dim of `shape`: a block length that divides the dim, or
 *   -1 for the whole dim. `[1, -1]` = rows, `[-1, 1]` = columns, `[4, 4]` = 4x4 tiles,
 *   `[1, -1, -1, -1]` = conv filters, all -1 = the whole tensor. The block grid has
 *   `shape[d] / kernel[d]` entries along dim d (1 where the kernel is -1) and is itself
 *   row-major.
 * - Order of values (selection, histograms): the IEEE order, with -0 equal to +0 and every NaN
 *   equal to every other NaN and larger than +Infinity. Ties are broken by flat index: among
 *   equal values, the lower index counts as smaller (it is pruned first).
 * - Rounding: round half to even everywhere (like `torch.round`), never `Math.round`.
 *
 * @module
 */

/** A reduction applied over the elements of each block. */
export type Reduction = "sum" | "mean" | "l1" | "l2" | "maxabs";

/** The reductions, in a fixed order (used by tests, benchmarks and the WASM op codes). */
export const REDUCTIONS: readonly Reduction[] = ["sum", "mean", "l1", "l2", "maxabs"];

/** How a mask is applied: `mul` multiplies by 0/1, `add` adds 0 / -1000. */
export type MaskMethod = "mul" | "add";

/** The value that `add` adds at pruned positions (NNI's `SMALL_MASK_VALUE`). */
export const ADD_MASK_VALUE: -1000 = -1000;

/** Integer code arrays that quantization can write. */
export type IntCodes = Int8Array | Uint8Array | Int16Array | Int32Array;

/**
 * Quantization parameters over a block grid (per tensor: kernel all -1 and one scale; per
 * channel: `[1, -1, ...]` and one scale per row of dim 0; per block: any kernel).
 */
export interface QuantParams {
  /** Block kernel, one entry per dim of the tensor's shape (see the module doc). */
  readonly kernel: readonly number[];
  /** One scale per block, block-grid row-major. Finite and > 0. */
  readonly scale: Float32Array;
  /** One zero point per block, block-grid row-major. Finite integers. */
  readonly zeroPoint: Float32Array;
  /** Smallest integer code (inclusive). */
  readonly qmin: number;
  /** Largest integer code (inclusive). */
  readonly qmax: number;
}

/** Per-block minimum and maximum. */
export interface MinMax {
  /** One minimum per block (block-grid row-major). NaN if the block holds a NaN. */
  readonly min: Float32Array;
  /** One maximum per block (block-grid row-major). NaN if the block holds a NaN. */
  readonly max: Float32Array;
}

/**
 * The numeric kernels. Every method validates its arguments with its `check*` function of
 * `validate.ts` (throwing `RangeError` or `TypeError` that names the argument and its value;
 * so every implementation rejects the same inputs with the same error) before any
 * computation, never mutates its inputs, and returns freshly allocated outputs unless an `out`
 * argument is given.
 */
export interface Kernels {
  /** `"reference"` (plain TypeScript) or `"wasm"` (WebAssembly SIMD). */
  readonly name: "reference" | "wasm";

  /**
   * The mask with exactly `k` zeros, at the `k` smallest values of `metric` (value order of the
   * module doc: lower index first on ties, NaN after +Infinity). `k` is an integer in [0, n].
   */
  kSmallestMask(metric: Float32Array, k: number): Uint8Array;

  /**
   * The value of rank `k` (0-based, value order of the module doc) among all elements of
   * `arrays` taken together, as if concatenated. `k` is an integer in [0, total). Returns the
   * float32 value as a number (NaN if the rank falls among NaNs; +0 for a zero).
   */
  kthSmallest(arrays: readonly Float32Array[], k: number): number;

  /**
   * Counts of `data` values in `bins` equal-width bins over [lo, hi]: bin
   * `min(bins - 1, floor((x - lo) / (hi - lo) * bins))`, computed in float64. Values outside
   * [lo, hi] and NaN are not counted. Counts are added to `out` (length `bins`) when it is
   * given, so a histogram can be accumulated over many tensors or chunks; otherwise a zeroed
   * array is used. `lo < hi`, both finite; `bins` an integer in [1, 2^24].
   */
  histogram(
    data: Float32Array,
    lo: number,
    hi: number,
    bins: number,
    out?: Float64Array,
  ): Float64Array;

  /**
   * The mask `metric >= t` (1 keeps), compared exactly (each float32 value against the float64
   * `t`, never `t` rounded to float32). NaN metrics compare false and are pruned; so does every
   * metric when `t` is NaN.
   */
  thresholdMask(metric: Float32Array, t: number): Uint8Array;

  /**
   * One value per block: `sum`, `mean` (sum / block size), `l1` (sum of |x|), `l2`
   * (sqrt of the sum of squares), `maxabs` (largest |x|). Accumulates in float64 and rounds the
   * result to float32 once. NaN in a block gives NaN.
   */
  blockReduce(
    data: Float32Array,
    shape: readonly number[],
    kernel: readonly number[],
    op: Reduction,
  ): Float32Array;

  /** The inverse of a block reduction for masks: each block value repeated over its block. */
  blockExpand(
    blockMask: Uint8Array,
    shape: readonly number[],
    kernel: readonly number[],
  ): Uint8Array;

  /**
   * Minimum and maximum of each block (NaN propagates; -0 and +0 compare equal, and a zero
   * result is +0 like in `kthSmallest`). The sign and payload of a NaN result are unspecified
   * (WebAssembly's `min`/`max` may return either sign).
   */
  minMax(data: Float32Array, shape: readonly number[], kernel: readonly number[]): MinMax;

  /**
   * Integer codes `roundHalfEven(clamp(zp + x / s, qmin, qmax))`, all in float32 arithmetic
   * (`x / s` rounded to float32, then `+ zp` rounded to float32) like NNI; the clamp compares
   * that float32 value exactly with the integers `qmin` and `qmax` (which need not be float32
   * values). NaN inputs give the zero point (clamped to [qmin, qmax]). The codes are written to
   * `out` (its type must hold [qmin, qmax]).
   */
  quantize(
    data: Float32Array,
    shape: readonly number[],
    params: QuantParams,
    out: IntCodes,
  ): IntCodes;

  /** Float values `(q - zp) * s` in float32 arithmetic (`q` converted to float32 first). */
  dequantize(codes: IntCodes, shape: readonly number[], params: QuantParams): Float32Array;

  /**
   * `dequantize(quantize(x))` in one pass, bit-identical to the two-step form; into `out` when
   * given (same length, may be `data`), else into a new array.
   */
  fakeQuantize(
    data: Float32Array,
    shape: readonly number[],
    params: QuantParams,
    out?: Float32Array,
  ): Float32Array;

  /**
   * `mul`: `x * m` (float32 multiplication, so NaN stays NaN and -x * 0 is -0);
   * `add`: `x + (m ? 0 : -1000)` (float32 addition, so a kept -0 becomes +0). `mask` has the
   * length of `data`. The result goes into `out` when given (same length; may be `data` itself,
   * masking in place without a temporary), else into a new array.
   */
  applyMask(
    data: Float32Array,
    mask: Uint8Array,
    method: MaskMethod,
    out?: Float32Array,
  ): Float32Array;

  /**
   * IEEE binary16 bits to float32 (exact); into `out` when given (same length), else into a
   * new array.
   */
  f16ToF32(bits: Uint16Array, out?: Float32Array): Float32Array;
  /**
   * float32 to IEEE binary16 bits, round to nearest even; overflow to ±Inf; NaN stays a quiet
   * NaN (sign and top 9 payload bits kept, quiet bit set: `sign | 0x7e00 | mantissa >> 13`).
   */
  f32ToF16(data: Float32Array): Uint16Array;
  /** bfloat16 bits to float32 (exact); into `out` when given (same length), else a new array. */
  bf16ToF32(bits: Uint16Array, out?: Float32Array): Float32Array;
  /**
   * float32 to bfloat16 bits, round to nearest even; overflow to ±Inf; NaN stays a quiet NaN
   * (sign and top 6 payload bits kept, quiet bit set: `(bits >>> 16) | 0x0040`).
   */
  f32ToBf16(data: Float32Array): Uint16Array;

  /**
   * Packs 4-bit codes two per byte, element `2i` in the low nibble of byte `i`, `2i + 1` in the
   * high nibble (0 for an odd tail). Signed codes must be in [-8, 7] (two's complement nibbles),
   * unsigned ones in [0, 15].
   */
  packInt4(codes: Int8Array | Uint8Array): Uint8Array;

  /** Unpacks `n` 4-bit codes (inverse of `packInt4`); `signed` sign-extends each nibble. */
  unpackInt4(packed: Uint8Array, n: number, signed: boolean): Int8Array | Uint8Array;

  /**
   * Accumulates one calibration batch into a Hessian `h = 2/n Σ x xᵀ` the way GPTQ does
   * (`H *= decay; H += (scale·x)ᵀ (scale·x)`), in float32. `h` is `[n, n]` row-major and
   * symmetric: only its upper triangle (`i <= j`) is read, both triangles are written.
   * `x` is `[rows, n]` row-major. For every `i <= j`:
   * `acc = fround(h[i][j] · fround(decay))`, then for `r = 0, 1, …` in order
   * `acc = fround(acc + fround(xs[r][i] · xs[r][j]))` with `xs = fround(x · fround(scale))`;
   * `h[i][j] = h[j][i] = acc`. Updates `h` in place and returns it (`h` is the output).
   */
  hessianAccumulate(
    h: Float32Array,
    x: Float32Array,
    n: number,
    decay: number,
    scale: number,
  ): Float32Array;

  /**
   * The upper triangular `U` with `Uᵀ U = H⁻¹` (GPTQ's `cholesky(cholesky_inverse(cholesky(H)),
   * upper=True)`), computed as `U = V⁻¹` where `H = V Vᵀ` with `V` upper triangular — a
   * Cholesky factorisation of `H` with rows and columns reversed — in float32, in this order
   * (with `A` = `H` reversed, `A[i][j] = H[n-1-i][n-1-j]`):
   * 1. lower Cholesky `A = L Lᵀ`, right-looking: each `a[i][j]` (`i >= j`) receives
   *    `a = fround(a - fround(l[i][k] · l[j][k]))` for `k = 0 … j-1` in order, then
   *    `l[j][j] = fround(sqrt(a[j][j]))` and `l[i][j] = fround(a[i][j] / l[j][j])`;
   * 2. `M = L⁻¹` row by row: `m[i][i] = fround(1 / l[i][i])`; for `j < i`, `s = 0`, then for
   *    `k = j … i-1` in order `s = fround(s + fround(l[i][k] · m[k][j]))`, and
   *    `m[i][j] = fround(-s / l[i][i])`;
   * 3. `U[p][q] = m[n-1-p][n-1-q]` (zeros below the diagonal).
   * `h` is `[n, n]` row-major and symmetric: only its upper triangle (`i <= j`) is read. Returns
   * a fresh `[n, n]` array.
   *
   * @throws {RangeError} If `h` is not positive definite (a pivot `a[j][j]` is not > 0 or not
   *   finite), naming the column of `h`.
   */
  inverseCholeskyUpper(h: Float32Array, n: number): Float32Array;

  /**
   * `c -= aᵀ b` in float32, term by term: `a` is `[k, m]`, `b` is `[k, n]` and `c` is `[m, n]`,
   * all row-major; for every `i, j` and `t = 0 … k-1` in order,
   * `c[i][j] = fround(c[i][j] - fround(a[t][i] · b[t][j]))`. The block update of GPTQ and
   * SparseGPT (`W -= Err · Hinv`, with `W` stored column-major). Updates `c` in place and
   * returns it (`c` is the output).
   */
  subtractProducts(c: Float32Array, a: Float32Array, b: Float32Array, k: number): Float32Array;

  /**
   * The first pass of an exact `|w|` selection on stored float bits (with the sign bit
   * cleared, the bits of a finite float are an integer key in `|w|` order): adds to `hist`
   * (32,768 bins) the high 16 bits of each key of float32 `words` (an `Int32Array` of their
   * bits), or each whole 15-bit key of 16-bit `words` (a `Uint16Array`; `infinity` is its
   * type's infinity, 0x7c00 for float16 or 0x7f80 for bfloat16). Returns false when a value is
   * NaN or infinite (the counts are then incomplete). Calls add up, so a tensor may be counted
   * in pieces.
   */
  magnitudeHighHistogram(
    words: Int32Array | Uint16Array,
    infinity: number,
    hist: Uint32Array,
  ): boolean;

  /**
   * The second pass for float32: adds to `hist` (65,536 bins) the low 16 bits of the keys of
   * `words` whose high 16 bits are `high`.
   */
  magnitudeLowHistogram(words: Int32Array, high: number, hist: Uint32Array): void;

  /**
   * In place of the histogram passes, when a sample has placed the cut in a band of keys
   * `[lo, hi]` (integers, 0 <= lo <= hi <= 2^31 - 1, or 2^15 - 1 for 16-bit words; keys and
   * `infinity` as in `magnitudeHighHistogram`): adds to `counts[0]` how many keys of `words` are
   * below `lo` and to `counts[1]` how many are in the band, listing the in-band keys in index
   * order at `keys[counts[1]]` onwards while there is room (the histograms then run on the
   * list). Returns false when a value is NaN or infinite (the counts are then incomplete). Calls
   * add up, so a tensor may be read in pieces.
   */
  magnitudeBand(
    words: Int32Array | Uint16Array,
    infinity: number,
    lo: number,
    hi: number,
    keys: Int32Array,
    counts: Float64Array,
  ): boolean;

  /**
   * The last pass: the mask of `words` (as in `magnitudeHighHistogram`) as bits, bit `i % 8` of
   * `bits[i >> 3]` (`bits.length` = `ceil(words.length / 8)`), 1 for kept: a key above `cut`
   * (an integer in [-1, 2^31 - 1]), or equal to it once `state[0]` equal keys, counting down in
   * index order, have been pruned. With `apply`, `words` are masked in place (a pruned value
   * keeps only its sign bit, `x * 0`) and the zeros (+0 and -0) before and after are added to
   * `state[1]` and `state[2]`. `state` is updated, so a tensor may be cut in pieces whose
   * lengths (all but the last) are multiples of 8.
   */
  magnitudeCut(
    words: Int32Array | Uint16Array,
    cut: number,
    apply: boolean,
    state: Uint32Array,
    bits: Uint8Array,
  ): void;

  /**
   * The entries of one high-bits bin of float32 `words` (as in `magnitudeHighHistogram`): the
   * low 16 bits of the keys whose high 16 bits are `high` are added to `hist` (65,536 bins),
   * and the first `positions.length` such entries are listed in index order (`positions` their
   * indices, `lows` their low bits; both the same length). Returns how many entries the bin
   * holds in all, or -1 when a value is NaN or infinite.
   */
  magnitudeBin(
    words: Int32Array,
    high: number,
    hist: Uint32Array,
    positions: Uint32Array,
    lows: Uint16Array,
  ): number;

  /**
   * Masks stored float bits in place by `bits` (bit `i % 8` of `bits[i >> 3]`, 1 keeps; a
   * pruned value keeps only its sign bit, `x * 0` of a finite `x`), a group of eight values at
   * a time, and adds the zeros (+0 and -0) before and after to `zeros[0]` and `zeros[1]`.
   * Stops before the first group holding a NaN or an infinity (`infinity`: a 16-bit type's
   * infinity bits, 0x7c00 or 0x7f80; ignored for float32), and before the last
   * `words.length % 8` values: returns how many values it masked.
   */
  magnitudeApplyBits(
    words: Int32Array | Uint16Array,
    bits: Uint8Array,
    infinity: number,
    zeros: Uint32Array,
  ): number;
}

/**
 * Relative tolerance of floating-point results between implementations, per kernel family.
 * Integer results (masks, codes, counts, selected values, conversions) must match exactly.
 */
export const FLOAT_TOLERANCE = {
  /**
   * `blockReduce`: float64 accumulation in a different order, rounded to float32 once. Relative
   * to the block's result, or for `sum` and `mean` (whose terms can cancel) to the same
   * reduction of the absolute values (`l1`, or `l1` / block size).
   */
  blockReduce: 2 ** -22,
} as const;
