//! Per-block quantization: codes `roundHalfEven(clamp(zp + x / s, qmin, qmax))` with each step
//! in `f32` (a NaN input stands for `x / s = 0`), values `(f32(q) - zp) * s` in `f32`, and the
//! fused round trip. Codes are stored as `i8`, `u8`, `i16` or `i32`.

use crate::blocks::RunOp;
use crate::lanes::round_half_even;
#[cfg(target_arch = "wasm32")]
use core::arch::wasm32::*;

/// An integer code type that quantization can write and dequantization can read.
pub trait Code: Copy {
    /// The code `v`, which the caller has clamped into the type's range.
    fn from_i32(v: i32) -> Self;
    /// The code as `i32`.
    fn to_i32(self) -> i32;
    /// Stores four in-range `i32` lanes at `p`.
    ///
    /// # Safety
    /// `p` must point at four writable codes.
    #[cfg(target_arch = "wasm32")]
    unsafe fn store4(p: *mut Self, v: v128);
    /// Loads four codes from `p` as `i32` lanes.
    ///
    /// # Safety
    /// `p` must point at four readable codes.
    #[cfg(target_arch = "wasm32")]
    unsafe fn load4(p: *const Self) -> v128;
    /// Stores sixteen in-range `i32` lanes at `p` (narrow types in one store).
    ///
    /// # Safety
    /// `p` must point at sixteen writable codes.
    #[cfg(target_arch = "wasm32")]
    unsafe fn store16(p: *mut Self, v: [v128; 4]) {
        for (j, q) in v.into_iter().enumerate() {
            Self::store4(p.add(4 * j), q);
        }
    }
    /// Loads sixteen codes from `p` as four vectors of `i32` lanes.
    ///
    /// # Safety
    /// `p` must point at sixteen readable codes.
    /// The lanes of `v` (codes widened to `i32`) as `f32`, exactly.
    #[cfg(target_arch = "wasm32")]
    #[inline(always)]
    fn to_f32x4(v: v128) -> v128 {
        f32x4_convert_i32x4(v)
    }
    #[cfg(target_arch = "wasm32")]
    unsafe fn load16(p: *const Self) -> [v128; 4] {
        [
            Self::load4(p),
            Self::load4(p.add(4)),
            Self::load4(p.add(8)),
            Self::load4(p.add(12)),
        ]
    }
}

impl Code for i8 {
    #[cfg(target_arch = "wasm32")]
    #[inline(always)]
    fn to_f32x4(v: v128) -> v128 {
        crate::lanes::small_to_f32x4(v)
    }
    fn from_i32(v: i32) -> Self {
        v as i8
    }
    fn to_i32(self) -> i32 {
        self as i32
    }
    #[cfg(target_arch = "wasm32")]
    unsafe fn store4(p: *mut Self, v: v128) {
        let w = i16x8_narrow_i32x4(v, v);
        v128_store32_lane::<0>(i8x16_narrow_i16x8(w, w), p as *mut u32);
    }
    #[cfg(target_arch = "wasm32")]
    unsafe fn load4(p: *const Self) -> v128 {
        i32x4_extend_low_i16x8(i16x8_extend_low_i8x16(v128_load32_zero(p as *const u32)))
    }
    #[cfg(target_arch = "wasm32")]
    unsafe fn store16(p: *mut Self, v: [v128; 4]) {
        let (a, b) = (i16x8_narrow_i32x4(v[0], v[1]), i16x8_narrow_i32x4(v[2], v[3]));
        v128_store(p as *mut v128, i8x16_narrow_i16x8(a, b));
    }
    #[cfg(target_arch = "wasm32")]
    unsafe fn load16(p: *const Self) -> [v128; 4] {
        let v = v128_load(p as *const v128);
        let (lo, hi) = (i16x8_extend_low_i8x16(v), i16x8_extend_high_i8x16(v));
        [
            i32x4_extend_low_i16x8(lo),
            i32x4_extend_high_i16x8(lo),
            i32x4_extend_low_i16x8(hi),
            i32x4_extend_high_i16x8(hi),
        ]
    }
}

