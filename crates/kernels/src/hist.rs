//! Equal-width histograms over `[lo, hi]` in `f64` bin arithmetic:
//! bin `min(bins - 1, floor((x - lo) / (hi - lo) * bins))`; values outside and NaN are skipped.
//!
//! Bins divide by the width: multiplying by `bins / (hi - lo)` would move values on bin edges,
//! such as 0 in a symmetric range, which must open bin `bins / 2`. The SIMD loop saves on the
//! range test (float32 lanes, see [`f32_within`]) and on the float-to-integer conversion.

/// The bin of `x` in `[lo, hi]` (scalar twin of the SIMD bin computation).
#[inline(always)]
fn bin_of(x: f64, lo: f64, width: f64, bins: u32) -> usize {
    // x >= lo, so the value is >= 0 and truncation is the floor; `as` saturates.
    (((x - lo) / width * bins as f64) as u32).min(bins - 1) as usize
}

/// Adds the counts of `data` to `out` (scalar twin). `out.len()` must be at least `bins`.
pub fn histogram_scalar(data: &[f32], lo: f64, hi: f64, bins: u32, out: &mut [f64]) {
    for &x in data {
        let x = x as f64;
        if x >= lo && x <= hi {
            out[bin_of(x, lo, hi - lo, bins)] += 1.0;
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
    let (lov, wv, nbv) = (f64x2_splat(lo), f64x2_splat(hi - lo), f64x2_splat(bins as f64));
    // x >= lo and x <= hi for a float32 x, compared in float32 (exact: see `f32_within`).
    let (lo32, hi32) = f32_within(lo, hi);
    let (lo4, hi4) = (f32x4_splat(lo32), f32x4_splat(hi32));
    let (zero, last) = (f64x2_splat(0.0), f64x2_splat((bins - 1) as f64));
    // Adding 2^52 to an integer-valued f64 in [0, 2^32) leaves the integer in the low 32 bits.
    let magic = f64x2_splat(4_503_599_627_370_496.0);
    let n4 = data.len() & !3;
    let p = data.as_ptr();
    let o = out.as_mut_ptr();
    let mut i = 0;
    while i < n4 {
        // SAFETY: i + 4 <= data.len().
        let x = unsafe { crate::lanes::load(p.add(i)) };
        let m = i32x4_bitmask(v128_and(f32x4_ge(x, lo4), f32x4_le(x, hi4)));
        if m != 0 {
            let bin = |half: v128| {
                let d = f64x2_sub(f64x2_promote_low_f32x4(half), lov);
                let t = f64x2_mul(f64x2_div(d, wv), nbv);
                // t >= 0 (x >= lo); pmin(last, .) clamps, +inf included, and pmax(0, .) would
                // map a NaN to 0 like the scalar `as`.
                let t = f64x2_pmin(last, f64x2_pmax(zero, t));
                f64x2_add(f64x2_floor(t), magic)
            };
            let (a, b) = (bin(x), bin(i32x4_shuffle::<2, 3, 0, 1>(x, x)));
            let lanes = [
                i32x4_extract_lane::<0>(a),
                i32x4_extract_lane::<2>(a),
                i32x4_extract_lane::<0>(b),
                i32x4_extract_lane::<2>(b),
            ];
            for (lane, &k) in lanes.iter().enumerate() {
                if m & (1 << lane) != 0 {
                    // SAFETY: k is a bin in [0, bins - 1] and out.len() == bins.
                    unsafe { *o.add(k as u32 as usize) += 1.0 };
                }
            }
        }
        i += 4;
    }
    histogram_scalar(&data[n4..], lo, hi, bins, out);
}

/// The float32 bounds `[a, b]` with `a <= x <= b` exactly when `lo <= x <= hi`, for every
/// float32 `x` (`lo <= hi` finite): the smallest float32 at least `lo` and the largest at most
/// `hi` (an empty range when none lies between them).
#[cfg(any(target_arch = "wasm32", test))]
pub fn f32_within(lo: f64, hi: f64) -> (f32, f32) {
    let up = |v: f64| {
        let f = v as f32; // round to nearest, may be below v, or infinite
        if (f as f64) < v {
            next_up(f)
        } else {
            f
        }
    };
    let down = |v: f64| {
        let f = v as f32;
        if (f as f64) > v {
            -next_up(-f)
        } else {
            f
        }
    };
    (up(lo), down(hi))
}

/// The next float32 above `f` (not NaN, below +inf).
#[cfg(any(target_arch = "wasm32", test))]
fn next_up(f: f32) -> f32 {
    let b = f.to_bits();
    if f == 0.0 {
        f32::from_bits(1)
    } else if b >> 31 == 0 {
        f32::from_bits(b + 1)
    } else {
        f32::from_bits(b - 1)
    }
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

    #[test]
    fn zero_opens_the_middle_bin_of_a_symmetric_range() {
        // r * (2048 / (2 r)) is 1023.9999999999999 for this r; r / (2 r) * 2048 is 1024.
        let r = 1.041_978_6_f32 as f64;
        let mut out = [0.0; 2048];
        histogram(&[0.0], -r, r, 2048, &mut out);
        assert_eq!(out[1024], 1.0);
    }

    #[test]
    fn tiny_and_infinite_widths_stay_in_range() {
        let mut out = [0.0; 4];
        histogram(&[0.0, -0.0], -1e-320, 1e-320, 4, &mut out);
        assert_eq!(out, [0.0, 0.0, 2.0, 0.0]);
        let mut out = [0.0; 4];
        histogram(&[0.0, f32::MAX], -f64::MAX, f64::MAX, 4, &mut out);
        assert_eq!(out, [2.0, 0.0, 0.0, 0.0], "hi - lo overflows to inf");
    }

    #[test]
    fn float32_bounds_compare_like_the_float64_range() {
        let cases = [(0.1, 0.3), (-1e300, 1e300), (-0.0, 1e-320), (1e-46, 2e-45), (1.0, 1.0)];
        for (lo, hi) in cases {
            let (a, b) = f32_within(lo, hi);
            let xs = [
                0.1f32,
                0.3,
                0.0,
                -0.0,
                1e-45,
                2e-45,
                1.0,
                f32::MAX,
                f32::MIN,
                0.29999998,
            ];
            for x in xs {
                let want = (x as f64) >= lo && (x as f64) <= hi;
                assert_eq!(x >= a && x <= b, want, "{x} in [{lo}, {hi}]");
            }
        }
    }

    #[test]
    fn simd_counts_like_the_scalar_twin() {
        let data: Vec<f32> = (0..40_003).map(|i| ((i * 7919) % 1000) as f32 / 250.0 - 2.0).collect();
        let (mut a, mut b) = ([0.0; 37], [0.0; 37]);
        histogram(&data, -1.5, 1.75, 37, &mut a);
        histogram_scalar(&data, -1.5, 1.75, 37, &mut b);
        assert_eq!(a, b);
    }
}
