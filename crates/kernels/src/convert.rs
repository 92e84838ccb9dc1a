//! Conversions between `f32` and the 16-bit formats binary16 (f16) and bfloat16 (bf16), on bit
//! patterns: exact widening, round-to-nearest-even narrowing, overflow to ±Inf, and NaN kept
//! as a quiet NaN with its sign and top payload bits.

#[cfg(target_arch = "wasm32")]
use core::arch::wasm32::*;

/// The `f32` bits of the f16 `h` (exact).
pub fn f16_to_f32(h: u16) -> u32 {
    let sign = ((h & 0x8000) as u32) << 16;
    let e = ((h >> 10) & 0x1F) as u32;
    let m = (h & 0x3FF) as u32;
    if e == 0x1F {
        return sign | 0x7F80_0000 | (m << 13);
    }
    if e == 0 {
        if m == 0 {
            return sign;
        }
        // Subnormal m * 2^-24: shift the leading one up to bit 10.
        let shift = m.leading_zeros() - 21;
        return sign | ((113 - shift) << 23) | (((m << shift) & 0x3FF) << 13);
    }
    sign | ((e + 112) << 23) | (m << 13)
}

/// The f16 bits nearest to the `f32` with bits `x` (ties to even).
pub fn f32_to_f16(x: u32) -> u16 {
    let sign = (x >> 16) & 0x8000;
    let f = x & 0x7FFF_FFFF;
    let h = if f > 0x7F80_0000 {
        0x7E00 | ((f >> 13) & 0x3FF)
    } else if f >= 0x4780_0000 {
        0x7C00 // 65536 and above (and Inf); 65520.. rounds up through the normal path
    } else if f < 0x3880_0000 {
        // Below 2^-14: adding 0.5 rounds to a multiple of 2^-24 (ties to even) in the mantissa.
        (f32::from_bits(f) + 0.5).to_bits() - 0x3F00_0000
    } else {
        let odd = (f >> 13) & 1;
        f.wrapping_add(0xC800_0FFF).wrapping_add(odd) >> 13
    };
    (sign | h) as u16
}

/// The `f32` bits of the bf16 `b` (exact).
pub fn bf16_to_f32(b: u16) -> u32 {
    (b as u32) << 16
}

/// The bf16 bits nearest to the `f32` with bits `x` (ties to even; overflow carries to ±Inf).
pub fn f32_to_bf16(x: u32) -> u16 {
    if x & 0x7FFF_FFFF > 0x7F80_0000 {
        return ((x >> 16) | 0x40) as u16;
    }
    (x.wrapping_add(0x7FFF + ((x >> 16) & 1)) >> 16) as u16
}

#[cfg(target_arch = "wasm32")]
#[inline(always)]
fn f16_to_f32_4(h: v128) -> v128 {
    let sign = i32x4_shl(v128_and(h, u32x4_splat(0x8000)), 16);
    let e = v128_and(h, u32x4_splat(0x7C00));
    let em = i32x4_shl(v128_and(h, u32x4_splat(0x7FFF)), 13);
    let normal = i32x4_add(em, u32x4_splat(112 << 23));
    let special = i32x4_add(normal, u32x4_splat(112 << 23));
    let magic = u32x4_splat(113 << 23);
    let sub = f32x4_sub(i32x4_add(em, magic), magic);
    let r = v128_bitselect(sub, normal, i32x4_eq(e, u32x4_splat(0)));
    v128_or(v128_bitselect(special, r, i32x4_eq(e, u32x4_splat(0x7C00))), sign)
}

