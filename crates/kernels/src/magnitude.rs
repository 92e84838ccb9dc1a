//! Magnitude selection on stored float bits (float32, float16, bfloat16): with the sign bit
//! cleared, the bits of a finite float are an integer key in `|w|` order. The passes of an
//! exact selection of the `k` smallest (see `src/pruning/stored_magnitude.ts`, whose loops
//! these match bit for bit; the first pass, a histogram of the high key bits, stays in
//! TypeScript: its random increments do not vectorise, and it ran at the same speed here, so
//! the copy into linear memory made it slower):
//!
//! - [`low_hist32`]: the histogram of the low 16 bits of the float32 keys whose high bits are
//!   `high` (65,536 bins);
//! - [`band32`] / [`band16`]: instead of the histograms, when a sample has placed the cut in a
//!   band of keys: the keys below the band counted, those in it listed (the histograms then run
//!   on the list);
//! - [`apply_cut32`] / [`apply_cut16`]: the mask as bits (kept: a key above `cut`, or equal to
//!   it once the first `ties` equal keys in index order are pruned), optionally applied in place
//!   (a pruned value keeps only its sign bit), with the zeros before and after counted.
//!
//! Every pass may be called chunk by chunk: histograms add up, and `ties` carries over; a chunk
//! other than the last must hold a multiple of eight values (the bits are whole bytes).

#[cfg(target_arch = "wasm32")]
use core::arch::wasm32::*;

/// Bins of the low-bits histogram.
pub const LOW_BINS: usize = 65536;

/// Counts the low 16 bits of the float32 keys whose high 16 bits are `high` (scalar twin).
pub fn low_hist32_scalar(words: &[u32], high: u32, hist: &mut [u32; LOW_BINS]) {
    for &w in words {
        let m = w & 0x7fff_ffff;
        if m >> 16 == high {
            hist[(m & 0xffff) as usize] += 1;
        }
    }
}

/// Counts the low 16 bits of the float32 keys whose high 16 bits are `high`.
#[cfg(not(target_arch = "wasm32"))]
pub fn low_hist32(words: &[u32], high: u32, hist: &mut [u32; LOW_BINS]) {
    low_hist32_scalar(words, high, hist)
}

/// Counts the low 16 bits of the float32 keys whose high 16 bits are `high`: eight keys are
/// compared at a time, and only a group holding such a key is counted one by one.
#[cfg(target_arch = "wasm32")]
pub fn low_hist32(words: &[u32], high: u32, hist: &mut [u32; LOW_BINS]) {
    let n8 = words.len() & !7;
    let p = words.as_ptr();
    let (abs, hv) = (i32x4_splat(0x7fff_ffff), i32x4_splat(high as i32));
    let mut i = 0;
    while i < n8 {
        // SAFETY: i + 8 <= words.len().
        let (a, b) = unsafe {
            (
                v128_load(p.add(i) as *const v128),
                v128_load(p.add(i + 4) as *const v128),
            )
        };
        let ha = u32x4_shr(v128_and(a, abs), 16);
        let hb = u32x4_shr(v128_and(b, abs), 16);
        if v128_any_true(v128_or(i32x4_eq(ha, hv), i32x4_eq(hb, hv))) {
            low_hist32_scalar(&words[i..i + 8], high, hist);
        }
        i += 8;
    }
    low_hist32_scalar(&words[n8..], high, hist);
}