impl Code for u8 {
    #[cfg(target_arch = "wasm32")]
    #[inline(always)]
    fn to_f32x4(v: v128) -> v128 {
        crate::lanes::small_to_f32x4(v)
    }
    fn from_i32(v: i32) -> Self {
        v as u8
    }
    fn to_i32(self) -> i32 {
        self as i32
    }
    #[cfg(target_arch = "wasm32")]
    unsafe fn store4(p: *mut Self, v: v128) {
        let w = i16x8_narrow_i32x4(v, v);
        v128_store32_lane::<0>(u8x16_narrow_i16x8(w, w), p as *mut u32);
    }
    #[cfg(target_arch = "wasm32")]
    unsafe fn load4(p: *const Self) -> v128 {
        u32x4_extend_low_u16x8(u16x8_extend_low_u8x16(v128_load32_zero(p as *const u32)))
    }
    #[cfg(target_arch = "wasm32")]
    unsafe fn store16(p: *mut Self, v: [v128; 4]) {
        let (a, b) = (i16x8_narrow_i32x4(v[0], v[1]), i16x8_narrow_i32x4(v[2], v[3]));
        v128_store(p as *mut v128, u8x16_narrow_i16x8(a, b));
    }
    #[cfg(target_arch = "wasm32")]
    unsafe fn load16(p: *const Self) -> [v128; 4] {
        let v = v128_load(p as *const v128);
        let (lo, hi) = (u16x8_extend_low_u8x16(v), u16x8_extend_high_u8x16(v));
        [
            u32x4_extend_low_u16x8(lo),
            u32x4_extend_high_u16x8(lo),
            u32x4_extend_low_u16x8(hi),
            u32x4_extend_high_u16x8(hi),
        ]
    }
}

impl Code for i16 {
    #[cfg(target_arch = "wasm32")]
    #[inline(always)]
    fn to_f32x4(v: v128) -> v128 {
        crate::lanes::small_to_f32x4(v)
    }
    fn from_i32(v: i32) -> Self {
        v as i16
    }
    fn to_i32(self) -> i32 {
        self as i32
    }
    #[cfg(target_arch = "wasm32")]
    unsafe fn store4(p: *mut Self, v: v128) {
        v128_store64_lane::<0>(i16x8_narrow_i32x4(v, v), p as *mut u64);
    }
    #[cfg(target_arch = "wasm32")]
    unsafe fn load4(p: *const Self) -> v128 {
        i32x4_extend_low_i16x8(v128_load64_zero(p as *const u64))
    }
    #[cfg(target_arch = "wasm32")]
    unsafe fn store16(p: *mut Self, v: [v128; 4]) {
        v128_store(p as *mut v128, i16x8_narrow_i32x4(v[0], v[1]));
        v128_store(p.add(8) as *mut v128, i16x8_narrow_i32x4(v[2], v[3]));
    }
}

impl Code for i32 {
    fn from_i32(v: i32) -> Self {
        v
    }
    fn to_i32(self) -> i32 {
        self
    }
    #[cfg(target_arch = "wasm32")]
    unsafe fn store4(p: *mut Self, v: v128) {
        v128_store(p as *mut v128, v)
    }
    #[cfg(target_arch = "wasm32")]
    unsafe fn load4(p: *const Self) -> v128 {
        v128_load(p as *const v128)
    }
}

/// Scales, zero points and code range of a block grid.
#[derive(Clone, Copy)]
pub struct Params<'a> {
    /// One scale per block (finite, > 0).
    pub scale: &'a [f32],
    /// One zero point per block (integers).
    pub zero_point: &'a [f32],
    /// Smallest code.
    pub qmin: i32,
    /// Largest code.
    pub qmax: i32,
}

