//! Pivot ranges for selection: counts of the values below, inside and above `[lo, hi]`, and the
//! values inside (the candidates that the radix select of `select.rs` then runs over).

/// Counts of a [`range_count`] pass.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct RangeCounts {
    /// Values `< lo`.
    pub below: u32,
    /// Values in `[lo, hi]` (all of them, also those past the candidate capacity).
    pub inside: u32,
    /// Values `> hi`. NaN is in none of the three.
    pub above: u32,
}

/// Counts the values below, inside and above `[lo, hi]` (float comparisons, so `-0 == +0`)
/// and copies the first `cand.len()` values inside into `cand`, in index order (scalar twin).
pub fn range_count_scalar(data: &[f32], lo: f32, hi: f32, cand: &mut [f32]) -> RangeCounts {
    let mut c = RangeCounts::default();
    for &x in data {
        if x < lo {
            c.below += 1;
        } else if x > hi {
            c.above += 1;
        } else if x <= hi {
            if let Some(slot) = cand.get_mut(c.inside as usize) {
                *slot = x;
            }
            c.inside += 1;
        }
    }
    c
}

/// Counts the values below, inside and above `[lo, hi]`; see [`range_count_scalar`].
#[cfg(not(target_arch = "wasm32"))]
pub fn range_count(data: &[f32], lo: f32, hi: f32, cand: &mut [f32]) -> RangeCounts {
    range_count_scalar(data, lo, hi, cand)
}

/// Byte shuffles that move the lanes selected by a 4-bit mask to the front, in order.
#[cfg(target_arch = "wasm32")]
const COMPACT: [[u8; 16]; 16] = compact_table();

#[cfg(target_arch = "wasm32")]
const fn compact_table() -> [[u8; 16]; 16] {
    let mut t = [[0u8; 16]; 16];
    let mut m = 0;
    while m < 16 {
        let (mut out, mut lane) = (0, 0);
        while lane < 4 {
            if m & (1 << lane) != 0 {
                let mut b = 0;
                while b < 4 {
                    t[m][out * 4 + b] = (lane * 4 + b) as u8;
                    b += 1;
                }
                out += 1;
            }
            lane += 1;
        }
        m += 1;
    }
    t
}

/// Counts the values below, inside and above `[lo, hi]` with lane counters, and packs the
/// values inside into `cand` four lanes at a time with a shuffle (no branch per element).
#[cfg(target_arch = "wasm32")]
pub fn range_count(data: &[f32], lo: f32, hi: f32, cand: &mut [f32]) -> RangeCounts {
    use crate::lanes::load;
    use core::arch::wasm32::*;
    let n4 = data.len() & !3;
    let p = data.as_ptr();
    let (lov, hiv) = (f32x4_splat(lo), f32x4_splat(hi));
    let (mut below, mut above) = (i32x4_splat(0), i32x4_splat(0));
    let mut inside = 0usize;
    let mut i = 0;
    while i < n4 {
        // SAFETY: i + 4 <= data.len().
        let x = unsafe { load(p.add(i)) };
        let lt = f32x4_lt(x, lov);
        below = i32x4_sub(below, lt);
        above = i32x4_sub(above, f32x4_gt(x, hiv));
        let m = i32x4_bitmask(v128_andnot(f32x4_le(x, hiv), lt)) as usize & 15;
        if inside + 4 <= cand.len() {
            // Always store (lanes past the selected ones are overwritten later): no branch on m.
            // SAFETY: inside + 4 <= cand.len(); COMPACT rows are 16 bytes.
            unsafe {
                let shuffle = v128_load(COMPACT[m].as_ptr() as *const v128);
                v128_store(cand.as_mut_ptr().add(inside) as *mut v128, i8x16_swizzle(x, shuffle));
            }
        } else if m != 0 && inside < cand.len() {
            let mut k = inside;
            for (lane, &v) in data[i..i + 4].iter().enumerate() {
                if m & (1 << lane) != 0 {
                    if let Some(slot) = cand.get_mut(k) {
                        *slot = v;
                    }
                    k += 1;
                }
            }
        }
        inside += m.count_ones() as usize;
        i += 4;
    }
    let sum = |v: v128| {
        (i32x4_extract_lane::<0>(v)
            + i32x4_extract_lane::<1>(v)
            + i32x4_extract_lane::<2>(v)
            + i32x4_extract_lane::<3>(v)) as u32
    };
    let rest_cand = cand.get_mut(inside..).unwrap_or(&mut []);
    let tail = range_count_scalar(&data[n4..], lo, hi, rest_cand);
    RangeCounts {
        below: sum(below) + tail.below,
        inside: inside as u32 + tail.inside,
        above: sum(above) + tail.above,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_count_splits_values_and_collects_candidates() {
        let data: Vec<f32> = (0..37).map(|i| (i % 9) as f32 - 4.0).chain([f32::NAN, -0.0]).collect();
        let mut cand = [9.0f32; 6];
        let c = range_count(&data, 0.0, 1.0, &mut cand);
        let below = data.iter().filter(|&&x| x < 0.0).count() as u32;
        let above = data.iter().filter(|&&x| x > 1.0).count() as u32;
        assert_eq!(
            c,
            RangeCounts {
                below,
                inside: 9,
                above
            }
        );
        assert_eq!(cand, [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
    }
}
