//! Block reductions (sum, l1, l2, maxabs) into `f64` accumulators, and per-block min/max.
//!
//! Accumulators persist across calls, so a tensor can be reduced chunk by chunk; `finish`
//! turns them into the `f32` results (mean divides, l2 takes the square root, one rounding).

use crate::blocks::RunOp;
use crate::lanes::{abs, max_nan, min_nan};
#[cfg(target_arch = "wasm32")]
use core::arch::wasm32::*;

/// A reduction's accumulation rule (mean accumulates like sum).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Fold {
    /// `acc += x`
    Sum,
    /// `acc += |x|`
    L1,
    /// `acc += x * x` (in `f64`)
    L2,
    /// `acc = max(acc, |x|)`, NaN propagating
    MaxAbs,
}

/// The reduction with the op code of `REDUCTIONS` in `types.ts` (sum, mean, l1, l2, maxabs).
pub fn fold_of(op: u32) -> Option<Fold> {
    match op {
        0 | 1 => Some(Fold::Sum),
        2 => Some(Fold::L1),
        3 => Some(Fold::L2),
        4 => Some(Fold::MaxAbs),
        _ => None,
    }
}

#[inline(always)]
fn term(f: Fold, x: f32) -> f64 {
    match f {
        Fold::Sum => x as f64,
        Fold::L1 | Fold::MaxAbs => abs(x) as f64,
        Fold::L2 => (x as f64) * (x as f64),
    }
}

#[inline(always)]
fn combine(f: Fold, acc: f64, t: f64) -> f64 {
    if f == Fold::MaxAbs {
        if acc.is_nan() || t.is_nan() {
            f64::NAN
        } else if t > acc {
            t
        } else {
            acc
        }
    } else {
        acc + t
    }
}

/// The fold of `x` (scalar twin), starting from the neutral value 0.
pub fn fold_scalar(f: Fold, x: &[f32]) -> f64 {
    x.iter().fold(0.0, |acc, &v| combine(f, acc, term(f, v)))
}

/// The fold of `x` in SIMD lanes (the order of the additions differs from the scalar twin).
#[cfg(target_arch = "wasm32")]
pub fn fold(f: Fold, x: &[f32]) -> f64 {
    use crate::lanes::load;
    let p = x.as_ptr();
    let mut i = 0;
    if f == Fold::MaxAbs {
        // |x| as bits is a non-negative i32 whose integer order is the float order, with every
        // NaN above +Inf: a signed integer max therefore propagates NaN by itself (one
        // instruction, where `f32x4_max` needs a NaN-correct sequence).
        let n16 = x.len() & !15;
        let sign = i32x4_splat(0x7FFF_FFFF);
        let z = i32x4_splat(0);
        let (mut m0, mut m1, mut m2, mut m3) = (z, z, z, z);
        while i < n16 {
            // SAFETY: i + 16 <= x.len().
            unsafe {
                m0 = i32x4_max(m0, v128_and(load(p.add(i)), sign));
                m1 = i32x4_max(m1, v128_and(load(p.add(i + 4)), sign));
                m2 = i32x4_max(m2, v128_and(load(p.add(i + 8)), sign));
                m3 = i32x4_max(m3, v128_and(load(p.add(i + 12)), sign));
            }
            i += 16;
        }
        let m = i32x4_max(i32x4_max(m0, m1), i32x4_max(m2, m3));
        let bits = [
            i32x4_extract_lane::<0>(m),
            i32x4_extract_lane::<1>(m),
            i32x4_extract_lane::<2>(m),
            i32x4_extract_lane::<3>(m),
        ];
        let top = bits.iter().fold(0i32, |a, &b| if b > a { b } else { a });
        let r = f32::from_bits(top as u32);
        return combine(f, r as f64, fold_scalar(f, &x[n16..]));
    }
    // Sixteen lanes per step into eight independent `f64x2` accumulators, so the adds of one
    // step do not wait on each other. Pairs of floats are loaded straight into the low half
    // (`load64_zero`) and promoted: no shuffle for the high half of a `f32x4`.
    let n16 = x.len() & !15;
    let mut acc = [f64x2_splat(0.0); 8];
    while i < n16 {
        for (j, a) in acc.iter_mut().enumerate() {
            // SAFETY: i + 2 * j + 2 <= i + 16 <= x.len().
            let v = unsafe { v128_load64_zero(p.add(i + 2 * j) as *const u64) };
            let d = f64x2_promote_low_f32x4(v);
            let t = match f {
                Fold::L1 => f64x2_abs(d),
                Fold::L2 => f64x2_mul(d, d),
                _ => d,
            };
            *a = f64x2_add(*a, t);
        }
        i += 16;
    }
    let s = f64x2_add(
        f64x2_add(f64x2_add(acc[0], acc[1]), f64x2_add(acc[2], acc[3])),
        f64x2_add(f64x2_add(acc[4], acc[5]), f64x2_add(acc[6], acc[7])),
    );
    f64x2_extract_lane::<0>(s) + f64x2_extract_lane::<1>(s) + fold_scalar(f, &x[n16..])
}

