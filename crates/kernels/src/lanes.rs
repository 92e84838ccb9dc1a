//! Small SIMD helpers shared by several kernels.

#[cfg(target_arch = "wasm32")]
use core::arch::wasm32::*;

/// Packs four `i32x4` lane masks (all ones or zero) into sixteen 0/1 bytes.
#[cfg(target_arch = "wasm32")]
#[inline(always)]
pub fn mask_bytes(m0: v128, m1: v128, m2: v128, m3: v128) -> v128 {
    let lo = i16x8_narrow_i32x4(m0, m1);
    let hi = i16x8_narrow_i32x4(m2, m3);
    v128_and(i8x16_narrow_i16x8(lo, hi), u8x16_splat(1))
}

/// `f32` lanes of small integers (|q| < 2^22, i.e. widened `i8`/`u8`/`i16` codes), exactly:
/// the bits `0x4B40_0000 + q` are the float `1.5 * 2^23 + q`, and subtracting `1.5 * 2^23` is
/// exact. Written with integer and float ops on purpose: LLVM turns a sign extension followed
/// by `f32x4.convert_i32x4_s` into four scalar conversions, 3-4x slower.
#[cfg(target_arch = "wasm32")]
#[inline(always)]
pub fn small_to_f32x4(q: v128) -> v128 {
    const MAGIC: i32 = 0x4B40_0000;
    f32x4_sub(i32x4_add(q, i32x4_splat(MAGIC)), f32x4_splat(12_582_912.0))
}

/// Loads four `f32` lanes from `p` (unaligned).
///
/// # Safety
/// `p` must point at four readable floats.
#[cfg(target_arch = "wasm32")]
#[inline(always)]
pub unsafe fn load(p: *const f32) -> v128 {
    v128_load(p as *const v128)
}

/// Stores sixteen bytes at `p` (unaligned).
///
/// # Safety
/// `p` must point at sixteen writable bytes.
#[cfg(target_arch = "wasm32")]
#[inline(always)]
pub unsafe fn store<T>(p: *mut T, v: v128) {
    v128_store(p as *mut v128, v)
}

/// `x` rounded to an integer, ties to even, in `f32` arithmetic (no `std` needed).
///
/// Values with a magnitude of at least 2^23 are integers already; below that, adding and
/// subtracting 2^23 rounds under the default rounding mode (ties to even). NaN stays NaN.
#[inline(always)]
pub fn round_half_even(x: f32) -> f32 {
    const BIG: f32 = 8_388_608.0;
    if x.is_nan() || abs(x) >= BIG {
        return x;
    }
    if x >= 0.0 {
        (x + BIG) - BIG
    } else {
        (x - BIG) + BIG
    }
}

/// `|x|` by clearing the sign bit (`core` has no `f32::abs` in this toolchain).
#[inline(always)]
pub fn abs(x: f32) -> f32 {
    f32::from_bits(x.to_bits() & 0x7FFF_FFFF)
}

/// The larger of `a` and `b`, NaN if either is NaN (like wasm's `f32.max`).
#[inline(always)]
pub fn max_nan(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else if b > a {
        b
    } else {
        a
    }
}

/// The smaller of `a` and `b`, NaN if either is NaN (like wasm's `f32.min`).
#[inline(always)]
pub fn min_nan(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else if b < a {
        b
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_half_even_breaks_ties_to_even() {
        let cases = [
            (0.5f32, 0.0f32),
            (1.5, 2.0),
            (2.5, 2.0),
            (-0.5, 0.0),
            (-1.5, -2.0),
            (-2.5, -2.0),
            (2.4999998, 2.0),
            (8_388_607.5, 8_388_608.0),
            (16_777_216.0, 16_777_216.0),
            (f32::INFINITY, f32::INFINITY),
        ];
        for (x, want) in cases {
            assert_eq!(round_half_even(x), want, "{x}");
        }
        assert!(round_half_even(f32::NAN).is_nan());
    }

    #[test]
    fn min_and_max_propagate_nan() {
        assert!(max_nan(1.0, f32::NAN).is_nan());
        assert!(min_nan(f32::NAN, 1.0).is_nan());
        assert_eq!(max_nan(1.0, 2.0), 2.0);
        assert_eq!(min_nan(1.0, 2.0), 1.0);
        assert_eq!(abs(-0.0).to_bits(), 0);
    }
}
