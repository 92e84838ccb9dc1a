//! Equal-width histograms over `[lo, hi]` in `f64` bin arithmetic:
//! bin `min(bins - 1, floor((x - lo) / (hi - lo) * bins))`; values outside and NaN are skipped.

/// Adds the counts of `data` to `out` (scalar twin). `out.len()` must be at least `bins`.
pub fn histogram_scalar(data: &[f32], lo: f64, hi: f64, bins: u32, out: &mut [f64]) {
    let (width, nb, last) = (hi - lo, bins as f64, bins - 1);
    for &x in data {
        let x = x as f64;
        if x >= lo && x <= hi {
            // x >= lo, so the product is >= 0 and truncation is the floor.
            let b = ((x - lo) / width * nb) as u32;
            out[b.min(last) as usize] += 1.0;
        }
    }
}

/// Adds the counts of `data` to `out`; `out.len()` must be at least `bins` (>= 1).
#[cfg(not(target_arch = "wasm32"))]
pub fn histogram(data: &[f32], lo: f64, hi: f64, bins: u32, out: &mut [f64]) {
    histogram_scalar(data, lo, hi, bins, out)
}

/// Adds the counts of `data` to `out`; bins are computed two `f64` lanes at a time.
#[cfg(target_arch = "wasm32")]
pub fn histogram(data: &[f32], lo: f64, hi: f64, bins: u32, out: &mut [f64]) {
    use core::arch::wasm32::*;
    let out = &mut out[..bins as usize];
    let (lov, hiv) = (f64x2_splat(lo), f64x2_splat(hi));
    let (wv, nbv, last) = (f64x2_splat(hi - lo), f64x2_splat(bins as f64), u32x4_splat(bins - 1));
    let n4 = data.len() & !3;
    let p = data.as_ptr();
    let mut i = 0;
    while i < n4 {
        // SAFETY: i + 4 <= data.len().
        let x = unsafe { crate::lanes::load(p.add(i)) };
        for half in [x, i32x4_shuffle::<2, 3, 0, 1>(x, x)] {
            let d = f64x2_promote_low_f32x4(half);
            let inside = v128_and(f64x2_ge(d, lov), f64x2_le(d, hiv));
            let m = i64x2_bitmask(inside);
            if m == 0 {
                continue;
            }
            let t = f64x2_mul(f64x2_div(f64x2_sub(d, lov), wv), nbv);
            let b = u32x4_min(i32x4_trunc_sat_f64x2_zero(t), last);
            if m & 1 != 0 {
                out[u32x4_extract_lane::<0>(b) as usize] += 1.0;
            }
            if m & 2 != 0 {
                out[u32x4_extract_lane::<1>(b) as usize] += 1.0;
            }
        }
        i += 4;
    }
    histogram_scalar(&data[n4..], lo, hi, bins, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_values_in_range_with_hi_in_the_last_bin() {
        let data = [0.0, 0.25, 0.5, 0.99, 1.0, -0.1, 1.1, f32::NAN, f32::INFINITY, -0.0];
        let mut out = [0.0; 4];
        histogram(&data, 0.0, 1.0, 4, &mut out);
        assert_eq!(out, [2.0, 1.0, 1.0, 2.0]);
        histogram(&data, 0.0, 1.0, 4, &mut out);
        assert_eq!(out, [4.0, 2.0, 2.0, 4.0], "counts accumulate");
    }

    #[test]
    fn bins_use_float64_arithmetic() {
        // (0.3 - 0) / 0.9 * 3 is 0.9999999999999999 in f64 with x = f32(0.3) promoted.
        let x = 0.3f32;
        let want = ((x as f64 - 0.0) / 0.9 * 3.0) as usize;
        let mut out = [0.0; 3];
        histogram(&[x], 0.0, 0.9, 3, &mut out);
        assert_eq!(out[want], 1.0);
    }
}
