/**
 * The float32 linear algebra of GPTQ and SparseGPT, written out element by element in the order
 * that `types.ts` specifies (the reference implementation of `hessianAccumulate`,
 * `inverseCholeskyUpper` and `subtractProducts`; arguments are validated by the caller).
 *
 * @module
 */

const fround = Math.fround;

/** `h = fround(h · decay) + Σ_r xs[r]ᵀ xs[r]`, upper triangle, then mirrored. */
export function hessianAccumulateRef(
  h: Float32Array,
  x: Float32Array,
  n: number,
  decay: number,
  scale: number,
): Float32Array {
  const rows = x.length / n;
  const d = fround(decay);
  const s = fround(scale);
  const xs = new Float32Array(x.length);
  for (let t = 0; t < x.length; t++) xs[t] = fround(x[t] * s);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let acc = fround(h[i * n + j] * d);
      for (let r = 0; r < rows; r++) acc = fround(acc + fround(xs[r * n + i] * xs[r * n + j]));
      h[i * n + j] = acc;
    }
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) h[i * n + j] = h[j * n + i];
  }
  return h;
}

/**
 * `U` with `Uᵀ U = H⁻¹`: Cholesky of the reversed matrix, its triangular inverse, reversed back.
 * Returns the failing column of `h` instead when `h` is not positive definite.
 */
export function inverseCholeskyUpperRef(h: Float32Array, n: number): Float32Array | number {
  // a = the reversed matrix, lower triangle only
  const a = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) a[i * n + j] = h[(n - 1 - i) * n + (n - 1 - j)];
  }
  // right-looking Cholesky: column j is finished, then subtracted from the trailing matrix
  for (let j = 0; j < n; j++) {
    const pivot = a[j * n + j];
    if (!(pivot > 0) || pivot === Infinity) return n - 1 - j;
    const l = fround(Math.sqrt(pivot));
    a[j * n + j] = l;
    for (let i = j + 1; i < n; i++) a[i * n + j] = fround(a[i * n + j] / l);
    for (let q = j + 1; q < n; q++) {
      const lq = a[q * n + j];
      for (let i = q; i < n; i++) a[i * n + q] = fround(a[i * n + q] - fround(a[i * n + j] * lq));
    }
  }
  // m = inverse of the lower triangular a, row by row
  const m = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    const lii = a[i * n + i];
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = j; k < i; k++) s = fround(s + fround(a[i * n + k] * m[k * n + j]));
      m[i * n + j] = fround(-s / lii);
    }
    m[i * n + i] = fround(1 / lii);
  }
  // U = m reversed
  const u = new Float32Array(n * n);
  for (let p = 0; p < n; p++) {
    for (let q = p; q < n; q++) u[p * n + q] = m[(n - 1 - p) * n + (n - 1 - q)];
  }
  return u;
}

/** `c[i][j] -= a[t][i] · b[t][j]` for `t = 0 … k-1`, one rounded term at a time. */
export function subtractProductsRef(
  c: Float32Array,
  a: Float32Array,
  b: Float32Array,
  k: number,
): Float32Array {
  const m = a.length / k;
  const n = b.length / k;
  for (let t = 0; t < k; t++) {
    for (let i = 0; i < m; i++) {
      const ai = a[t * m + i];
      const row = i * n;
      const bt = t * n;
      for (let j = 0; j < n; j++) c[row + j] = fround(c[row + j] - fround(ai * b[bt + j]));
    }
  }
  return c;
}