/// The fold of `x` (the host uses the scalar twin).
#[cfg(not(target_arch = "wasm32"))]
pub fn fold(f: Fold, x: &[f32]) -> f64 {
    fold_scalar(f, x)
}

/// Accumulates a block reduction into `acc` (one `f64` per block).
pub struct Reduce<'a> {
    /// The chunk's data.
    pub data: &'a [f32],
    /// One accumulator per block, zero before the first chunk.
    pub acc: &'a mut [f64],
    /// The accumulation rule.
    pub fold: Fold,
}

impl RunOp for Reduce<'_> {
    fn horizontal(&mut self, block: usize, offset: usize, len: usize) {
        let t = fold(self.fold, &self.data[offset..offset + len]);
        self.acc[block] = combine(self.fold, self.acc[block], t);
    }

    fn vertical(&mut self, block: usize, offset: usize, len: usize) {
        let x = &self.data[offset..offset + len];
        let acc = &mut self.acc[block..block + len];
        let f = self.fold;
        #[cfg(target_arch = "wasm32")]
        let done = {
            let n2 = len & !1;
            let (p, a) = (x.as_ptr(), acc.as_mut_ptr());
            let mut j = 0;
            while j < n2 {
                // SAFETY: j + 2 <= len for both slices.
                unsafe {
                    let v = v128_load64_zero(p.add(j) as *const u64);
                    let v = if f == Fold::Sum { v } else { f32x4_abs(v) };
                    let t = f64x2_promote_low_f32x4(v);
                    let old = v128_load(a.add(j) as *const v128);
                    let new = match f {
                        Fold::Sum | Fold::L1 => f64x2_add(old, t),
                        Fold::L2 => f64x2_add(old, f64x2_mul(t, t)),
                        Fold::MaxAbs => f64x2_max(old, t),
                    };
                    v128_store(a.add(j) as *mut v128, new);
                }
                j += 2;
            }
            n2
        };
        #[cfg(not(target_arch = "wasm32"))]
        let done = 0;
        for (a, &v) in acc[done..].iter_mut().zip(&x[done..]) {
            *a = combine(f, *a, term(f, v));
        }
    }
}

/// Per-block minimum and maximum (NaN propagating; both start at the first chunk's
/// `+Inf` / `-Inf` fill, written by the caller).
pub struct MinMax<'a> {
    /// The chunk's data.
    pub data: &'a [f32],
    /// One minimum per block.
    pub min: &'a mut [f32],
    /// One maximum per block.
    pub max: &'a mut [f32],
}

impl RunOp for MinMax<'_> {
    fn horizontal(&mut self, block: usize, offset: usize, len: usize) {
        let x = &self.data[offset..offset + len];
        let (mut lo, mut hi) = (self.min[block], self.max[block]);
        #[cfg(target_arch = "wasm32")]
        let done = {
            use crate::lanes::load;
            let n8 = len & !7;
            let p = x.as_ptr();
            let (mut vlo, mut vhi) = (f32x4_splat(lo), f32x4_splat(hi));
            let (mut vlo2, mut vhi2) = (vlo, vhi);
            let mut j = 0;
            while j < n8 {
                // SAFETY: j + 8 <= len.
                let (a, b) = unsafe { (load(p.add(j)), load(p.add(j + 4))) };
                vlo = f32x4_min(vlo, a);
                vhi = f32x4_max(vhi, a);
                vlo2 = f32x4_min(vlo2, b);
                vhi2 = f32x4_max(vhi2, b);
                j += 8;
            }
            let (vlo, vhi) = (f32x4_min(vlo, vlo2), f32x4_max(vhi, vhi2));
            let l = [
                (f32x4_extract_lane::<0>(vlo), f32x4_extract_lane::<0>(vhi)),
                (f32x4_extract_lane::<1>(vlo), f32x4_extract_lane::<1>(vhi)),
                (f32x4_extract_lane::<2>(vlo), f32x4_extract_lane::<2>(vhi)),
                (f32x4_extract_lane::<3>(vlo), f32x4_extract_lane::<3>(vhi)),
            ];
            for (a, b) in l {
                lo = min_nan(lo, a);
                hi = max_nan(hi, b);
            }
            n8
        };
        #[cfg(not(target_arch = "wasm32"))]
        let done = 0;
        for &v in &x[done..] {
            lo = min_nan(lo, v);
            hi = max_nan(hi, v);
        }
        self.min[block] = lo;
        self.max[block] = hi;
    }

    fn vertical(&mut self, block: usize, offset: usize, len: usize) {
        let x = &self.data[offset..offset + len];
        let lo = &mut self.min[block..block + len];
        let hi = &mut self.max[block..block + len];
        #[cfg(target_arch = "wasm32")]
        let done = {
            use crate::lanes::{load, store};
            let n4 = len & !3;
            let (p, l, h) = (x.as_ptr(), lo.as_mut_ptr(), hi.as_mut_ptr());
            let mut j = 0;
            while j < n4 {
                // SAFETY: j + 4 <= len for all three slices.
                unsafe {
                    let v = load(p.add(j));
                    store(l.add(j), f32x4_min(load(l.add(j)), v));
                    store(h.add(j), f32x4_max(load(h.add(j)), v));
                }
                j += 4;
            }
            n4
        };
        #[cfg(not(target_arch = "wasm32"))]
        let done = 0;
        for j in done..len {
            lo[j] = min_nan(lo[j], x[j]);
            hi[j] = max_nan(hi[j], x[j]);
        }
    }
}