/// The keys of float32 words within a band `[lo, hi]` (a window around an estimate of the cut):
/// those below `lo` counted into `state[0]` (wrapping; a caller reads it per call), those in
/// the band counted into `state[1]` (saturating) and listed in `keys` while `state[1]` is below
/// `keys.len()`. False when a value is not finite (the counts are then incomplete). One pass
/// that compares, where the histograms scatter increments.
pub fn band32(words: &[u32], lo: u32, hi: u32, keys: &mut [u32], state: &mut [u32; 2]) -> bool {
    let mut bad = 0i32;
    let mut below = 0u32;
    #[cfg(target_arch = "wasm32")]
    let start = {
        let n8 = words.len() & !7;
        let p = words.as_ptr();
        let top = i32x4_splat(0x7f7f_ffff);
        // Keys are at most 0x7fff_ffff, so signed comparisons order them.
        let (lv, hv) = (i32x4_splat(lo as i32), i32x4_splat(hi as i32));
        let mut over = i32x4_splat(0);
        let mut count = i32x4_splat(0);
        let mut i = 0;
        while i < n8 {
            // SAFETY: i + 8 <= words.len().
            let (ma, mb) = unsafe { keys8(p, i) };
            over = v128_or(over, v128_or(i32x4_gt(ma, top), i32x4_gt(mb, top)));
            let (la, lb) = (i32x4_lt(ma, lv), i32x4_lt(mb, lv));
            // A lane's count goes down by one (a true comparison is -1) for each key below.
            count = i32x4_add(count, i32x4_add(la, lb));
            let ina = v128_andnot(i32x4_le(ma, hv), la);
            let inb = v128_andnot(i32x4_le(mb, hv), lb);
            // The lanes in the band, in index order, one bit each.
            let mut hits = (i32x4_bitmask(ina) | (i32x4_bitmask(inb) << 4)) as u32;
            while hits != 0 {
                let q = hits.trailing_zeros() as usize;
                band_key(words[i + q] & 0x7fff_ffff, keys, state);
                hits &= hits - 1;
            }
            i += 8;
            // Lanes hold at most 2^31 - 1 counts: fold them in well before.
            if i & 0x0fff_fff8 == 0 {
                below = below.wrapping_sub(lane_sum(count));
                count = i32x4_splat(0);
            }
        }
        below = below.wrapping_sub(lane_sum(count));
        if v128_any_true(over) {
            bad = -1;
        }
        n8
    };
    #[cfg(not(target_arch = "wasm32"))]
    let start = 0;
    for &w in &words[start..] {
        let m = w & 0x7fff_ffff;
        bad |= 0x7f7f_ffffi32.wrapping_sub(m as i32);
        if m < lo {
            below = below.wrapping_add(1);
        } else if m <= hi {
            band_key(m, keys, state);
        }
    }
    state[0] = state[0].wrapping_add(below);
    bad >= 0
}

/// [`band32`] for 16-bit words (float16, bfloat16: `infinity` is the type's infinity bits,
/// 0x7c00 or 0x7f80); `lo <= hi <= 0x7fff`.
pub fn band16(words: &[u16], infinity: u16, lo: u16, hi: u16, keys: &mut [u32], state: &mut [u32; 2]) -> bool {
    let limit = infinity.wrapping_sub(1);
    let mut below = 0u32;
    #[cfg(target_arch = "wasm32")]
    let (start, mut over) = {
        let n16 = words.len() & !15;
        let p = words.as_ptr();
        // Keys are at most 0x7fff, so signed comparisons order them.
        let (abs, top) = (i16x8_splat(0x7fff), i16x8_splat(limit as i16));
        let (lv, hv) = (i16x8_splat(lo as i16), i16x8_splat(hi as i16));
        let mut bad = i16x8_splat(0);
        let mut i = 0;
        while i < n16 {
            // SAFETY: i + 16 <= words.len().
            let (ma, mb) = unsafe {
                (
                    v128_and(v128_load(p.add(i) as *const v128), abs),
                    v128_and(v128_load(p.add(i + 8) as *const v128), abs),
                )
            };
            bad = v128_or(bad, v128_or(i16x8_gt(ma, top), i16x8_gt(mb, top)));
            let (la, lb) = (i16x8_lt(ma, lv), i16x8_lt(mb, lv));
            let low = (i16x8_bitmask(la) as u32) | ((i16x8_bitmask(lb) as u32) << 8);
            below = below.wrapping_add(low.count_ones());
            let ina = v128_andnot(i16x8_le(ma, hv), la);
            let inb = v128_andnot(i16x8_le(mb, hv), lb);
            let mut hits = (i16x8_bitmask(ina) as u32) | ((i16x8_bitmask(inb) as u32) << 8);
            while hits != 0 {
                let q = hits.trailing_zeros() as usize;
                band_key(u32::from(words[i + q] & 0x7fff), keys, state);
                hits &= hits - 1;
            }
            i += 16;
        }
        (n16, v128_any_true(bad))
    };
    #[cfg(not(target_arch = "wasm32"))]
    let (start, mut over) = (0, false);
    for &w in &words[start..] {
        let m = w & 0x7fff;
        over |= m > limit;
        if m < lo {
            below = below.wrapping_add(1);
        } else if m <= hi {
            band_key(u32::from(m), keys, state);
        }
    }
    state[0] = state[0].wrapping_add(below);
    !over
}

