//! Elementwise mask kernels: threshold masks and applying a mask to data.

#[cfg(target_arch = "wasm32")]
use crate::lanes::{load, mask_bytes, store};
#[cfg(target_arch = "wasm32")]
use core::arch::wasm32::*;

/// The value `add` adds at pruned positions.
pub const ADD_MASK_VALUE: f32 = -1000.0;

/// `out[i] = data[i] >= t` as 0/1 (scalar twin); NaN compares false.
pub fn threshold_mask_scalar(data: &[f32], t: f32, out: &mut [u8]) {
    for (o, &x) in out.iter_mut().zip(data) {
        *o = (x >= t) as u8;
    }
}

/// `out[i] = data[i] >= t` as 0/1; NaN compares false.
pub fn threshold_mask(data: &[f32], t: f32, out: &mut [u8]) {
    let n = data.len().min(out.len());
    #[cfg(target_arch = "wasm32")]
    let done = {
        let n16 = n & !15;
        let (p, o, tv) = (data.as_ptr(), out.as_mut_ptr(), f32x4_splat(t));
        let mut i = 0;
        while i < n16 {
            // SAFETY: i + 16 <= n for both slices.
            unsafe {
                let m = mask_bytes(
                    f32x4_ge(load(p.add(i)), tv),
                    f32x4_ge(load(p.add(i + 4)), tv),
                    f32x4_ge(load(p.add(i + 8)), tv),
                    f32x4_ge(load(p.add(i + 12)), tv),
                );
                store(o.add(i), m);
            }
            i += 16;
        }
        n16
    };
    #[cfg(not(target_arch = "wasm32"))]
    let done = 0;
    threshold_mask_scalar(&data[done..n], t, &mut out[done..n]);
}

/// `out = data * mask` (`mul`) or `data + (mask ? 0 : -1000)` (`add`), scalar twin.
pub fn apply_mask_scalar(data: &[f32], mask: &[u8], add: bool, out: &mut [f32]) {
    for ((o, &x), &m) in out.iter_mut().zip(data).zip(mask) {
        *o = if add {
            x + if m != 0 { 0.0 } else { ADD_MASK_VALUE }
        } else {
            x * m as f32
        };
    }
}

/// `out = data * mask` (`mul`) or `data + (mask ? 0 : -1000)` (`add`), in `f32` arithmetic.
pub fn apply_mask(data: &[f32], mask: &[u8], add: bool, out: &mut [f32]) {
    let n = data.len().min(mask.len()).min(out.len());
    #[cfg(target_arch = "wasm32")]
    let done = {
        let n16 = n & !15;
        let (p, mp, o) = (data.as_ptr(), mask.as_ptr(), out.as_mut_ptr());
        let mut i = 0;
        while i < n16 {
            // SAFETY: i + 16 <= n for all three slices.
            unsafe {
                let mb = v128_load(mp.add(i) as *const v128);
                let (lo, hi) = (u16x8_extend_low_u8x16(mb), u16x8_extend_high_u8x16(mb));
                let ms = [
                    u32x4_extend_low_u16x8(lo),
                    u32x4_extend_high_u16x8(lo),
                    u32x4_extend_low_u16x8(hi),
                    u32x4_extend_high_u16x8(hi),
                ];
                for (j, m) in ms.into_iter().enumerate() {
                    let x = load(p.add(i + 4 * j));
                    let y = if add {
                        let pruned = i32x4_eq(m, i32x4_splat(0));
                        f32x4_add(x, v128_and(f32x4_splat(ADD_MASK_VALUE), pruned))
                    } else {
                        f32x4_mul(x, crate::lanes::small_to_f32x4(m))
                    };
                    store(o.add(i + 4 * j), y);
                }
            }
            i += 16;
        }
        n16
    };
    #[cfg(not(target_arch = "wasm32"))]
    let done = 0;
    apply_mask_scalar(&data[done..n], &mask[done..n], add, &mut out[done..n]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_keeps_values_at_or_above_t_and_prunes_nan() {
        let data = [1.0, 2.0, f32::NAN, -0.0, 0.0, f32::INFINITY, 1.9999999];
        let mut out = [9u8; 7];
        threshold_mask(&data, 2.0, &mut out);
        assert_eq!(out, [0, 1, 0, 0, 0, 1, 0]);
        threshold_mask(&data, 0.0, &mut out);
        assert_eq!(out, [1, 1, 0, 1, 1, 1, 1]);
    }

    #[test]
    fn apply_mask_multiplies_or_adds() {
        let data = [-3.0, f32::NAN, -0.0, 5.0, f32::INFINITY];
        let mask = [0u8, 0, 1, 1, 0];
        let mut out = [0f32; 5];
        apply_mask(&data, &mask, false, &mut out);
        assert_eq!(out[0].to_bits(), (-0.0f32).to_bits());
        assert!(out[1].is_nan() && out[4].is_nan());
        assert_eq!(out[3], 5.0);
        apply_mask(&data, &mask, true, &mut out);
        assert_eq!(out[0], -1003.0);
        assert_eq!(out[2].to_bits(), 0, "-0 + 0 is +0");
        assert_eq!(out[3], 5.0);
        assert_eq!(out[4], f32::INFINITY);
    }
}