#[cfg(target_arch = "wasm32")]
#[inline(always)]
fn f32_to_f16_4(x: v128) -> v128 {
    let sign = u32x4_shr(v128_and(x, u32x4_splat(0x8000_0000)), 16);
    let f = v128_and(x, u32x4_splat(0x7FFF_FFFF));
    let nan = i32x4_gt(f, u32x4_splat(0x7F80_0000));
    let big = i32x4_ge(f, u32x4_splat(0x4780_0000));
    let small = i32x4_lt(f, u32x4_splat(0x3880_0000));
    let sub = i32x4_sub(f32x4_add(f, f32x4_splat(0.5)), u32x4_splat(0x3F00_0000));
    let odd = v128_and(u32x4_shr(f, 13), u32x4_splat(1));
    let norm = u32x4_shr(i32x4_add(i32x4_add(f, u32x4_splat(0xC800_0FFF)), odd), 13);
    let nanv = v128_or(u32x4_splat(0x7E00), v128_and(u32x4_shr(f, 13), u32x4_splat(0x3FF)));
    let r = v128_bitselect(sub, norm, small);
    let r = v128_bitselect(u32x4_splat(0x7C00), r, big);
    v128_or(v128_bitselect(nanv, r, nan), sign)
}

#[cfg(target_arch = "wasm32")]
#[inline(always)]
fn f32_to_bf16_4(x: v128) -> v128 {
    let nan = i32x4_gt(v128_and(x, u32x4_splat(0x7FFF_FFFF)), u32x4_splat(0x7F80_0000));
    let lsb = v128_and(u32x4_shr(x, 16), u32x4_splat(1));
    let r = u32x4_shr(i32x4_add(x, i32x4_add(u32x4_splat(0x7FFF), lsb)), 16);
    v128_bitselect(v128_or(u32x4_shr(x, 16), u32x4_splat(0x40)), r, nan)
}

/// Widens `bits` into `out` with `one` (scalar) and `four` (SIMD), eight at a time on wasm.
fn widen(bits: &[u16], out: &mut [u32], one: fn(u16) -> u32, #[cfg(target_arch = "wasm32")] four: fn(v128) -> v128) {
    let n = bits.len().min(out.len());
    #[cfg(target_arch = "wasm32")]
    let done = {
        let n8 = n & !7;
        let (p, o) = (bits.as_ptr(), out.as_mut_ptr());
        let mut i = 0;
        while i < n8 {
            // SAFETY: i + 8 <= n for both slices.
            unsafe {
                let h = v128_load(p.add(i) as *const v128);
                v128_store(o.add(i) as *mut v128, four(u32x4_extend_low_u16x8(h)));
                v128_store(o.add(i + 4) as *mut v128, four(u32x4_extend_high_u16x8(h)));
            }
            i += 8;
        }
        n8
    };
    #[cfg(not(target_arch = "wasm32"))]
    let done = 0;
    for (o, &b) in out[done..n].iter_mut().zip(&bits[done..n]) {
        *o = one(b);
    }
}

/// Narrows `data` (f32 bits) into `out` with `one` (scalar) and `four` (SIMD).
fn narrow(data: &[u32], out: &mut [u16], one: fn(u32) -> u16, #[cfg(target_arch = "wasm32")] four: fn(v128) -> v128) {
    let n = data.len().min(out.len());
    #[cfg(target_arch = "wasm32")]
    let done = {
        let n8 = n & !7;
        let (p, o) = (data.as_ptr(), out.as_mut_ptr());
        let mut i = 0;
        while i < n8 {
            // SAFETY: i + 8 <= n for both slices.
            unsafe {
                let a = four(v128_load(p.add(i) as *const v128));
                let b = four(v128_load(p.add(i + 4) as *const v128));
                v128_store(o.add(i) as *mut v128, u16x8_narrow_i32x4(a, b));
            }
            i += 8;
        }
        n8
    };
    #[cfg(not(target_arch = "wasm32"))]
    let done = 0;
    for (o, &x) in out[done..n].iter_mut().zip(&data[done..n]) {
        *o = one(x);
    }
}

/// f16 bits to `f32` bits.
pub fn f16_slice_to_f32(bits: &[u16], out: &mut [u32]) {
    widen(
        bits,
        out,
        f16_to_f32,
        #[cfg(target_arch = "wasm32")]
        f16_to_f32_4,
    )
}

