//! Float32 linear algebra of GPTQ and SparseGPT: the Hessian accumulation `H += xᵀ x`, the
//! factor `U` with `Uᵀ U = H⁻¹`, and the block update `C -= Aᵀ B`.
//!
//! Every output element receives its terms one at a time, in increasing order of the summation
//! index, each product rounded to `f32` and then added or subtracted (no fused multiply-add, no
//! reassociation). Blocking, packing and SIMD only change which elements are computed together,
//! never the order of one element's terms, so the results are bit-identical to the plain loops
//! of the TypeScript reference (`src/kernels/_linalg.ts`).

#[cfg(target_arch = "wasm32")]
use core::arch::wasm32::*;

/// Rows of `C` per register tile.
pub const MR: usize = 4;
/// Columns of `C` per register tile (two `f32x4`).
pub const NR: usize = 8;
/// Summation indices per packed block.
pub const KC: usize = 128;
/// Columns of `C` per packed block of `B` (a multiple of `NR`).
pub const NC: usize = 512;
/// Columns per panel of the Cholesky factorisation and rows per block of the inverse.
pub const NB: usize = 32;

/// Scratch floats that [`gemm_at_b`] needs.
pub const GEMM_SCRATCH: usize = KC * NC + KC * MR;

/// Scratch floats that [`inverse_cholesky_upper`] needs for order `n`.
pub const fn cholesky_scratch(n: usize) -> usize {
    GEMM_SCRATCH + NB * n
}

/// Which elements of `C` are needed (tiles entirely outside are skipped; elements outside the
/// triangle inside a computed tile are updated too, and must be finite or ignored).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Tri {
    /// Every element.
    Full,
    /// Elements with `j >= i`.
    Upper,
    /// Elements with `j <= i`.
    Lower,
}

/// A row-major operand: `data[t * ld + i]`.
#[derive(Clone, Copy)]
pub struct Operand<'a> {
    /// The values.
    pub data: &'a [f32],
    /// The distance between consecutive rows.
    pub ld: usize,
}

/// The shape of a product `C (m x n) ±= Aᵀ B` with `A` `k x m` and `B` `k x n`.
#[derive(Clone, Copy)]
pub struct Dims {
    /// Rows of `C`.
    pub m: usize,
    /// Columns of `C`.
    pub n: usize,
    /// Terms per element.
    pub k: usize,
}

/// One element's update: `c ± a · b`, the product rounded first.
#[inline(always)]
fn step<const ADD: bool>(c: f32, a: f32, b: f32) -> f32 {
    if ADD {
        c + a * b
    } else {
        c - a * b
    }
}

/// `C[i][j] ±= Σ_t A[t][i] · B[t][j]` for `t` in `t0..t1`, term by term, over a rectangle of
/// `C`, reading the operands unpacked (edges and the host).
#[allow(clippy::too_many_arguments)]
fn rect_scalar<const ADD: bool>(
    c: &mut [f32],
    ldc: usize,
    a: Operand,
    b: Operand,
    rows: (usize, usize),
    cols: (usize, usize),
    t0: usize,
    t1: usize,
) {
    for i in rows.0..rows.1 {
        for j in cols.0..cols.1 {
            let mut acc = c[i * ldc + j];
            for t in t0..t1 {
                acc = step::<ADD>(acc, a.data[t * a.ld + i], b.data[t * b.ld + j]);
            }
            c[i * ldc + j] = acc;
        }
    }
}

