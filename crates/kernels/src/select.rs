//! Exact selection on order-preserving keys (see `keys.rs`).
//!
//! [`key_hist`] is a radix histogram: a key is split 11/11/10
//! bits; level 0 counts the top 11 bits of every key, level 1 the middle 11 bits of the keys
//! whose top 11 bits equal a prefix, level 2 the low 10 bits of the keys whose top 22 bits equal
//! a prefix. The caller walks the cumulative counts to find the bin holding the wanted rank, so
//! three passes find any key exactly, and the passes can be accumulated over many arrays or
//! chunks (in practice over the candidates that `range.rs` gathers). [`select_mask`] then writes
//! the mask.

use crate::keys::key;
#[cfg(target_arch = "wasm32")]
use crate::keys::key4;

/// Bins of one histogram level.
pub const BINS: usize = 2048;

/// Which keys a level counts, and which bits give the bin.
#[derive(Clone, Copy)]
pub struct Level {
    filter: bool,
    prefix_shift: u32,
    bin_shift: u32,
    bin_mask: u32,
}

impl Level {
    /// The level `l` (0, 1 or 2), or `None` for another value.
    pub fn new(l: u32) -> Option<Level> {
        match l {
            0 => Some(Level {
                filter: false,
                prefix_shift: 0,
                bin_shift: 21,
                bin_mask: 0x7FF,
            }),
            1 => Some(Level {
                filter: true,
                prefix_shift: 21,
                bin_shift: 10,
                bin_mask: 0x7FF,
            }),
            2 => Some(Level {
                filter: true,
                prefix_shift: 10,
                bin_shift: 0,
                bin_mask: 0x3FF,
            }),
            _ => None,
        }
    }

    #[inline(always)]
    fn bin(&self, k: u32) -> usize {
        ((k >> self.bin_shift) & self.bin_mask) as usize
    }

    #[inline(always)]
    fn takes(&self, k: u32, prefix: u32) -> bool {
        !self.filter || k >> self.prefix_shift == prefix
    }
}

/// Adds the level-`lv` key counts of `data` to `hist` (scalar twin).
pub fn key_hist_scalar(data: &[f32], lv: Level, prefix: u32, hist: &mut [u32; BINS]) {
    for &x in data {
        let k = key(x.to_bits());
        if lv.takes(k, prefix) {
            hist[lv.bin(k)] += 1;
        }
    }
}

/// Adds the level-`lv` key counts of `data` to `hist`.
#[cfg(not(target_arch = "wasm32"))]
pub fn key_hist(data: &[f32], lv: Level, prefix: u32, hist: &mut [u32; BINS]) {
    key_hist_scalar(data, lv, prefix, hist)
}

/// Adds the level-`lv` key counts of `data` to `hist`: keys four at a time, counted into four
/// interleaved sub-histograms so that runs of equal values do not serialise on one counter.
#[cfg(target_arch = "wasm32")]
pub fn key_hist(data: &[f32], lv: Level, prefix: u32, hist: &mut [u32; BINS]) {
    use core::arch::wasm32::*;
    let mut sub = [[0u32; BINS]; 4];
    let n16 = data.len() & !15;
    let p = data.as_ptr();
    let pv = u32x4_splat(prefix);
    let bm = u32x4_splat(lv.bin_mask);
    let mut i = 0;
    while i < n16 {
        // SAFETY: i + 16 <= data.len().
        let ks = unsafe {
            [
                key4(crate::lanes::load(p.add(i))),
                key4(crate::lanes::load(p.add(i + 4))),
                key4(crate::lanes::load(p.add(i + 8))),
                key4(crate::lanes::load(p.add(i + 12))),
            ]
        };
        if lv.filter {
            let ms = [
                i32x4_eq(u32x4_shr(ks[0], lv.prefix_shift), pv),
                i32x4_eq(u32x4_shr(ks[1], lv.prefix_shift), pv),
                i32x4_eq(u32x4_shr(ks[2], lv.prefix_shift), pv),
                i32x4_eq(u32x4_shr(ks[3], lv.prefix_shift), pv),
            ];
            if !v128_any_true(v128_or(v128_or(ms[0], ms[1]), v128_or(ms[2], ms[3]))) {
                i += 16;
                continue;
            }
            for j in 0..4 {
                let b = v128_and(u32x4_shr(ks[j], lv.bin_shift), bm);
                let m = i32x4_bitmask(ms[j]);
                count_lanes(&mut sub, b, m);
            }
        } else {
            for k in ks {
                count_lanes(&mut sub, u32x4_shr(k, lv.bin_shift), 0xF);
            }
        }
        i += 16;
    }
    for (b, h) in hist.iter_mut().enumerate() {
        *h += sub[0][b] + sub[1][b] + sub[2][b] + sub[3][b];
    }
    key_hist_scalar(&data[n16..], lv, prefix, hist);
}