/// The keys (sign bits cleared) of the eight words from `p + i`, as two vectors.
///
/// # Safety
/// `p + i .. p + i + 8` must be valid words.
#[cfg(target_arch = "wasm32")]
#[inline(always)]
unsafe fn keys8(p: *const u32, i: usize) -> (v128, v128) {
    let abs = i32x4_splat(0x7fff_ffff);
    (
        v128_and(v128_load(p.add(i) as *const v128), abs),
        v128_and(v128_load(p.add(i + 4) as *const v128), abs),
    )
}

#[inline(always)]
fn band_key(m: u32, keys: &mut [u32], state: &mut [u32; 2]) {
    let c = state[1] as usize;
    if c < keys.len() {
        keys[c] = m;
    }
    state[1] = state[1].saturating_add(1);
}

/// The float32 keys whose high 16 bits are `high`: their low 16 bits counted into `hist`, and
/// listed while `*count < positions.len()` (`positions[j]` = `offset` + index, `lows[j]` = low
/// bits); `*count` counts every one, listed or not. False when a value is not finite.
pub fn bin_entries32(
    words: &[u32],
    high: u32,
    offset: u32,
    hist: &mut [u32; LOW_BINS],
    positions: &mut [u32],
    lows: &mut [u16],
    count: &mut u32,
) -> bool {
    let mut bad = 0i32;
    #[cfg(target_arch = "wasm32")]
    let start = {
        let n8 = words.len() & !7;
        let p = words.as_ptr();
        let (hv, top) = (i32x4_splat(high as i32), i32x4_splat(0x7f7f_ffff));
        let mut over = i32x4_splat(0);
        let mut i = 0;
        while i < n8 {
            // SAFETY: i + 8 <= words.len().
            let (ma, mb) = unsafe { keys8(p, i) };
            over = v128_or(over, v128_or(i32x4_gt(ma, top), i32x4_gt(mb, top)));
            let (ha, hb) = (u32x4_shr(ma, 16), u32x4_shr(mb, 16));
            if v128_any_true(v128_or(i32x4_eq(ha, hv), i32x4_eq(hb, hv))) {
                for q in i..i + 8 {
                    let m = words[q] & 0x7fff_ffff;
                    if m >> 16 == high {
                        list(q, m, offset, hist, positions, lows, count);
                    }
                }
            }
            i += 8;
        }
        if v128_any_true(over) {
            bad = -1;
        }
        n8
    };
    #[cfg(not(target_arch = "wasm32"))]
    let start = 0;
    for (q, &w) in words.iter().enumerate().skip(start) {
        let m = w & 0x7fff_ffff;
        bad |= 0x7f7f_ffffi32.wrapping_sub(m as i32);
        if m >> 16 == high {
            list(q, m, offset, hist, positions, lows, count);
        }
    }
    bad >= 0
}

#[inline(always)]
fn list(
    q: usize,
    m: u32,
    offset: u32,
    hist: &mut [u32; LOW_BINS],
    positions: &mut [u32],
    lows: &mut [u16],
    count: &mut u32,
) {
    hist[(m & 0xffff) as usize] += 1;
    let c = *count as usize;
    if c < positions.len() && c < lows.len() {
        positions[c] = offset.wrapping_add(q as u32);
        lows[c] = m as u16;
    }
    *count = count.saturating_add(1);
}