/// The `MR x NR` register tile: `kc` terms from packed `ap` (`[kc][MR]`) and `bp` (`[kc][NR]`).
/// Each `A` value is loaded already splatted (`v128.load32_splat`, a broadcast load), which
/// keeps the shuffle units free for the multiplications and additions.
#[cfg(target_arch = "wasm32")]
#[inline(always)]
unsafe fn micro<const ADD: bool>(kc: usize, ap: *const f32, bp: *const f32, c: *mut f32, ldc: usize) {
    let ld = |p: *mut f32| v128_load(p as *const v128);
    let mut acc = [[f32x4_splat(0.0); 2]; MR];
    for (r, row) in acc.iter_mut().enumerate() {
        let p = c.add(r * ldc);
        *row = [ld(p), ld(p.add(4))];
    }
    for t in 0..kc {
        let b0 = v128_load(bp.add(t * NR) as *const v128);
        let b1 = v128_load(bp.add(t * NR + 4) as *const v128);
        let a = ap.add(t * MR);
        for (r, row) in acc.iter_mut().enumerate() {
            let av = v128_load32_splat(a.add(r) as *const u32);
            if ADD {
                row[0] = f32x4_add(row[0], f32x4_mul(av, b0));
                row[1] = f32x4_add(row[1], f32x4_mul(av, b1));
            } else {
                row[0] = f32x4_sub(row[0], f32x4_mul(av, b0));
                row[1] = f32x4_sub(row[1], f32x4_mul(av, b1));
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        let p = c.add(r * ldc);
        v128_store(p as *mut v128, row[0]);
        v128_store(p.add(4) as *mut v128, row[1]);
    }
}

/// The scalar twin of `micro` (host builds): the same tile, the same order.
#[cfg(not(target_arch = "wasm32"))]
fn micro_scalar<const ADD: bool>(kc: usize, ap: &[f32], bp: &[f32], c: &mut [f32], at: usize, ldc: usize) {
    for r in 0..MR {
        for q in 0..NR {
            let mut acc = c[at + r * ldc + q];
            for t in 0..kc {
                acc = step::<ADD>(acc, ap[t * MR + r], bp[t * NR + q]);
            }
            c[at + r * ldc + q] = acc;
        }
    }
}

/// Whether the `MR x NR` tile at `(i0, j0)` holds an element of the triangle.
#[inline(always)]
fn tile_needed(tri: Tri, i0: usize, j0: usize, rows: usize, cols: usize) -> bool {
    match tri {
        Tri::Full => true,
        Tri::Upper => j0 + cols > i0,
        Tri::Lower => j0 < i0 + rows,
    }
}

/// `C[i][j] ±= Σ_t A[t][i] · B[t][j]` (`ADD`: plus), `t = 0 … k-1` in order, each product
/// rounded to `f32` before it is added or subtracted. `C` is `m x n` with row stride `ldc`,
/// `A` is `k x m`, `B` is `k x n`. With `b_lower`, `B[t][j] = 0` for `t < j` may be assumed
/// (those terms, which cannot change the result, are skipped). `scratch` holds at least
/// [`GEMM_SCRATCH`] floats.
#[allow(clippy::too_many_arguments)]
pub fn gemm_at_b<const ADD: bool>(
    c: &mut [f32],
    ldc: usize,
    a: Operand,
    b: Operand,
    d: Dims,
    tri: Tri,
    b_lower: bool,
    scratch: &mut [f32],
) {
    let (bpack, rest) = scratch.split_at_mut(KC * NC);
    let apack = &mut rest[..KC * MR];
    let mut t0 = 0;
    while t0 < d.k {
        let t1 = (t0 + KC).min(d.k);
        let kc = t1 - t0;
        let mut jc = 0;
        while jc < d.n {
            let jc1 = (jc + NC).min(d.n);
            let full = jc + (jc1 - jc) / NR * NR;
            // pack B[t0..t1][jc..full] as panels of NR columns, [panel][t][NR]
            let mut p = jc;
            while p < full {
                let base = (p - jc) * kc;
                for t in 0..kc {
                    let src = (t0 + t) * b.ld + p;
                    bpack[base + t * NR..base + t * NR + NR].copy_from_slice(&b.data[src..src + NR]);
                }
                p += NR;
            }
            let mut i0 = 0;
            while i0 < d.m {
                let rows = (d.m - i0).min(MR);
                if rows < MR {
                    // the last rows: unpacked, one element at a time
                    let mut j = jc;
                    while j < jc1 {
                        let w = (jc1 - j).min(NR);
                        if tile_needed(tri, i0, j, rows, w) {
                            let s = if b_lower { t0.max(j).min(t1) } else { t0 };
                            rect_scalar::<ADD>(c, ldc, a, b, (i0, d.m), (j, j + w), s, t1);
                        }
                        j += w;
                    }
                    break;
                }
                for t in 0..kc {
                    let src = (t0 + t) * a.ld + i0;
                    apack[t * MR..t * MR + MR].copy_from_slice(&a.data[src..src + MR]);
                }
                let mut j = jc;
                while j < full {
                    if tile_needed(tri, i0, j, MR, NR) {
                        let s = if b_lower { t0.max(j).min(t1) } else { t0 };
                        let off = s - t0;
                        let base = (j - jc) * kc;
                        #[cfg(target_arch = "wasm32")]
                        // SAFETY: the tile lies inside `c` (i0 + MR <= m, j + NR <= n) and the
                        // packed panels hold `kc` rows.
                        unsafe {
                            micro::<ADD>(
                                kc - off,
                                apack.as_ptr().add(off * MR),
                                bpack.as_ptr().add(base + off * NR),
                                c.as_mut_ptr().add(i0 * ldc + j),
                                ldc,
                            );
                        }
                        #[cfg(not(target_arch = "wasm32"))]
                        micro_scalar::<ADD>(
                            kc - off,
                            &apack[off * MR..],
                            &bpack[base + off * NR..],
                            c,
                            i0 * ldc + j,
                            ldc,
                        );
                    }
                    j += NR;
                }
                if full < jc1 && tile_needed(tri, i0, full, MR, jc1 - full) {
                    let s = if b_lower { t0.max(full).min(t1) } else { t0 };
                    rect_scalar::<ADD>(c, ldc, a, b, (i0, i0 + MR), (full, jc1), s, t1);
                }
                i0 += MR;
            }
            jc = jc1;
        }
        t0 = t1;
    }
}

/// `x · s` for every element, in place (`f32`).
fn scale_in_place(x: &mut [f32], s: f32) {
    for v in x.iter_mut() {
        *v *= s;
    }
}

/// `h = h · decay + (scale · x)ᵀ (scale · x)` over the upper triangle, term by term in row
/// order, then mirrored to the lower triangle. `x` (`rows x n`) is scaled in place.
pub fn hessian_accumulate(h: &mut [f32], x: &mut [f32], n: usize, decay: f32, scale: f32, scratch: &mut [f32]) {
    let rows = x.len().checked_div(n).unwrap_or(0);
    for i in 0..n {
        scale_in_place(&mut h[i * n + i..i * n + n], decay);
    }
    scale_in_place(x, scale);
    let xs = Operand { data: x, ld: n };
    gemm_at_b::<true>(h, n, xs, xs, Dims { m: n, n, k: rows }, Tri::Upper, false, scratch);
    for i in 0..n {
        for j in 0..i {
            h[i * n + j] = h[j * n + i];
        }
    }
}

/// `sqrt` rounded to `f32` (correctly rounded in both builds).
#[inline(always)]
fn sqrt(x: f32) -> f32 {
    #[cfg(target_arch = "wasm32")]
    {
        f32x4_extract_lane::<0>(f32x4_sqrt(f32x4_splat(x)))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        x.sqrt()
    }
}

/// `U` with `Uᵀ U = H⁻¹` (see `Kernels.inverseCholeskyUpper`): `h` (`n x n`, symmetric) is
/// overwritten (reversed and factorised), `out` receives `U`. Returns the column of `h` whose
/// pivot is not positive when `h` is not positive definite. `scratch` holds at least
/// [`cholesky_scratch`]`(n)` floats.
pub fn inverse_cholesky_upper(h: &mut [f32], n: usize, out: &mut [f32], scratch: &mut [f32]) -> Result<(), usize> {
    let nn = n * n;
    let (gs, panel) = scratch.split_at_mut(GEMM_SCRATCH);
    // the reversal of a matrix is the reversal of its row-major elements
    h[..nn].reverse();
    let a = h;
    // 1. right-looking Cholesky, panels of NB columns
    let mut j0 = 0;
    while j0 < n {
        let j1 = (j0 + NB).min(n);
        for i in j0..n {
            for q in j0..(i + 1).min(j1) {
                let mut s = a[i * n + q];
                for k in j0..q {
                    s -= a[i * n + k] * a[q * n + k];
                }
                if q == i {
                    if s.is_nan() || s <= 0.0 || s == f32::INFINITY {
                        return Err(n - 1 - q);
                    }
                    a[q * n + q] = sqrt(s);
                } else {
                    a[i * n + q] = s / a[q * n + q];
                }
            }
        }
        if j1 < n {
            let rest = n - j1;
            let nbk = j1 - j0;
            let p = &mut panel[..nbk * rest];
            for r in 0..rest {
                for k in 0..nbk {
                    p[k * rest + r] = a[(j1 + r) * n + j0 + k];
                }
            }
            let op = Operand { data: p, ld: rest };
            let dims = Dims {
                m: rest,
                n: rest,
                k: nbk,
            };
            gemm_at_b::<false>(&mut a[j1 * n + j1..], n, op, op, dims, Tri::Lower, false, gs);
        }
        j0 = j1;
    }
    // 2. M = L⁻¹ into `out`, blocks of NB rows; row i of M accumulates Σ l[i][k] m[k][j] first
    let m = out;
    let mut i0 = 0;
    while i0 < n {
        let i1 = (i0 + NB).min(n);
        let nb = i1 - i0;
        for v in m[i0 * n..i1 * n].iter_mut() {
            *v = 0.0;
        }
        if i0 > 0 {
            // the terms k < i0: S[i][j] += Σ_k Lᵀ[k][i] M[k][j]
            let p = &mut panel[..i0 * nb];
            for k in 0..i0 {
                for r in 0..nb {
                    p[k * nb + r] = a[(i0 + r) * n + k];
                }
            }
            let (done, block) = m.split_at_mut(i0 * n);
            let lt = Operand { data: p, ld: nb };
            let mk = Operand { data: done, ld: n };
            gemm_at_b::<true>(block, n, lt, mk, Dims { m: nb, n: i0, k: i0 }, Tri::Full, true, gs);
        }
        for i in i0..i1 {
            for k in i0..i {
                let lik = a[i * n + k];
                let (done, row) = m.split_at_mut(i * n);
                let mk = &done[k * n..k * n + k + 1];
                axpy(&mut row[..k + 1], mk, lik);
            }
            let lii = a[i * n + i];
            for v in m[i * n..i * n + i].iter_mut() {
                *v = -*v / lii;
            }
            m[i * n + i] = 1.0 / lii;
        }
        i0 = i1;
    }
    // 3. U = M reversed
    m[..nn].reverse();
    Ok(())
}

/// `y += a · x` elementwise, each product rounded first.
fn axpy(y: &mut [f32], x: &[f32], a: f32) {
    let n = y.len().min(x.len());
    #[cfg(target_arch = "wasm32")]
    let done = {
        let n4 = n & !3;
        let av = f32x4_splat(a);
        let (yp, xp) = (y.as_mut_ptr(), x.as_ptr());
        let mut i = 0;
        while i < n4 {
            // SAFETY: i + 4 <= n for both slices.
            unsafe {
                let yv = v128_load(yp.add(i) as *const v128);
                let xv = v128_load(xp.add(i) as *const v128);
                v128_store(yp.add(i) as *mut v128, f32x4_add(yv, f32x4_mul(av, xv)));
            }
            i += 4;
        }
        n4
    };
    #[cfg(not(target_arch = "wasm32"))]
    let done = 0;
    for i in done..n {
        y[i] += a * x[i];
    }
}

/// `C -= Aᵀ B` term by term (`C` `m x n`, `A` `k x m`, `B` `k x n`, all contiguous).
pub fn subtract_products(c: &mut [f32], a: &[f32], b: &[f32], k: usize, scratch: &mut [f32]) {
    if k == 0 {
        return;
    }
    let m = a.len() / k;
    let n = b.len() / k;
    let (ao, bo) = (Operand { data: a, ld: m }, Operand { data: b, ld: n });
    gemm_at_b::<false>(c, n, ao, bo, Dims { m, n, k }, Tri::Full, false, scratch);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    fn random(len: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..len).map(|_| lcg(&mut s)).collect()
    }

    #[test]
    fn subtract_products_matches_the_plain_loop() {
        for &(m, n, k) in &[(1, 1, 1), (5, 9, 3), (13, 530, 7), (8, 16, 300), (37, 21, 129)] {
            let a = random(k * m, 1);
            let b = random(k * n, 2);
            let mut c = random(m * n, 3);
            let mut want = c.clone();
            for t in 0..k {
                for i in 0..m {
                    for j in 0..n {
                        want[i * n + j] -= a[t * m + i] * b[t * n + j];
                    }
                }
            }
            let mut scratch = vec![0.0; GEMM_SCRATCH];
            subtract_products(&mut c, &a, &b, k, &mut scratch);
            assert_eq!(c, want, "m {m} n {n} k {k}");
        }
    }

    #[test]
    fn hessian_accumulate_matches_the_plain_loop() {
        for &(n, rows) in &[(1, 1), (6, 5), (21, 140), (40, 9)] {
            let x0 = random(rows * n, 4);
            let mut h = vec![0.0f32; n * n];
            let mut want = vec![0.0f32; n * n];
            for (decay, scale) in [(0.0f32, 1.5f32), (0.5, 0.7)] {
                let mut x = x0.clone();
                let mut scratch = vec![0.0; GEMM_SCRATCH];
                hessian_accumulate(&mut h, &mut x, n, decay, scale, &mut scratch);
                for i in 0..n {
                    for j in i..n {
                        let mut acc = want[i * n + j] * decay;
                        for r in 0..rows {
                            acc += (x0[r * n + i] * scale) * (x0[r * n + j] * scale);
                        }
                        want[i * n + j] = acc;
                        want[j * n + i] = acc;
                    }
                }
                assert_eq!(h, want, "n {n} rows {rows}");
            }
        }
    }

    /// The plain loops of the specification.
    fn inverse_plain(h: &[f32], n: usize) -> Result<Vec<f32>, usize> {
        let mut a = vec![0.0f32; n * n];
        for i in 0..n {
            for j in 0..=i {
                a[i * n + j] = h[(n - 1 - i) * n + (n - 1 - j)];
            }
        }
        for j in 0..n {
            let p = a[j * n + j];
            if p.is_nan() || p <= 0.0 || p == f32::INFINITY {
                return Err(n - 1 - j);
            }
            let l = p.sqrt();
            a[j * n + j] = l;
            for i in j + 1..n {
                a[i * n + j] /= l;
            }
            for q in j + 1..n {
                let lq = a[q * n + j];
                for i in q..n {
                    a[i * n + q] -= a[i * n + j] * lq;
                }
            }
        }
        let mut m = vec![0.0f32; n * n];
        for i in 0..n {
            let lii = a[i * n + i];
            for j in 0..i {
                let mut s = 0.0f32;
                for k in j..i {
                    s += a[i * n + k] * m[k * n + j];
                }
                m[i * n + j] = -s / lii;
            }
            m[i * n + i] = 1.0 / lii;
        }
        let mut u = vec![0.0f32; n * n];
        for p in 0..n {
            for q in p..n {
                u[p * n + q] = m[(n - 1 - p) * n + (n - 1 - q)];
            }
        }
        Ok(u)
    }

    #[test]
    fn inverse_cholesky_upper_matches_the_plain_loops() {
        for &n in &[1usize, 2, 7, 33, 70, 131] {
            let x = random(2 * n * n, 7);
            let mut h = vec![0.0f32; n * n];
            let mut scratch = vec![0.0; cholesky_scratch(n)];
            let mut xc = x.clone();
            hessian_accumulate(&mut h, &mut xc, n, 0.0, 1.0, &mut scratch);
            for i in 0..n {
                h[i * n + i] += 0.1;
            }
            let want = inverse_plain(&h, n).unwrap();
            let mut out = vec![0.0f32; n * n];
            let mut hc = h.clone();
            inverse_cholesky_upper(&mut hc, n, &mut out, &mut scratch).unwrap();
            assert_eq!(out, want, "n {n}");
            // Uᵀ U H = I, approximately
            let mut uu = vec![0.0f64; n * n];
            for i in 0..n {
                for k in 0..n {
                    for p in 0..n {
                        uu[i * n + k] += out[p * n + i] as f64 * out[p * n + k] as f64;
                    }
                }
            }
            let mut worst = 0.0f64;
            for i in 0..n {
                for j in 0..n {
                    let mut s = 0.0f64;
                    for k in 0..n {
                        s += uu[i * n + k] * h[k * n + j] as f64;
                    }
                    let e = (s - if i == j { 1.0 } else { 0.0 }).abs();
                    worst = worst.max(e);
                }
            }
            assert!(worst < 1e-2, "n {n}: |UᵀU H - I| = {worst}");
        }
    }

    #[test]
    fn inverse_cholesky_upper_names_the_failing_column() {
        let n = 3;
        let h = [4.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 2.0];
        let mut scratch = vec![0.0; cholesky_scratch(n)];
        let mut out = vec![0.0; 9];
        assert_eq!(
            inverse_cholesky_upper(&mut h.clone(), n, &mut out, &mut scratch),
            Err(1)
        );
        assert_eq!(inverse_plain(&h, n), Err(1));
    }
}
