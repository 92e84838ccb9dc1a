//! Order-preserving `u32` keys of `f32` values.
//!
//! The key order is the value order of the `Kernels` interface: the IEEE order with `-0 == +0`,
//! every NaN equal to every other NaN and larger than `+Inf`. Keys of equal values are equal, so
//! selection by key gives the same result as selection by value.

/// The key of every NaN, above the key of `+Inf` (`0xFF80_0000`).
pub const NAN_KEY: u32 = u32::MAX;

/// The order-preserving key of the float with bits `bits`.
///
/// `-0` maps to the key of `+0`, negative values to the bitwise complement of their bits,
/// non-negative ones to their bits with the sign bit set, and every NaN to [`NAN_KEY`].
#[inline(always)]
pub fn key(bits: u32) -> u32 {
    let abs = bits & 0x7FFF_FFFF;
    if abs > 0x7F80_0000 {
        return NAN_KEY;
    }
    let b = if abs == 0 { 0 } else { bits };
    let sign = ((b as i32) >> 31) as u32;
    b ^ (sign | 0x8000_0000)
}

/// The float bits of a key (the inverse of [`key`] for non-NaN keys; a quiet NaN for
/// [`NAN_KEY`]).
#[cfg(test)]
pub fn float_of_key(k: u32) -> u32 {
    if k == NAN_KEY {
        0x7FC0_0000
    } else if k & 0x8000_0000 != 0 {
        k & 0x7FFF_FFFF
    } else {
        !k
    }
}

/// Four keys at once (the SIMD twin of [`key`]).
#[cfg(target_arch = "wasm32")]
#[inline(always)]
pub fn key4(bits: core::arch::wasm32::v128) -> core::arch::wasm32::v128 {
    use core::arch::wasm32::*;
    let abs = v128_and(bits, u32x4_splat(0x7FFF_FFFF));
    let nan = i32x4_gt(abs, i32x4_splat(0x7F80_0000));
    let zero = i32x4_eq(abs, i32x4_splat(0));
    let b = v128_andnot(bits, zero);
    let sign = i32x4_shr(b, 31);
    let k = v128_xor(b, v128_or(sign, u32x4_splat(0x8000_0000)));
    v128_or(k, nan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(x: f32) -> u32 {
        key(x.to_bits())
    }

    #[test]
    fn keys_follow_the_value_order() {
        let values = [
            f32::NEG_INFINITY,
            -f32::MAX,
            -1.5,
            -f32::MIN_POSITIVE,
            -1e-45,
            0.0,
            1e-45,
            f32::MIN_POSITIVE,
            1.0,
            f32::MAX,
            f32::INFINITY,
        ];
        for w in values.windows(2) {
            assert!(k(w[0]) < k(w[1]), "{} < {}", w[0], w[1]);
        }
        assert!(k(f32::INFINITY) < k(f32::NAN));
    }

    #[test]
    fn signed_zeros_and_all_nans_share_a_key() {
        assert_eq!(k(-0.0), k(0.0));
        assert_eq!(k(f32::NAN), NAN_KEY);
        assert_eq!(key(0xFFC0_0001), NAN_KEY);
        assert_eq!(key(0x7F80_0001), NAN_KEY);
    }

    #[test]
    fn float_of_key_inverts_key() {
        for x in [-3.0f32, -0.0, 0.0, 2.5, f32::INFINITY, f32::NEG_INFINITY, 1e-40] {
            let back = f32::from_bits(float_of_key(k(x)));
            assert_eq!(back, x);
        }
        assert!(f32::from_bits(float_of_key(NAN_KEY)).is_nan());
        assert_eq!(float_of_key(k(-0.0)), 0);
    }
}