/// The code of one value (scalar twin of `code4`).
#[inline(always)]
pub fn code(x: f32, s: f32, z: f32, qmin: i32, qmax: i32) -> i32 {
    let v = if x.is_nan() { z } else { x / s + z };
    // `as` saturates, and rounding commutes with clamping to integer bounds.
    (round_half_even(v) as i32).max(qmin).min(qmax)
}

/// The value of one code (scalar twin of `value4`).
#[inline(always)]
pub fn value(q: i32, s: f32, z: f32) -> f32 {
    (q as f32 - z) * s
}

#[cfg(target_arch = "wasm32")]
#[inline(always)]
fn code4(x: v128, s: v128, z: v128, qmin: v128, qmax: v128) -> v128 {
    let nan = f32x4_ne(x, x);
    let v = v128_bitselect(z, f32x4_add(f32x4_div(x, s), z), nan);
    let q = i32x4_trunc_sat_f32x4(f32x4_nearest(v));
    i32x4_min(i32x4_max(q, qmin), qmax)
}

#[cfg(target_arch = "wasm32")]
#[inline(always)]
fn value4(q: v128, s: v128, z: v128) -> v128 {
    f32x4_mul(f32x4_sub(f32x4_convert_i32x4(q), z), s)
}

/// `value4` for codes of type `C`.
#[cfg(target_arch = "wasm32")]
#[inline(always)]
fn value4_of<C: Code>(q: v128, s: v128, z: v128) -> v128 {
    f32x4_mul(f32x4_sub(C::to_f32x4(q), z), s)
}

/// What one quantization kernel does per element.
pub trait Elementwise {
    /// Element `i` with scale `s` and zero point `z` (scalar twin).
    fn one(&mut self, i: usize, s: f32, z: f32);
    /// Elements `i .. i + 4` with scale and zero point lanes.
    #[cfg(target_arch = "wasm32")]
    fn four(&mut self, i: usize, s: v128, z: v128);
    /// Elements `i .. i + 16` with four vectors of scale and zero point lanes.
    #[cfg(target_arch = "wasm32")]
    fn sixteen(&mut self, i: usize, s: [v128; 4], z: [v128; 4]) {
        for j in 0..4 {
            self.four(i + 4 * j, s[j], z[j]);
        }
    }
}

/// Runs `e` over one run: a single block (scale and zero point splatted), or consecutive blocks
/// (scale and zero point loaded per element).
fn span<E: Elementwise>(e: &mut E, p: &Params, block: usize, offset: usize, len: usize, vertical: bool) {
    if len == 0 {
        return;
    }
    let mut j = 0;
    #[cfg(target_arch = "wasm32")]
    {
        let n4 = len & !3;
        let (sp, zp) = (p.scale.as_ptr(), p.zero_point.as_ptr());
        let (s1, z1) = (f32x4_splat(p.scale[block]), f32x4_splat(p.zero_point[block]));
        if vertical {
            assert!(block + len <= p.scale.len() && block + len <= p.zero_point.len());
        }
        let n16 = len & !15;
        while j < n16 {
            let (s, z) = if vertical {
                // SAFETY: block + j + 16 <= block + len, checked above.
                unsafe {
                    let (sp, zp) = (sp.add(block + j), zp.add(block + j));
                    let l = crate::lanes::load;
                    (
                        [l(sp), l(sp.add(4)), l(sp.add(8)), l(sp.add(12))],
                        [l(zp), l(zp.add(4)), l(zp.add(8)), l(zp.add(12))],
                    )
                }
            } else {
                ([s1; 4], [z1; 4])
            };
            e.sixteen(offset + j, s, z);
            j += 16;
        }
        while j < n4 {
            let (s, z) = if vertical {
                // SAFETY: block + j + 4 <= block + len, checked above.
                unsafe {
                    (
                        crate::lanes::load(sp.add(block + j)),
                        crate::lanes::load(zp.add(block + j)),
                    )
                }
            } else {
                (s1, z1)
            };
            e.four(offset + j, s, z);
            j += 4;
        }
    }
    while j < len {
        let b = if vertical { block + j } else { block };
        e.one(offset + j, p.scale[b], p.zero_point[b]);
        j += 1;
    }
}