/// Masks whole groups of eight values by `bits` (1 keeps; a pruned value keeps only its sign
/// bit) while every value of a group is finite, adding the zeros before and after to `zeros`;
/// returns how many values it masked (a multiple of 8: it stops before the first group holding
/// a NaN or an infinity, or before the last `len % 8` values).
pub fn apply_bits32(words: &mut [u32], bits: &[u8], zeros: &mut [u32; 2]) -> usize {
    #[cfg(target_arch = "wasm32")]
    {
        let groups = (words.len() / 8).min(bits.len());
        let p = words.as_mut_ptr();
        let (abs, sign, top, zero) = (
            i32x4_splat(0x7fff_ffff),
            i32x4_splat(i32::MIN),
            i32x4_splat(0x7f7f_ffff),
            i32x4_splat(0),
        );
        let (lo, hi) = (i32x4(1, 2, 4, 8), i32x4(16, 32, 64, 128));
        let (mut zb, mut za) = (zero, zero);
        let mut g = 0;
        while g < groups {
            // SAFETY: 8 * g + 8 <= words.len().
            let (a, b) = unsafe {
                (
                    v128_load(p.add(8 * g) as *const v128),
                    v128_load(p.add(8 * g + 4) as *const v128),
                )
            };
            let (ma, mb) = (v128_and(a, abs), v128_and(b, abs));
            if v128_any_true(v128_or(i32x4_gt(ma, top), i32x4_gt(mb, top))) {
                break;
            }
            let bv = i32x4_splat(bits[g] as i32);
            let (ka, kb) = (i32x4_ne(v128_and(bv, lo), zero), i32x4_ne(v128_and(bv, hi), zero));
            let (z0, z1) = (i32x4_eq(ma, zero), i32x4_eq(mb, zero));
            zb = i32x4_sub(i32x4_sub(zb, z0), z1);
            za = i32x4_sub(i32x4_sub(za, v128_or(z0, v128_not(ka))), v128_or(z1, v128_not(kb)));
            // SAFETY: as the loads.
            unsafe {
                v128_store(p.add(8 * g) as *mut v128, v128_and(a, v128_or(ka, sign)));
                v128_store(p.add(8 * g + 4) as *mut v128, v128_and(b, v128_or(kb, sign)));
            }
            g += 1;
        }
        zeros[0] += lane_sum(zb);
        zeros[1] += lane_sum(za);
        g * 8
    }
    #[cfg(not(target_arch = "wasm32"))]
    apply_bits_scalar(words, bits, 0x7f7f_ffff, zeros)
}

/// [`apply_bits32`] for 16-bit values (`infinity`: the type's infinity bits).
pub fn apply_bits16(words: &mut [u16], bits: &[u8], infinity: u16, zeros: &mut [u32; 2]) -> usize {
    #[cfg(target_arch = "wasm32")]
    {
        let groups = (words.len() / 8).min(bits.len());
        let p = words.as_mut_ptr();
        let (abs, sign, top, zero) = (
            i16x8_splat(0x7fff),
            i16x8_splat(i16::MIN),
            i16x8_splat(infinity as i16 - 1),
            i16x8_splat(0),
        );
        let sel = i16x8(1, 2, 4, 8, 16, 32, 64, 128);
        let (mut zb, mut za) = (i32x4_splat(0), i32x4_splat(0));
        let mut g = 0;
        while g < groups {
            // SAFETY: 8 * g + 8 <= words.len().
            let a = unsafe { v128_load(p.add(8 * g) as *const v128) };
            let m = v128_and(a, abs);
            if v128_any_true(i16x8_gt(m, top)) {
                break;
            }
            let k = i16x8_ne(v128_and(i16x8_splat(bits[g] as i16), sel), zero);
            let z = i16x8_eq(m, zero);
            zb = i32x4_sub(zb, i32x4_extadd_pairwise_i16x8(z));
            za = i32x4_sub(za, i32x4_extadd_pairwise_i16x8(v128_or(z, v128_not(k))));
            // SAFETY: as the load.
            unsafe { v128_store(p.add(8 * g) as *mut v128, v128_and(a, v128_or(k, sign))) };
            g += 1;
        }
        zeros[0] += lane_sum(zb);
        zeros[1] += lane_sum(za);
        g * 8
    }
    #[cfg(not(target_arch = "wasm32"))]
    apply_bits_scalar(words, bits, u32::from(infinity).saturating_sub(1), zeros)
}

