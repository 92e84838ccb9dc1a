//! 4-bit code packing: element `2i` in the low nibble of byte `i`, `2i + 1` in the high one.

#[cfg(target_arch = "wasm32")]
use core::arch::wasm32::*;

/// Packs `codes` (low nibbles taken, two's complement for signed codes) into
/// `out` (`ceil(n / 2)` bytes; an odd tail gets a zero high nibble).
pub fn pack(codes: &[u8], out: &mut [u8]) {
    let pairs = codes.len() / 2;
    #[cfg(target_arch = "wasm32")]
    let done = {
        let n16 = pairs.min(out.len()) & !15;
        let (p, o) = (codes.as_ptr(), out.as_mut_ptr());
        let (lo, hi) = (u16x8_splat(0x0F), u16x8_splat(0xF0));
        let mut i = 0;
        while i < n16 {
            // SAFETY: 2 * (i + 16) <= codes.len() and i + 16 <= out.len().
            unsafe {
                let a = v128_load(p.add(2 * i) as *const v128);
                let b = v128_load(p.add(2 * i + 16) as *const v128);
                let pa = v128_or(v128_and(a, lo), v128_and(u16x8_shr(a, 4), hi));
                let pb = v128_or(v128_and(b, lo), v128_and(u16x8_shr(b, 4), hi));
                v128_store(o.add(i) as *mut v128, u8x16_narrow_i16x8(pa, pb));
            }
            i += 16;
        }
        i
    };
    #[cfg(not(target_arch = "wasm32"))]
    let done = 0;
    for i in done..pairs {
        out[i] = (codes[2 * i] & 0x0F) | (codes[2 * i + 1] << 4);
    }
    if codes.len() % 2 == 1 {
        out[pairs] = codes[2 * pairs] & 0x0F;
    }
}

#[inline(always)]
fn nibble(v: u8, signed: bool) -> u8 {
    if signed {
        (v ^ 8).wrapping_sub(8)
    } else {
        v
    }
}

/// Unpacks `out.len()` codes from `packed` (`out.len() <= 2 * packed.len()`), sign-extending
/// each nibble when `signed`.
pub fn unpack(packed: &[u8], signed: bool, out: &mut [u8]) {
    let n = out.len().min(2 * packed.len());
    #[cfg(target_arch = "wasm32")]
    let done = {
        let n32 = n & !31;
        let (p, o) = (packed.as_ptr(), out.as_mut_ptr());
        let (m, eight) = (u8x16_splat(0x0F), u8x16_splat(8));
        let mut i = 0;
        while i < n32 {
            // SAFETY: i / 2 + 16 <= packed.len() and i + 32 <= out.len().
            unsafe {
                let v = v128_load(p.add(i / 2) as *const v128);
                let (mut lo, mut hi) = (v128_and(v, m), u8x16_shr(v, 4));
                if signed {
                    lo = i8x16_sub(v128_xor(lo, eight), eight);
                    hi = i8x16_sub(v128_xor(hi, eight), eight);
                }
                let a = i8x16_shuffle::<0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23>(lo, hi);
                let b = i8x16_shuffle::<8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31>(lo, hi);
                v128_store(o.add(i) as *mut v128, a);
                v128_store(o.add(i + 16) as *mut v128, b);
            }
            i += 32;
        }
        n32
    };
    #[cfg(not(target_arch = "wasm32"))]
    let done = 0;
    for i in done..n {
        let b = packed[i / 2];
        out[i] = nibble(if i % 2 == 0 { b & 0x0F } else { b >> 4 }, signed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_and_unpacks_signed_and_unsigned_codes() {
        let signed: Vec<u8> = (0..37).map(|i| ((i % 16) as i8 - 8) as u8).collect();
        let mut packed = vec![0xAAu8; 19];
        pack(&signed, &mut packed);
        assert_eq!(packed[0], 0x98, "-8 low, -7 high");
        assert_eq!(packed[18], 0x0C, "odd tail: -4 low, zero high");
        let mut back = vec![0u8; 37];
        unpack(&packed, true, &mut back);
        assert_eq!(back, signed);
        let unsigned: Vec<u8> = (0..35).map(|i| (i * 7 % 16) as u8).collect();
        pack(&unsigned, &mut packed[..18]);
        let mut back = vec![0u8; 35];
        unpack(&packed[..18], false, &mut back);
        assert_eq!(back, unsigned);
    }
}