/// Turns accumulators into results: `mean` divides by `block_size`, `l2` takes the square
/// root, every value is rounded to `f32` once. `op` is the op code of `fold_of`.
pub fn finish(op: u32, acc: &[f64], block_size: f64, out: &mut [f32]) {
    for (o, &a) in out.iter_mut().zip(acc) {
        let v = match op {
            1 => a / block_size,
            3 => sqrt(a),
            _ => a,
        };
        *o = v as f32;
    }
}

/// Turns -0 into +0 in place (a zero min/max result is +0); NaN and other values stay.
pub fn positive_zero(x: &mut [f32]) {
    for v in x {
        *v += 0.0;
    }
}

#[cfg(target_arch = "wasm32")]
fn sqrt(a: f64) -> f64 {
    f64x2_extract_lane::<0>(f64x2_sqrt(f64x2_splat(a)))
}

#[cfg(not(target_arch = "wasm32"))]
fn sqrt(a: f64) -> f64 {
    a.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::Layout;

    fn reduce(dims: &[u32], data: &[f32], op: u32) -> Vec<f32> {
        let l = Layout::new(dims).unwrap();
        let mut acc = vec![0.0; l.grid_size()];
        let mut r = Reduce {
            data,
            acc: &mut acc,
            fold: fold_of(op).unwrap(),
        };
        l.walk(0, l.extent(0), &mut r);
        let mut out = vec![0.0; acc.len()];
        finish(op, &acc, (data.len() / l.grid_size()) as f64, &mut out);
        out
    }

    #[test]
    fn reduces_rows_and_columns() {
        let data: Vec<f32> = (0..12).map(|i| i as f32 - 5.0).collect();
        // rows of a [3, 4] tensor
        assert_eq!(reduce(&[3, 4], &data, 0), [-14.0, 2.0, 18.0]);
        assert_eq!(reduce(&[3, 4], &data, 1), [-3.5, 0.5, 4.5]);
        assert_eq!(reduce(&[3, 4], &data, 2), [14.0, 4.0, 18.0]);
        assert_eq!(reduce(&[3, 4], &data, 4), [5.0, 2.0, 6.0]);
        // columns of a [3, 4] tensor
        assert_eq!(reduce(&[1, 3, 4, 1], &data, 0), [-3.0, 0.0, 3.0, 6.0]);
        assert_eq!(reduce(&[1, 3, 4, 1], &data, 4), [5.0, 4.0, 5.0, 6.0]);
        let l2 = reduce(
            &[1, 12],
            &[3.0, 4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 12.0],
            3,
        );
        assert_eq!(l2, [13.0]);
    }

    #[test]
    fn nan_poisons_its_block_only() {
        let data = [1.0, f32::NAN, 2.0, 3.0, -4.0, 5.0];
        for op in 0..5 {
            let r = reduce(&[2, 3], &data, op);
            assert!(r[0].is_nan(), "op {op}");
            assert!(!r[1].is_nan(), "op {op}");
        }
        assert!(reduce(&[1, 2, 3, 1], &data, 4)[1].is_nan());
    }

    #[test]
    fn min_max_propagate_nan_and_fill_per_block() {
        let data = [1.0, -0.0, 7.0, f32::NAN, -2.0, 0.5];
        let l = Layout::new(&[1, 2, 3, 1]).unwrap();
        let mut min = vec![f32::INFINITY; 3];
        let mut max = vec![f32::NEG_INFINITY; 3];
        let mut op = MinMax {
            data: &data,
            min: &mut min,
            max: &mut max,
        };
        l.walk(0, 2, &mut op);
        positive_zero(&mut min);
        positive_zero(&mut max);
        assert!(min[0].is_nan() && max[0].is_nan());
        assert_eq!((min[1], max[1].to_bits()), (-2.0, 0));
        assert_eq!((min[2], max[2]), (0.5, 7.0));
    }
}