#[cfg(target_arch = "wasm32")]
#[inline(always)]
fn count_lanes(sub: &mut [[u32; BINS]; 4], b: core::arch::wasm32::v128, m: u8) {
    use core::arch::wasm32::u32x4_extract_lane;
    const M: u32 = BINS as u32 - 1;
    if m & 1 != 0 {
        sub[0][(u32x4_extract_lane::<0>(b) & M) as usize] += 1;
    }
    if m & 2 != 0 {
        sub[1][(u32x4_extract_lane::<1>(b) & M) as usize] += 1;
    }
    if m & 4 != 0 {
        sub[2][(u32x4_extract_lane::<2>(b) & M) as usize] += 1;
    }
    if m & 8 != 0 {
        sub[3][(u32x4_extract_lane::<3>(b) & M) as usize] += 1;
    }
}

/// Writes the selection mask (scalar twin of [`select_mask`]): 0 where the value is below `t`,
/// 0 for the first `*ties` values equal to `t` (lower index first), 1 elsewhere. A NaN `t`
/// stands for the NaN key: every number is below it and NaNs are equal to it. `*ties` is
/// decreased by the number of equal values pruned, so chunks can be chained.
///
/// With `t` the value of a key (see `keys.rs`), "below" and "equal" in float comparisons are
/// "below" and "equal" in key order, since keys are an order isomorphism that identifies the
/// zeros.
pub fn select_mask_scalar(data: &[f32], t: f32, ties: &mut u32, out: &mut [u8]) {
    let nan = t.is_nan();
    for (o, &x) in out.iter_mut().zip(data) {
        let (lt, eq) = if nan {
            (!x.is_nan(), x.is_nan())
        } else {
            (x < t, x == t)
        };
        *o = if lt {
            0
        } else if eq && *ties > 0 {
            *ties -= 1;
            0
        } else {
            1
        };
    }
}

/// Writes the selection mask; see [`select_mask_scalar`]. `out.len()` must equal `data.len()`.
#[cfg(not(target_arch = "wasm32"))]
pub fn select_mask(data: &[f32], t: f32, ties: &mut u32, out: &mut [u8]) {
    select_mask_scalar(data, t, ties, out)
}