/// A stored float's bits: float32 as `u32`, float16 and bfloat16 as `u16`.
pub trait Word: Copy {
    /// The magnitude key: the bits without the sign bit.
    fn key(self) -> u32;
    /// Only the sign bit (the value times zero).
    fn sign_only(self) -> Self;
}

impl Word for u32 {
    #[inline(always)]
    fn key(self) -> u32 {
        self & 0x7fff_ffff
    }
    #[inline(always)]
    fn sign_only(self) -> Self {
        self & 0x8000_0000
    }
}

impl Word for u16 {
    #[inline(always)]
    fn key(self) -> u32 {
        (self & 0x7fff) as u32
    }
    #[inline(always)]
    fn sign_only(self) -> Self {
        self & 0x8000
    }
}

/// The scalar twin of [`apply_bits32`] and [`apply_bits16`] (`limit`: the largest finite key).
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
pub fn apply_bits_scalar<W: Word>(words: &mut [W], bits: &[u8], limit: u32, zeros: &mut [u32; 2]) -> usize {
    let groups = (words.len() / 8).min(bits.len());
    for g in 0..groups {
        let w = &mut words[g * 8..g * 8 + 8];
        if w.iter().any(|&x| x.key() > limit) {
            return g * 8;
        }
        let b = bits[g];
        for (q, x) in w.iter_mut().enumerate() {
            let kept = (b >> q) & 1 == 1;
            let zero = x.key() == 0;
            zeros[0] += zero as u32;
            zeros[1] += (zero || !kept) as u32;
            if !kept {
                *x = x.sign_only();
            }
        }
    }
    groups * 8
}

/// What an `apply_cut` pass needs besides the values: the cut, the ties still to prune, whether
/// to mask the values, and the zeros counted so far.
pub struct Cut {
    /// The key of rank `k - 1` (-1: keep every value; `0x7fffffff`: prune every value).
    pub cut: i32,
    /// How many keys equal to `cut` are still to be pruned (the first ones, in index order).
    pub ties: u32,
    /// Mask the values in place too.
    pub apply: bool,
    /// Zeros (+0 and -0) seen so far, and zeros after masking.
    pub zeros_before: u32,
    pub zeros_after: u32,
}

/// One value's mask bit (1: kept), with the tie rule; masks and counts it when asked.
#[inline(always)]
fn one(m: i32, c: &mut Cut) -> u32 {
    let kept = if m > c.cut {
        1
    } else if m == c.cut {
        if c.ties > 0 {
            c.ties -= 1;
            0
        } else {
            1
        }
    } else {
        0
    };
    if c.apply {
        let zero = (m == 0) as u32;
        c.zeros_before += zero;
        c.zeros_after += zero | (kept ^ 1);
    }
    kept
}

/// The mask of stored floats as bits (scalar twin of [`apply_cut32`] and [`apply_cut16`]).
pub fn apply_cut_scalar<W: Word>(words: &mut [W], c: &mut Cut, bits: &mut [u8]) {
    for (i, w) in words.iter_mut().enumerate() {
        let kept = one(w.key() as i32, c);
        if i % 8 == 0 {
            bits[i / 8] = 0;
        }
        bits[i / 8] |= (kept as u8) << (i % 8);
        if c.apply && kept == 0 {
            *w = w.sign_only();
        }
    }
}

/// The mask of float32 values as bits (`bits.len()` at least `ceil(words.len() / 8)`).
#[cfg(not(target_arch = "wasm32"))]
pub fn apply_cut32(words: &mut [u32], c: &mut Cut, bits: &mut [u8]) {
    apply_cut_scalar(words, c, bits)
}

/// The mask of 16-bit float values as bits (`bits.len()` at least `ceil(words.len() / 8)`).
#[cfg(not(target_arch = "wasm32"))]
pub fn apply_cut16(words: &mut [u16], c: &mut Cut, bits: &mut [u8]) {
    apply_cut_scalar(words, c, bits)
}