/// bf16 bits to `f32` bits.
pub fn bf16_slice_to_f32(bits: &[u16], out: &mut [u32]) {
    widen(
        bits,
        out,
        bf16_to_f32,
        #[cfg(target_arch = "wasm32")]
        |h| i32x4_shl(h, 16),
    )
}

/// `f32` bits to f16 bits.
pub fn f32_slice_to_f16(data: &[u32], out: &mut [u16]) {
    narrow(
        data,
        out,
        f32_to_f16,
        #[cfg(target_arch = "wasm32")]
        f32_to_f16_4,
    )
}

/// `f32` bits to bf16 bits.
pub fn f32_slice_to_bf16(data: &[u32], out: &mut [u16]) {
    narrow(
        data,
        out,
        f32_to_bf16,
        #[cfg(target_arch = "wasm32")]
        f32_to_bf16_4,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_round_trips_every_pattern_exactly() {
        for h in 0..=u16::MAX {
            let f = f16_to_f32(h);
            let back = f32_to_f16(f);
            let nan = h & 0x7C00 == 0x7C00 && h & 0x3FF != 0;
            if nan {
                assert_eq!(back, h | 0x0200, "{h:#x}");
                assert!(f32::from_bits(f).is_nan());
            } else {
                assert_eq!(back, h, "{h:#x}");
            }
        }
    }

    #[test]
    fn f16_rounds_to_nearest_even_and_overflows_to_infinity() {
        let h = |x: f32| f32_to_f16(x.to_bits());
        assert_eq!(h(1.0 + 2f32.powi(-11)), 0x3C00, "tie to even (down)");
        assert_eq!(h(1.0 + 3.0 * 2f32.powi(-11)), 0x3C02, "tie to even (up)");
        assert_eq!(h(65504.0), 0x7BFF);
        assert_eq!(h(65519.99), 0x7BFF);
        assert_eq!(h(65520.0), 0x7C00);
        assert_eq!(h(-1e10), 0xFC00);
        assert_eq!(h(2f32.powi(-25)), 0, "half of the smallest subnormal ties to 0");
        assert_eq!(h(1.5 * 2f32.powi(-24)), 2, "1.5 ulp ties to 2");
        assert_eq!(
            h(2f32.powi(-14) * (1.0 - 2f32.powi(-12))),
            0x0400,
            "rounds up to the smallest normal"
        );
        assert_eq!(h(-0.0), 0x8000);
        assert_eq!(h(1e-30), 0);
        assert_eq!(f32_to_f16(0xFF80_0001), 0xFE00);
    }

    #[test]
    fn bf16_rounds_to_nearest_even_and_keeps_nan_quiet() {
        assert_eq!(f32_to_bf16(0x3F80_8000), 0x3F80, "tie to even (down)");
        assert_eq!(f32_to_bf16(0x3F81_8000), 0x3F82, "tie to even (up)");
        assert_eq!(f32_to_bf16(0x3F80_8001), 0x3F81);
        assert_eq!(f32_to_bf16(0x7F7F_FFFF), 0x7F80, "overflow carries to Inf");
        assert_eq!(f32_to_bf16(0x7F80_0001), 0x7FC0);
        assert_eq!(f32_to_bf16(0xFFC0_0000), 0xFFC0);
        assert_eq!(bf16_to_f32(0xBF80), (-1.0f32).to_bits());
    }

    #[test]
    fn slices_convert_with_a_tail() {
        let data: Vec<u32> = (0..11).map(|i| (i as f32 * 0.3 - 1.0).to_bits()).collect();
        let mut h = vec![0u16; 11];
        f32_slice_to_f16(&data, &mut h);
        let mut back = vec![0u32; 11];
        f16_slice_to_f32(&h, &mut back);
        for i in 0..11 {
            assert_eq!(h[i], f32_to_f16(data[i]));
            assert_eq!(back[i], f16_to_f32(h[i]));
        }
        f32_slice_to_bf16(&data, &mut h);
        bf16_slice_to_f32(&h, &mut back);
        assert_eq!(back[10], bf16_to_f32(f32_to_bf16(data[10])));
    }
}