/// Writes the selection mask sixteen elements at a time; blocks that hold a tie while ties
/// remain go through the scalar twin.
#[cfg(target_arch = "wasm32")]
pub fn select_mask(data: &[f32], t: f32, ties: &mut u32, out: &mut [u8]) {
    use crate::lanes::{load, mask_bytes, store};
    use core::arch::wasm32::*;
    let n = data.len().min(out.len());
    let n16 = n & !15;
    let p = data.as_ptr();
    let o = out.as_mut_ptr();
    let tv = f32x4_splat(t);
    let nan = t.is_nan();
    // Lanes that are kept when no tie is pruned: not below t (so NaN is kept for a number t).
    let keep = |x: v128| if nan { f32x4_ne(x, x) } else { v128_not(f32x4_lt(x, tv)) };
    let equal = |x: v128| if nan { f32x4_ne(x, x) } else { f32x4_eq(x, tv) };
    let mut i = 0;
    while i < n16 {
        // SAFETY: i + 16 <= n.
        let xs = unsafe {
            [
                load(p.add(i)),
                load(p.add(i + 4)),
                load(p.add(i + 8)),
                load(p.add(i + 12)),
            ]
        };
        if *ties > 0 {
            let eq = [equal(xs[0]), equal(xs[1]), equal(xs[2]), equal(xs[3])];
            let count: u32 = eq.iter().map(|&e| (i32x4_bitmask(e) as u32).count_ones()).sum();
            if count > *ties {
                // Only some of the ties here are pruned: in index order, one by one.
                select_mask_scalar(&data[i..i + 16], t, ties, &mut out[i..i + 16]);
                i += 16;
                continue;
            }
            if count > 0 {
                // Every tie here is pruned.
                *ties -= count;
                let k = |j: usize| v128_andnot(keep(xs[j]), eq[j]);
                // SAFETY: i + 16 <= out.len().
                unsafe { store(o.add(i), mask_bytes(k(0), k(1), k(2), k(3))) };
                i += 16;
                continue;
            }
        }
        let m = mask_bytes(keep(xs[0]), keep(xs[1]), keep(xs[2]), keep(xs[3]));
        // SAFETY: i + 16 <= out.len().
        unsafe { store(o.add(i), m) };
        i += 16;
    }
    select_mask_scalar(&data[n16..n], t, ties, &mut out[n16..n]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{float_of_key, NAN_KEY};

    /// Finds the key of rank `r` with the three levels, like the TypeScript driver does.
    fn select(data: &[f32], r: u32) -> (u32, u32) {
        let mut prefix = 0;
        let mut below = 0;
        for l in 0..3 {
            let lv = Level::new(l).unwrap();
            let mut h = [0u32; BINS];
            key_hist(data, lv, prefix, &mut h);
            let mut b = 0;
            while below + h[b] <= r {
                below += h[b];
                b += 1;
            }
            prefix = if l == 2 {
                (prefix << 10) | b as u32
            } else {
                (prefix << 11) | b as u32
            };
        }
        (prefix, r - below + 1)
    }

    fn mask(data: &[f32], k: u32) -> Vec<u8> {
        let mut out = vec![1u8; data.len()];
        if k == 0 {
            return out;
        }
        let (t, mut ties) = select(data, k - 1);
        select_mask(data, f32::from_bits(float_of_key(t)), &mut ties, &mut out);
        assert_eq!(ties, 0);
        out
    }

    fn sorted_mask(data: &[f32], k: usize) -> Vec<u8> {
        let mut idx: Vec<usize> = (0..data.len()).collect();
        idx.sort_by_key(|&i| (key(data[i].to_bits()), i));
        let mut out = vec![1u8; data.len()];
        for &i in &idx[..k] {
            out[i] = 0;
        }
        out
    }

    fn lcg(seed: &mut u64) -> u32 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (*seed >> 33) as u32
    }

    #[test]
    fn mask_matches_a_sort_on_special_values_and_ties() {
        let data = [
            1.0,
            f32::NAN,
            -0.0,
            0.0,
            f32::INFINITY,
            -1e-45,
            1e-45,
            f32::NEG_INFINITY,
            0.0,
            -f32::NAN,
            1.0,
            -0.0,
            2.0,
            1.0,
            f32::MIN_POSITIVE,
            -2.0,
            3.0,
            1.0,
            0.5,
        ];
        for k in 0..=data.len() {
            assert_eq!(mask(&data, k as u32), sorted_mask(&data, k), "k = {k}");
        }
    }

    #[test]
    fn mask_matches_a_sort_on_random_data_of_odd_lengths() {
        let mut seed = 7;
        for n in [1usize, 3, 15, 16, 17, 33, 100, 257] {
            let data: Vec<f32> = (0..n).map(|_| (lcg(&mut seed) % 9) as f32 - 4.0).collect();
            let wide: Vec<f32> = (0..n)
                .map(|_| f32::from_bits(lcg(&mut seed) ^ (lcg(&mut seed) << 16)))
                .collect();
            for k in [0, 1, n / 3, n / 2, n - 1, n] {
                assert_eq!(mask(&data, k as u32), sorted_mask(&data, k), "n = {n}, k = {k}");
                assert_eq!(mask(&wide, k as u32), sorted_mask(&wide, k), "wide n = {n}, k = {k}");
            }
        }
    }

    #[test]
    fn selection_finds_nan_and_zero_ranks() {
        let data = [f32::NAN, -0.0, 5.0, f32::NAN];
        assert_eq!(select(&data, 0).0, key(0));
        assert_eq!(float_of_key(select(&data, 0).0), 0);
        assert_eq!(select(&data, 2).0, NAN_KEY);
        assert_eq!(select(&data, 3), (NAN_KEY, 2));
    }

    #[test]
    fn select_mask_keeps_nan_above_a_number_and_prunes_numbers_below_nan() {
        let data: Vec<f32> = (0..20).map(|i| if i % 3 == 0 { f32::NAN } else { i as f32 }).collect();
        let mut out = vec![9u8; 20];
        select_mask(&data, 10.5, &mut 0, &mut out);
        let want: Vec<u8> = data.iter().map(|&x| (x.is_nan() || x > 10.5) as u8).collect();
        assert_eq!(out, want);
        let mut ties = 2;
        select_mask(&data, f32::NAN, &mut ties, &mut out);
        let want: Vec<u8> = (0..20).map(|i| (i % 3 == 0 && i > 3) as u8).collect();
        assert_eq!((out, ties), (want, 0));
    }

    #[test]
    fn ties_carry_over_between_chunks() {
        let data = [2.0f32, 1.0, 1.0, 1.0, 1.0, 3.0];
        let mut out = [9u8; 6];
        let mut ties = 3;
        select_mask(&data[..2], 1.0, &mut ties, &mut out[..2]);
        select_mask(&data[2..], 1.0, &mut ties, &mut out[2..]);
        assert_eq!(out, [1, 0, 0, 0, 1, 1]);
        assert_eq!(ties, 0);
    }
}