/// The mask of float32 values as bits, eight values (one byte of bits) at a time; a group
/// holding a key equal to the cut takes the scalar path (the ties are counted in index order).
#[cfg(target_arch = "wasm32")]
pub fn apply_cut32(words: &mut [u32], c: &mut Cut, bits: &mut [u8]) {
    let n8 = words.len() & !7;
    let p = words.as_mut_ptr();
    let (abs, sign, cv, zero) = (
        i32x4_splat(0x7fff_ffff),
        i32x4_splat(i32::MIN),
        i32x4_splat(c.cut),
        i32x4_splat(0),
    );
    // Lane counts, subtracted (a true comparison is -1); at most n / 4 per lane.
    let (mut zb, mut za) = (zero, zero);
    let mut i = 0;
    while i < n8 {
        // SAFETY: i + 8 <= words.len().
        let (a, b) = unsafe {
            (
                v128_load(p.add(i) as *const v128),
                v128_load(p.add(i + 4) as *const v128),
            )
        };
        let (ma, mb) = (v128_and(a, abs), v128_and(b, abs));
        if v128_any_true(v128_or(i32x4_eq(ma, cv), i32x4_eq(mb, cv))) {
            apply_cut_scalar(&mut words[i..i + 8], c, &mut bits[i / 8..i / 8 + 1]);
            i += 8;
            continue;
        }
        let (ka, kb) = (i32x4_gt(ma, cv), i32x4_gt(mb, cv));
        bits[i / 8] = (i32x4_bitmask(ka) | (i32x4_bitmask(kb) << 4)) as u8;
        if c.apply {
            let (za_, zb_) = (i32x4_eq(ma, zero), i32x4_eq(mb, zero));
            zb = i32x4_sub(i32x4_sub(zb, za_), zb_);
            za = i32x4_sub(i32x4_sub(za, v128_or(za_, v128_not(ka))), v128_or(zb_, v128_not(kb)));
            // SAFETY: as the loads.
            unsafe {
                v128_store(p.add(i) as *mut v128, v128_and(a, v128_or(ka, sign)));
                v128_store(p.add(i + 4) as *mut v128, v128_and(b, v128_or(kb, sign)));
            }
        }
        i += 8;
    }
    c.zeros_before += lane_sum(zb);
    c.zeros_after += lane_sum(za);
    apply_cut_scalar(&mut words[n8..], c, &mut bits[n8 / 8..]);
}

/// The mask of 16-bit float values as bits, eight values (one byte of bits) at a time.
#[cfg(target_arch = "wasm32")]
pub fn apply_cut16(words: &mut [u16], c: &mut Cut, bits: &mut [u8]) {
    let n8 = words.len() & !7;
    let p = words.as_mut_ptr();
    let (abs, sign, cv, zero) = (
        i16x8_splat(0x7fff),
        i16x8_splat(i16::MIN),
        i16x8_splat(c.cut.clamp(-1, 0x7fff) as i16),
        i16x8_splat(0),
    );
    // A cut of 0x7fffffff (prune all) is above every 15-bit key: no lane is kept, none ties.
    let all = c.cut > 0x7fff;
    let (mut zb, mut za) = (i32x4_splat(0), i32x4_splat(0));
    let mut i = 0;
    while i < n8 {
        // SAFETY: i + 8 <= words.len().
        let a = unsafe { v128_load(p.add(i) as *const v128) };
        let m = v128_and(a, abs);
        if !all && v128_any_true(i16x8_eq(m, cv)) {
            apply_cut_scalar(&mut words[i..i + 8], c, &mut bits[i / 8..i / 8 + 1]);
            i += 8;
            continue;
        }
        let k = if all { zero } else { i16x8_gt(m, cv) };
        bits[i / 8] = i16x8_bitmask(k);
        if c.apply {
            let z = i16x8_eq(m, zero);
            // Widened to 32-bit lanes before counting (16-bit lanes would overflow).
            zb = i32x4_sub(zb, i32x4_extadd_pairwise_i16x8(z));
            za = i32x4_sub(za, i32x4_extadd_pairwise_i16x8(v128_or(z, v128_not(k))));
            // SAFETY: as the load.
            unsafe { v128_store(p.add(i) as *mut v128, v128_and(a, v128_or(k, sign))) };
        }
        i += 8;
    }
    c.zeros_before += lane_sum(zb);
    c.zeros_after += lane_sum(za);
    apply_cut_scalar(&mut words[n8..], c, &mut bits[n8 / 8..]);
}