/// Writes codes for a chunk.
pub struct Quantize<'a, C: Code> {
    /// Block parameters.
    pub params: Params<'a>,
    /// The chunk's data.
    pub data: &'a [f32],
    /// The chunk's codes (same length as `data`).
    pub out: &'a mut [C],
}

impl<C: Code> Elementwise for Quantize<'_, C> {
    fn one(&mut self, i: usize, s: f32, z: f32) {
        self.out[i] = C::from_i32(code(self.data[i], s, z, self.params.qmin, self.params.qmax));
    }
    #[cfg(target_arch = "wasm32")]
    fn four(&mut self, i: usize, s: v128, z: v128) {
        assert!(i + 4 <= self.data.len() && i + 4 <= self.out.len());
        let (lo, hi) = (i32x4_splat(self.params.qmin), i32x4_splat(self.params.qmax));
        // SAFETY: i + 4 is within both slices, checked above.
        unsafe {
            let q = code4(crate::lanes::load(self.data.as_ptr().add(i)), s, z, lo, hi);
            C::store4(self.out.as_mut_ptr().add(i), q);
        }
    }
    #[cfg(target_arch = "wasm32")]
    fn sixteen(&mut self, i: usize, s: [v128; 4], z: [v128; 4]) {
        assert!(i + 16 <= self.data.len() && i + 16 <= self.out.len());
        let (lo, hi) = (i32x4_splat(self.params.qmin), i32x4_splat(self.params.qmax));
        // SAFETY: i + 16 is within both slices, checked above.
        unsafe {
            let p = self.data.as_ptr().add(i);
            let l = crate::lanes::load;
            let q = [
                code4(l(p), s[0], z[0], lo, hi),
                code4(l(p.add(4)), s[1], z[1], lo, hi),
                code4(l(p.add(8)), s[2], z[2], lo, hi),
                code4(l(p.add(12)), s[3], z[3], lo, hi),
            ];
            C::store16(self.out.as_mut_ptr().add(i), q);
        }
    }
}

/// Writes values for a chunk of codes.
pub struct Dequantize<'a, C: Code> {
    /// The chunk's codes.
    pub codes: &'a [C],
    /// The chunk's values (same length as `codes`).
    pub out: &'a mut [f32],
}

impl<C: Code> Elementwise for Dequantize<'_, C> {
    fn one(&mut self, i: usize, s: f32, z: f32) {
        self.out[i] = value(self.codes[i].to_i32(), s, z);
    }
    #[cfg(target_arch = "wasm32")]
    fn four(&mut self, i: usize, s: v128, z: v128) {
        assert!(i + 4 <= self.codes.len() && i + 4 <= self.out.len());
        // SAFETY: i + 4 is within both slices, checked above.
        unsafe {
            let v = value4_of::<C>(C::load4(self.codes.as_ptr().add(i)), s, z);
            crate::lanes::store(self.out.as_mut_ptr().add(i), v);
        }
    }
    #[cfg(target_arch = "wasm32")]
    fn sixteen(&mut self, i: usize, s: [v128; 4], z: [v128; 4]) {
        assert!(i + 16 <= self.codes.len() && i + 16 <= self.out.len());
        // SAFETY: i + 16 is within both slices, checked above.
        unsafe {
            let q = C::load16(self.codes.as_ptr().add(i));
            let o = self.out.as_mut_ptr().add(i);
            for j in 0..4 {
                crate::lanes::store(o.add(4 * j), value4_of::<C>(q[j], s[j], z[j]));
            }
        }
    }
}

/// Writes `dequantize(quantize(x))` for a chunk.
pub struct FakeQuantize<'a> {
    /// Block parameters.
    pub params: Params<'a>,
    /// The chunk's data.
    pub data: &'a [f32],
    /// The chunk's values (same length as `data`).
    pub out: &'a mut [f32],
}