#[cfg(target_arch = "wasm32")]
#[inline(always)]
fn lane_sum(v: v128) -> u32 {
    (i32x4_extract_lane::<0>(v) as u32)
        .wrapping_add(i32x4_extract_lane::<1>(v) as u32)
        .wrapping_add(i32x4_extract_lane::<2>(v) as u32)
        .wrapping_add(i32x4_extract_lane::<3>(v) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: u32, n: usize) -> Vec<u32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                s
            })
            .collect()
    }

    #[test]
    fn ties_prune_the_first_equal_keys_and_apply_keeps_signs() {
        let mut w: Vec<u32> = [0.5f32, -3.0, 2.0, -0.5, 0.0, 1.0]
            .iter()
            .map(|x| x.to_bits())
            .collect();
        let mut c = Cut {
            cut: 0.5f32.to_bits() as i32,
            ties: 1,
            apply: true,
            zeros_before: 0,
            zeros_after: 0,
        };
        let mut bits = [0u8; 1];
        apply_cut32(&mut w, &mut c, &mut bits);
        // 0 is below the cut; of the tied 0.5 and -0.5, the first is pruned.
        assert_eq!(bits[0], 0b101110);
        assert_eq!(f32::from_bits(w[0]), 0.0);
        assert_eq!(w[3], (-0.5f32).to_bits());
        assert_eq!((c.ties, c.zeros_before, c.zeros_after), (0, 1, 2));
    }

    #[test]
    fn low_histogram_counts_the_keys_of_one_high_bin() {
        let finite: Vec<u32> = lcg(7, 1000).iter().map(|x| x & 0xbfff_ffff).collect();
        let high = (finite[3] & 0x7fff_ffff) >> 16;
        let mut low = [0u32; LOW_BINS];
        low_hist32(&finite, high, &mut low);
        let want = finite.iter().filter(|&&w| (w & 0x7fff_ffff) >> 16 == high).count();
        assert_eq!(low.iter().sum::<u32>() as usize, want);
    }

    #[test]
    fn chunks_give_the_bits_and_counts_of_one_call() {
        let w: Vec<u32> = lcg(3, 203).iter().map(|x| x & 0xbfff_ffff).collect();
        let cut = (w[10] & 0x7fff_ffff) as i32;
        let mut whole = w.clone();
        let mut c = Cut {
            cut,
            ties: 1,
            apply: true,
            zeros_before: 0,
            zeros_after: 0,
        };
        let mut bits = vec![0u8; 26];
        apply_cut32(&mut whole, &mut c, &mut bits);
        let mut parts = w.clone();
        let mut d = Cut {
            cut,
            ties: 1,
            apply: true,
            zeros_before: 0,
            zeros_after: 0,
        };
        let mut pbits = vec![0u8; 26];
        let (a, b) = parts.split_at_mut(96);
        apply_cut32(a, &mut d, &mut pbits[..12]);
        apply_cut32(b, &mut d, &mut pbits[12..]);
        assert_eq!(whole, parts);
        assert_eq!(bits, pbits);
        assert_eq!((c.ties, c.zeros_after), (d.ties, d.zeros_after));
    }

    #[test]
    fn band_counts_below_and_lists_the_band_up_to_the_cap() {
        let w: Vec<u32> = lcg(11, 1003).iter().map(|x| x & 0xbfff_ffff).collect();
        let (lo, hi) = (0x2000_0000u32, 0x2800_0000u32);
        let mut keys = vec![0u32; 1003];
        let mut state = [0u32; 2];
        assert!(band32(&w, lo, hi, &mut keys, &mut state));
        let m: Vec<u32> = w.iter().map(|x| x & 0x7fff_ffff).collect();
        let want: Vec<u32> = m.iter().copied().filter(|&k| k >= lo && k <= hi).collect();
        assert_eq!(state[0] as usize, m.iter().filter(|&&k| k < lo).count());
        assert_eq!(&keys[..want.len()], &want[..]);
        assert_eq!(state[1] as usize, want.len());
        // A cap of 2 lists the first two and counts all; in pieces, the counts add up.
        let (mut two, mut s2) = ([0u32; 2], [0u32; 2]);
        assert!(band32(&w[..500], lo, hi, &mut two, &mut s2));
        assert!(band32(&w[500..], lo, hi, &mut two, &mut s2));
        assert_eq!(two, [want[0], want[1]]);
        assert_eq!(s2, state);
        assert!(!band32(&[f32::INFINITY.to_bits()], lo, hi, &mut two, &mut s2));
        // 16-bit words: the same counts on the keys' 15 bits; each type's infinity is refused.
        let h: Vec<u16> = lcg(12, 1003).iter().map(|x| (*x as u16) & 0xfbff).collect();
        let (lo16, hi16) = (0x2000u16, 0x3000u16);
        let mut k16 = vec![0u32; 1003];
        let mut s16 = [0u32; 2];
        assert!(band16(&h, 0x7c00, lo16, hi16, &mut k16, &mut s16));
        let m16: Vec<u32> = h.iter().map(|x| u32::from(x & 0x7fff)).collect();
        let want16: Vec<u32> = m16.iter().copied().filter(|&k| k >= 0x2000 && k <= 0x3000).collect();
        assert_eq!(s16[0] as usize, m16.iter().filter(|&&k| k < 0x2000).count());
        assert_eq!(&k16[..want16.len()], &want16[..]);
        assert_eq!(s16[1] as usize, want16.len());
        assert!(!band16(&[0x7c00], 0x7c00, lo16, hi16, &mut k16, &mut s16));
        assert!(band16(&[0x7c00], 0x7f80, lo16, hi16, &mut k16, &mut s16));
        assert!(!band16(&[0xff80], 0x7f80, lo16, hi16, &mut k16, &mut s16));
    }

    #[test]
    fn bin_entries_list_the_bin_up_to_the_cap_and_count_all() {
        let w: Vec<u32> = [1.0f32, -1.0, 1.5, 2.0, 1.00001].iter().map(|x| x.to_bits()).collect();
        let high = 1.0f32.to_bits() >> 16;
        let mut hist = [0u32; LOW_BINS];
        let (mut pos, mut lows, mut count) = ([0u32; 2], [0u16; 2], 0u32);
        assert!(bin_entries32(&w, high, 10, &mut hist, &mut pos, &mut lows, &mut count));
        // 1, -1 and 1.00001 share the high bits of 1.0; 1.5 and 2 do not.
        assert_eq!(count, 3);
        assert_eq!(pos, [10, 11]);
        assert_eq!(lows, [0, 0]);
        assert_eq!((hist[0], hist[(1.00001f32.to_bits() & 0xffff) as usize]), (2, 1));
        assert!(!bin_entries32(
            &[f32::NAN.to_bits()],
            high,
            0,
            &mut hist,
            &mut pos,
            &mut lows,
            &mut count
        ));
    }

    #[test]
    fn apply_bits_masks_whole_finite_groups_and_stops_at_a_non_finite_one() {
        let mut w: Vec<u32> = (0..20).map(|i| (i as f32 - 3.0).to_bits()).collect();
        w[17] = f32::INFINITY.to_bits();
        let mut zeros = [0u32; 2];
        let done = apply_bits32(&mut w, &[0b1010_1010, 0xff], &mut zeros);
        assert_eq!(done, 16);
        assert_eq!(f32::from_bits(w[0]), -0.0);
        assert_eq!(f32::from_bits(w[1]), -2.0);
        assert_eq!(f32::from_bits(w[4]), 0.0);
        assert_eq!(zeros, [1, 5]);
        let mut h = [0x3c00u16, 0xbc00, 0, 0x8000, 1, 2, 3, 4, 0x7c00];
        let mut z = [0u32; 2];
        assert_eq!(apply_bits16(&mut h, &[0b0000_0001, 0], 0x7c00, &mut z), 8);
        assert_eq!(&h[..4], &[0x3c00, 0x8000, 0, 0x8000]);
        assert_eq!(z, [2, 7]);
    }
}