impl Elementwise for FakeQuantize<'_> {
    fn one(&mut self, i: usize, s: f32, z: f32) {
        self.out[i] = value(code(self.data[i], s, z, self.params.qmin, self.params.qmax), s, z);
    }
    #[cfg(target_arch = "wasm32")]
    fn four(&mut self, i: usize, s: v128, z: v128) {
        assert!(i + 4 <= self.data.len() && i + 4 <= self.out.len());
        let (lo, hi) = (i32x4_splat(self.params.qmin), i32x4_splat(self.params.qmax));
        // SAFETY: i + 4 is within both slices, checked above.
        unsafe {
            let q = code4(crate::lanes::load(self.data.as_ptr().add(i)), s, z, lo, hi);
            crate::lanes::store(self.out.as_mut_ptr().add(i), value4(q, s, z));
        }
    }
}

/// Adapts an [`Elementwise`] kernel to the block walker.
pub struct PerBlock<'a, E: Elementwise> {
    /// The kernel.
    pub kernel: E,
    /// Its parameters (for the scale and zero point of each block).
    pub params: Params<'a>,
}

impl<E: Elementwise> RunOp for PerBlock<'_, E> {
    fn horizontal(&mut self, block: usize, offset: usize, len: usize) {
        span(&mut self.kernel, &self.params, block, offset, len, false);
    }
    fn vertical(&mut self, block: usize, offset: usize, len: usize) {
        span(&mut self.kernel, &self.params, block, offset, len, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_half_even_and_clamp() {
        let c = |x: f32| code(x, 1.0, 0.0, -127, 127);
        assert_eq!([c(0.5), c(1.5), c(-2.5), c(300.0), c(-1e30)], [0, 2, -2, 127, -127]);
        assert_eq!(c(f32::NAN), 0);
        assert_eq!(c(f32::INFINITY), 127);
        assert_eq!(
            code(f32::NAN, 0.1, 300.0, 0, 255),
            255,
            "NaN gives the clamped zero point"
        );
        assert_eq!(code(1e10, 1.0, 0.0, i32::MIN, i32::MAX), i32::MAX);
        assert_eq!(code(2147483520.0, 1.0, 0.0, i32::MIN, 2147483000), 2147483000);
    }

    #[test]
    fn codes_use_float32_steps() {
        // 0.3 / 0.1 is 3.0000002 in f32 but 2.9999999999999996 in f64.
        let x = 0.3f32 / 0.1f32;
        assert_eq!(code(0.3, 0.1, 0.0, -128, 127), round_half_even(x) as i32);
        assert_eq!(value(16_777_217, 1.0, 0.0), 16_777_216.0, "f32(q) first");
    }

    #[test]
    fn fake_quantize_equals_the_two_step_form() {
        let data = [0.26f32, -1.3, f32::NAN, 9.9, -0.0, 0.5];
        let p = Params {
            scale: &[0.25],
            zero_point: &[3.0],
            qmin: 0,
            qmax: 15,
        };
        let mut codes = [0u8; 6];
        let mut values = [0f32; 6];
        let mut fused = [0f32; 6];
        let mut q = PerBlock {
            kernel: Quantize {
                params: p,
                data: &data,
                out: &mut codes,
            },
            params: p,
        };
        q.horizontal(0, 0, 6);
        let mut d = PerBlock {
            kernel: Dequantize {
                codes: &codes,
                out: &mut values,
            },
            params: p,
        };
        d.horizontal(0, 0, 6);
        let mut f = PerBlock {
            kernel: FakeQuantize {
                params: p,
                data: &data,
                out: &mut fused,
            },
            params: p,
        };
        f.horizontal(0, 0, 6);
        assert_eq!(codes, [4, 0, 3, 15, 3, 5]);
        assert_eq!(values.map(f32::to_bits), fused.map(f32::to_bits));
    }
}
