//! Numeric kernels of nncompress, compiled to `wasm32-unknown-unknown` with `+simd128`.
//!
//! This file holds only the C ABI: every export takes `(pointer, length)` pairs and scalars
//! in the module's linear memory (allocated by the TypeScript arena) and returns an `i32`
//! status, 0 for success. The TypeScript side validates every argument first, so a non-zero
//! status is a backstop: [`BAD_POINTER`], [`BAD_LAYOUT`], [`BAD_ARGUMENT`], [`BAD_RANGE`].
//! Block kernels take a canonical layout (see `blocks.rs`) as `(dims, dims_len)` `u32` pairs,
//! and process the dim-0 indices `first .. first + count` held by the chunk.
#![cfg_attr(target_arch = "wasm32", no_std)]

mod abi;
mod blocks;
mod convert;
mod expand;
mod hist;
mod keys;
mod lanes;
mod linalg;
mod magnitude;
mod mask;
mod pack;
mod quant;
mod range;
mod reduce;
mod select;

use abi::{chunk, dequantize_as, params, quantize_as, slice, slice_mut, status};
pub use abi::{BAD_ARGUMENT, BAD_LAYOUT, BAD_POINTER, BAD_RANGE};
use quant::{FakeQuantize, PerBlock};

#[cfg(all(target_arch = "wasm32", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// Adds the level-`level` radix histogram (2048 `u32` bins at `hist`) of the keys of `n`
/// floats at `data`; see `select.rs`.
///
/// # Safety
/// Pointers must be valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn nnc_key_hist(data: *const f32, n: usize, level: u32, prefix: u32, hist: *mut u32) -> i32 {
    status((|| {
        let lv = select::Level::new(level).ok_or(BAD_ARGUMENT)?;
        let h = slice_mut(hist, select::BINS)?;
        let h: &mut [u32; select::BINS] = h.try_into().map_err(|_| BAD_POINTER)?;
        select::key_hist(slice(data, n)?, lv, prefix, h);
        Ok(())
    })())
}

/// Adds the histogram of the low 16 bits of the float32 magnitude keys whose high 16 bits are
/// `high`, of `n` floats at `data`, to 65,536 `u32` bins at `hist`.
///
/// # Safety
/// Pointers must be valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn nnc_mag_low_hist(data: *const u32, n: usize, high: u32, hist: *mut u32) -> i32 {
    status((|| {
        let h = slice_mut(hist, magnitude::LOW_BINS)?;
        let h: &mut [u32; magnitude::LOW_BINS] = h.try_into().map_err(|_| BAD_POINTER)?;
        magnitude::low_hist32(slice(data, n)?, high, h);
        Ok(())
    })())
}

/// Counts the magnitude keys of `n` stored floats of `width` bytes at `data` (16-bit ones with
/// their type's `infinity` bits) below `lo` into `state[0]`, and those in `[lo, hi]` into
/// `state[1]`, listing them at `keys` while `state[1] < cap`; `state[2]` becomes 1 when a value
/// is not finite.
///
/// # Safety
/// Pointers must be valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn nnc_mag_band(
    data: *const u8,
    n: usize,
    width: u32,
    infinity: u32,
    lo: u32,
    hi: u32,
    keys: *mut u32,
    cap: usize,
    state: *mut u32,
) -> i32 {
    status((|| {
        let state = slice_mut(state, 3)?;
        let mut counts = [state[0], state[1]];
        let keys = slice_mut(keys, cap)?;
        let finite = match width {
            4 if lo <= hi && hi <= 0x7fff_ffff => {
                magnitude::band32(slice(data as *const u32, n)?, lo, hi, keys, &mut counts)
            }
            2 if lo <= hi && hi <= 0x7fff && (infinity == 0x7c00 || infinity == 0x7f80) => {
                let words = slice(data as *const u16, n)?;
                magnitude::band16(words, infinity as u16, lo as u16, hi as u16, keys, &mut counts)
            }
            _ => return Err(BAD_ARGUMENT),
        };
        state[0] = counts[0];
        state[1] = counts[1];
        if !finite {
            state[2] = 1;
        }
        Ok(())
    })())
}

/// Writes the magnitude mask of `n` stored floats of `width` bytes as bits at `bits` (kept: a
/// key above `cut`, or equal once `state[0]` equal keys have been pruned, `state[0]` counting
/// down); with `apply` 1, masks the values in place (a pruned value keeps its sign bit) and adds
/// the zeros before and after to `state[1]` and `state[2]`. A call other than a tensor's last
/// takes a multiple of eight values.
///
/// # Safety
/// Pointers must be valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn nnc_mag_cut(
    data: *mut u8,
    n: usize,
    width: u32,
    cut: i32,
    apply: u32,
    state: *mut u32,
    bits: *mut u8,
) -> i32 {
    status((|| {
        let state = slice_mut(state, 3)?;
        let bits = slice_mut(bits, (n + 7) / 8)?;
        let mut c = magnitude::Cut {
            cut,
            ties: state[0],
            apply: apply != 0,
            zeros_before: state[1],
            zeros_after: state[2],
        };
        match width {
            4 => magnitude::apply_cut32(slice_mut(data as *mut u32, n)?, &mut c, bits),
            2 => magnitude::apply_cut16(slice_mut(data as *mut u16, n)?, &mut c, bits),
            _ => return Err(BAD_ARGUMENT),
        }
        state[0] = c.ties;
        state[1] = c.zeros_before;
        state[2] = c.zeros_after;
        Ok(())
    })())
}

/// Counts the low 16 bits of the float32 magnitude keys of `n` floats at `data` whose high 16
/// bits are `high` into 65,536 `u32` bins at `hist`, and lists them: `state[0]` counts them,
/// and while it is below `cap`, entry `state[0]` of `positions` gets `offset` + the index and
/// that of `lows` the low bits; sets `state[1]` to 1 when a value is not finite.
///
/// # Safety
/// Pointers must be valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn nnc_mag_bin(
    data: *const u32,
    n: usize,
    high: u32,
    offset: u32,
    hist: *mut u32,
    positions: *mut u32,
    lows: *mut u16,
    cap: usize,
    state: *mut u32,
) -> i32 {
    status((|| {
        let h = slice_mut(hist, magnitude::LOW_BINS)?;
        let h: &mut [u32; magnitude::LOW_BINS] = h.try_into().map_err(|_| BAD_POINTER)?;
        let state = slice_mut(state, 2)?;
        let mut count = state[0];
        let finite = magnitude::bin_entries32(
            slice(data, n)?,
            high,
            offset,
            h,
            slice_mut(positions, cap)?,
            slice_mut(lows, cap)?,
            &mut count,
        );
        state[0] = count;
        if !finite {
            state[1] = 1;
        }
        Ok(())
    })())
}

/// Masks `n` stored floats of `width` bytes at `data` by `bits` (1 keeps; a pruned value keeps
/// its sign bit), group of eight by group, until a group holds a NaN or an infinity
/// (`infinity`: a 16-bit type's infinity bits); adds the zeros before and after to `state[0]`
/// and `state[1]` and sets `state[2]` to the number of values masked.
///
/// # Safety
/// Pointers must be valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn nnc_mag_apply_bits(
    data: *mut u8,
    n: usize,
    width: u32,
    infinity: u32,
    bits: *const u8,
    state: *mut u32,
) -> i32 {
    status((|| {
        let state = slice_mut(state, 3)?;
        let bits = slice(bits, n / 8)?;
        let mut zeros = [state[0], state[1]];
        let done = match width {
            4 => magnitude::apply_bits32(slice_mut(data as *mut u32, n)?, bits, &mut zeros),
            2 => magnitude::apply_bits16(
                slice_mut(data as *mut u16, n)?,
                bits,
                u16::try_from(infinity).map_err(|_| BAD_ARGUMENT)?,
                &mut zeros,
            ),
            _ => return Err(BAD_ARGUMENT),
        };
        state[0] = zeros[0];
        state[1] = zeros[1];
        state[2] = done as u32;
        Ok(())
    })())
}

/// Writes the selection mask of `n` floats: 0 below `t`, 0 for the first `*ties` values equal
/// to `t` (decreasing `*ties`), 1 elsewhere; a NaN `t` is above every number and equal to NaN.
///
/// # Safety
/// Pointers must be valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn nnc_select_mask(data: *const f32, n: usize, t: f32, ties: *mut u32, out: *mut u8) -> i32 {
    status((|| {
        let ties = slice_mut(ties, 1)?;
        select::select_mask(slice(data, n)?, t, &mut ties[0], slice_mut(out, n)?);
        Ok(())
    })())
}

/// Counts the `n` floats at `data` below, inside and above `[lo, hi]` into `counts[0..3]`
/// (overwritten), and copies the first `cap` values inside into `cand`, in index order.
///
/// # Safety
/// Pointers must be valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn nnc_range_count(
    data: *const f32,
    n: usize,
    lo: f32,
    hi: f32,
    counts: *mut u32,
    cand: *mut f32,
    cap: usize,
) -> i32 {
    status((|| {
        let c = range::range_count(slice(data, n)?, lo, hi, slice_mut(cand, cap)?);
        slice_mut(counts, 3)?.copy_from_slice(&[c.below, c.inside, c.above]);
        Ok(())
    })())
}

/// Writes `data[i] >= t` as 0/1 bytes.
///
/// # Safety
/// Pointers must be valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn nnc_threshold_mask(data: *const f32, n: usize, t: f32, out: *mut u8) -> i32 {
    status((|| {
        mask::threshold_mask(slice(data, n)?, t, slice_mut(out, n)?);
        Ok(())
    })())
}

/// Adds the histogram of `n` floats over `[lo, hi]` into `bins` `f64` counts at `out`.
///
/// # Safety
/// Pointers must be valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn nnc_histogram(data: *const f32, n: usize, lo: f64, hi: f64, bins: u32, out: *mut f64) -> i32 {
    status((|| {
        if bins == 0 || lo.is_nan() || hi.is_nan() || lo >= hi {
            return Err(BAD_ARGUMENT);
        }
        hist::histogram(slice(data, n)?, lo, hi, bins, slice_mut(out, bins as usize)?);
        Ok(())
    })())
}

/// Accumulates reduction `op` (0 sum, 1 mean, 2 l1, 3 l2, 4 maxabs) of a chunk into one `f64`
/// per block at `acc` (zeroed by the caller before the first chunk).
///
/// # Safety
/// Pointers must be valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn nnc_block_reduce(
    data: *const f32,
    dims: *const u32,
    dims_len: usize,
    first: usize,
    count: usize,
    op: u32,
    acc: *mut f64,
) -> i32 {
    status((|| {
        let (layout, n) = chunk(dims, dims_len, first, count)?;
        let fold = reduce::fold_of(op).ok_or(BAD_ARGUMENT)?;
        let acc = slice_mut(acc, layout.grid_size())?;
        layout.walk(
            first,
            count,
            &mut reduce::Reduce {
                data: slice(data, n)?,
                acc,
                fold,
            },
        );
        Ok(())
    })())
}

/// Turns `n` accumulators into `f32` results of reduction `op`.
///
/// # Safety
/// Pointers must be valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn nnc_reduce_finish(acc: *const f64, n: usize, op: u32, block_size: f64, out: *mut f32) -> i32 {
    status((|| {
        reduce::fold_of(op).ok_or(BAD_ARGUMENT)?;
        reduce::finish(op, slice(acc, n)?, block_size, slice_mut(out, n)?);
        Ok(())
    })())
}

/// Lowers `min` and raises `max` (one `f32` per block, filled with `+Inf` / `-Inf` by the
/// caller before the first chunk) with a chunk's values; NaN propagates.
///
/// # Safety
/// Pointers must be valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn nnc_min_max(
    data: *const f32,
    dims: *const u32,
    dims_len: usize,
    first: usize,
    count: usize,
    min: *mut f32,
    max: *mut f32,
) -> i32 {
    status((|| {
        let (layout, n) = chunk(dims, dims_len, first, count)?;
        let g = layout.grid_size();
        let mut op = reduce::MinMax {
            data: slice(data, n)?,
            min: slice_mut(min, g)?,
            max: slice_mut(max, g)?,
        };
        layout.walk(first, count, &mut op);
        Ok(())
    })())
}

/// Turns every -0 among `n` floats into +0.
///
/// # Safety
/// Pointers must be valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn nnc_positive_zero(x: *mut f32, n: usize) -> i32 {
    status((|| {
        reduce::positive_zero(slice_mut(x, n)?);
        Ok(())
    })())
}

/// Writes a chunk of the element mask: each block's byte of `block_mask` over its block.
///
/// # Safety
/// Pointers must be valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn nnc_block_expand(
    block_mask: *const u8,
    dims: *const u32,
    dims_len: usize,
    first: usize,
    count: usize,
    out: *mut u8,
) -> i32 {
    status((|| {
        let (layout, n) = chunk(dims, dims_len, first, count)?;
        let block_mask = slice(block_mask, layout.grid_size())?;
        layout.walk(
            first,
            count,
            &mut expand::Expand {
                block_mask,
                out: slice_mut(out, n)?,
            },
        );
        Ok(())
    })())
}

/// Writes the codes of a chunk; `kind` is the code type of `out`: 0 `i8`, 1 `u8`, 2 `i16`,
/// 3 `i32`.
///
/// # Safety
/// Pointers must be valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn nnc_quantize(
    data: *const f32,
    dims: *const u32,
    dims_len: usize,
    first: usize,
    count: usize,
    scale: *const f32,
    zero_point: *const f32,
    qmin: i32,
    qmax: i32,
    kind: u32,
    out: *mut u8,
) -> i32 {
    status((|| {
        let (layout, n) = chunk(dims, dims_len, first, count)?;
        let p = params(&layout, scale, zero_point, qmin, qmax)?;
        let data = slice(data, n)?;
        match kind {
            0 => quantize_as(data, out as *mut i8, &layout, p, first, count),
            1 => quantize_as(data, out, &layout, p, first, count),
            2 => quantize_as(data, out as *mut i16, &layout, p, first, count),
            3 => quantize_as(data, out as *mut i32, &layout, p, first, count),
            _ => Err(BAD_ARGUMENT),
        }
    })())
}

/// Writes the values of a chunk of codes of type `kind` (see [`nnc_quantize`]).
///
/// # Safety
/// Pointers must be valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn nnc_dequantize(
    codes: *const u8,
    kind: u32,
    dims: *const u32,
    dims_len: usize,
    first: usize,
    count: usize,
    scale: *const f32,
    zero_point: *const f32,
    out: *mut f32,
) -> i32 {
    status((|| {
        let (layout, n) = chunk(dims, dims_len, first, count)?;
        let p = params(&layout, scale, zero_point, 0, 0)?;
        let out = slice_mut(out, n)?;
        match kind {
            0 => dequantize_as(codes as *const i8, out, &layout, p, first, count),
            1 => dequantize_as(codes, out, &layout, p, first, count),
            2 => dequantize_as(codes as *const i16, out, &layout, p, first, count),
            3 => dequantize_as(codes as *const i32, out, &layout, p, first, count),
            _ => Err(BAD_ARGUMENT),
        }
    })())
}

/// Writes `dequantize(quantize(x))` for a chunk.
///
/// # Safety
/// Pointers must be valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn nnc_fake_quantize(
    data: *const f32,
    dims: *const u32,
    dims_len: usize,
    first: usize,
    count: usize,
    scale: *const f32,
    zero_point: *const f32,
    qmin: i32,
    qmax: i32,
    out: *mut f32,
) -> i32 {
    status((|| {
        let (layout, n) = chunk(dims, dims_len, first, count)?;
        let p = params(&layout, scale, zero_point, qmin, qmax)?;
        let kernel = FakeQuantize {
            params: p,
            data: slice(data, n)?,
            out: slice_mut(out, n)?,
        };
        layout.walk(first, count, &mut PerBlock { kernel, params: p });
        Ok(())
    })())
}

/// Writes `data * mask` (`add == 0`) or `data + (mask ? 0 : -1000)` (`add != 0`).
///
/// # Safety
/// Pointers must be valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn nnc_apply_mask(data: *const f32, mask: *const u8, n: usize, add: u32, out: *mut f32) -> i32 {
    status((|| {
        mask::apply_mask(slice(data, n)?, slice(mask, n)?, add != 0, slice_mut(out, n)?);
        Ok(())
    })())
}

/// Converts `n` f16 bit patterns to `f32`.
///
/// # Safety
/// Pointers must be valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn nnc_f16_to_f32(bits: *const u16, n: usize, out: *mut u32) -> i32 {
    status((|| {
        convert::f16_slice_to_f32(slice(bits, n)?, slice_mut(out, n)?);
        Ok(())
    })())
}

/// Converts `n` floats to f16 bit patterns.
///
/// # Safety
/// Pointers must be valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn nnc_f32_to_f16(data: *const u32, n: usize, out: *mut u16) -> i32 {
    status((|| {
        convert::f32_slice_to_f16(slice(data, n)?, slice_mut(out, n)?);
        Ok(())
    })())
}

/// Converts `n` bf16 bit patterns to `f32`.
///
/// # Safety
/// Pointers must be valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn nnc_bf16_to_f32(bits: *const u16, n: usize, out: *mut u32) -> i32 {
    status((|| {
        convert::bf16_slice_to_f32(slice(bits, n)?, slice_mut(out, n)?);
        Ok(())
    })())
}

/// Converts `n` floats to bf16 bit patterns.
///
/// # Safety
/// Pointers must be valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn nnc_f32_to_bf16(data: *const u32, n: usize, out: *mut u16) -> i32 {
    status((|| {
        convert::f32_slice_to_bf16(slice(data, n)?, slice_mut(out, n)?);
        Ok(())
    })())
}

/// Packs `n` 4-bit codes (one per byte) into `ceil(n / 2)` bytes.
///
/// # Safety
/// Pointers must be valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn nnc_pack_int4(codes: *const u8, n: usize, out: *mut u8) -> i32 {
    status((|| {
        pack::pack(slice(codes, n)?, slice_mut(out, (n + 1) / 2)?);
        Ok(())
    })())
}

/// Unpacks `n` 4-bit codes from `ceil(n / 2)` bytes, sign-extending when `signed != 0`.
///
/// # Safety
/// Pointers must be valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn nnc_unpack_int4(packed: *const u8, n: usize, signed: u32, out: *mut u8) -> i32 {
    status((|| {
        pack::unpack(slice(packed, (n + 1) / 2)?, signed != 0, slice_mut(out, n)?);
        Ok(())
    })())
}

/// Accumulates a calibration batch into the Hessian: `h = h · decay + (scale · x)ᵀ (scale · x)`
/// (`h` `n x n`, upper triangle computed and mirrored; `x` `rows x n`, scaled in place), see
/// `linalg.rs`. `scratch` holds `scratch_len >= KC · NC + KC · MR` floats.
///
/// # Safety
/// Pointers must be valid for their lengths and not overlap.
#[no_mangle]
pub unsafe extern "C" fn nnc_hessian_accumulate(
    h: *mut f32,
    x: *mut f32,
    n: usize,
    rows: usize,
    decay: f32,
    scale: f32,
    scratch: *mut f32,
    scratch_len: usize,
) -> i32 {
    status((|| {
        let nn = n.checked_mul(n).ok_or(BAD_RANGE)?;
        let xn = rows.checked_mul(n).ok_or(BAD_RANGE)?;
        if scratch_len < linalg::GEMM_SCRATCH {
            return Err(BAD_ARGUMENT);
        }
        linalg::hessian_accumulate(
            slice_mut(h, nn)?,
            slice_mut(x, xn)?,
            n,
            decay,
            scale,
            slice_mut(scratch, scratch_len)?,
        );
        Ok(())
    })())
}

/// Writes `U` with `Uᵀ U = H⁻¹` to `out` (`n x n`), overwriting `h`; `*failed` receives -1, or
/// the column of `h` whose Cholesky pivot is not positive (then `out` is unspecified).
/// `scratch` holds `scratch_len >= KC · NC + KC · MR + NB · n` floats.
///
/// # Safety
/// Pointers must be valid for their lengths and not overlap.
#[no_mangle]
pub unsafe extern "C" fn nnc_inverse_cholesky_upper(
    h: *mut f32,
    n: usize,
    out: *mut f32,
    scratch: *mut f32,
    scratch_len: usize,
    failed: *mut i32,
) -> i32 {
    status((|| {
        let nn = n.checked_mul(n).ok_or(BAD_RANGE)?;
        if scratch_len < linalg::cholesky_scratch(n) {
            return Err(BAD_ARGUMENT);
        }
        let failed = slice_mut(failed, 1)?;
        let result = linalg::inverse_cholesky_upper(
            slice_mut(h, nn)?,
            n,
            slice_mut(out, nn)?,
            slice_mut(scratch, scratch_len)?,
        );
        failed[0] = match result {
            Ok(()) => -1,
            Err(column) => column as i32,
        };
        Ok(())
    })())
}

/// `c -= aᵀ b` term by term: `c` is `m x n`, `a` `k x m`, `b` `k x n`, see `linalg.rs`.
/// `scratch` holds `scratch_len >= KC · NC + KC · MR` floats.
///
/// # Safety
/// Pointers must be valid for their lengths and `c` must not overlap the others.
#[no_mangle]
pub unsafe extern "C" fn nnc_subtract_products(
    c: *mut f32,
    a: *const f32,
    b: *const f32,
    m: usize,
    n: usize,
    k: usize,
    scratch: *mut f32,
    scratch_len: usize,
) -> i32 {
    status((|| {
        let mn = m.checked_mul(n).ok_or(BAD_RANGE)?;
        let km = k.checked_mul(m).ok_or(BAD_RANGE)?;
        let kn = k.checked_mul(n).ok_or(BAD_RANGE)?;
        if scratch_len < linalg::GEMM_SCRATCH {
            return Err(BAD_ARGUMENT);
        }
        linalg::subtract_products(
            slice_mut(c, mn)?,
            slice(a, km)?,
            slice(b, kn)?,
            k,
            slice_mut(scratch, scratch_len)?,
        );
        Ok(())
    })())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_reject_bad_pointers_layouts_and_ranges() {
        let data = [1.0f32; 4];
        let dims = [2u32, 2];
        let mut acc = [0.0f64; 2];
        unsafe {
            assert_eq!(
                nnc_block_reduce(data.as_ptr(), dims.as_ptr(), 2, 0, 4, 0, acc.as_mut_ptr()),
                0
            );
            assert_eq!(acc, [2.0, 2.0]);
            assert_eq!(
                nnc_block_reduce(data.as_ptr(), dims.as_ptr(), 1, 0, 4, 0, acc.as_mut_ptr()),
                BAD_LAYOUT
            );
            assert_eq!(
                nnc_block_reduce(data.as_ptr(), dims.as_ptr(), 2, 1, 4, 0, acc.as_mut_ptr()),
                BAD_RANGE
            );
            assert_eq!(
                nnc_block_reduce(data.as_ptr(), dims.as_ptr(), 2, 0, 4, 9, acc.as_mut_ptr()),
                BAD_ARGUMENT
            );
            let odd = (acc.as_mut_ptr() as *mut u8).add(1) as *mut f64;
            assert_eq!(
                nnc_block_reduce(data.as_ptr(), dims.as_ptr(), 2, 0, 4, 0, odd),
                BAD_POINTER
            );
            assert_eq!(
                nnc_key_hist(data.as_ptr(), 4, 3, 0, core::ptr::null_mut()),
                BAD_ARGUMENT
            );
            assert_eq!(nnc_threshold_mask(core::ptr::null(), 0, 0.0, core::ptr::null_mut()), 0);
        }
    }

    #[test]
    fn quantize_export_writes_every_code_kind() {
        let data = [-1.5f32, 0.5, 2.5, 100.0, -100.0];
        let dims = [1u32, 5];
        let (s, z) = ([1.0f32], [0.0f32]);
        let want = [-2, 0, 2, 100, -100];
        unsafe {
            let mut a = [0i8; 5];
            let r = nnc_quantize(
                data.as_ptr(),
                dims.as_ptr(),
                2,
                0,
                5,
                s.as_ptr(),
                z.as_ptr(),
                -128,
                127,
                0,
                a.as_mut_ptr() as *mut u8,
            );
            assert_eq!((r, a.map(|v| v as i32)), (0, want));
            let mut b = [0i32; 5];
            let r = nnc_quantize(
                data.as_ptr(),
                dims.as_ptr(),
                2,
                0,
                5,
                s.as_ptr(),
                z.as_ptr(),
                -128,
                127,
                3,
                b.as_mut_ptr() as *mut u8,
            );
            assert_eq!((r, b), (0, want));
            let mut c = [0i16; 5];
            let r = nnc_quantize(
                data.as_ptr(),
                dims.as_ptr(),
                2,
                0,
                5,
                s.as_ptr(),
                z.as_ptr(),
                -128,
                127,
                2,
                c.as_mut_ptr() as *mut u8,
            );
            assert_eq!((r, c.map(|v| v as i32)), (0, want));
            let mut v = [0f32; 5];
            let r = nnc_dequantize(
                c.as_ptr() as *const u8,
                2,
                dims.as_ptr(),
                2,
                0,
                5,
                s.as_ptr(),
                z.as_ptr(),
                v.as_mut_ptr(),
            );
            assert_eq!((r, v), (0, [-2.0, 0.0, 2.0, 100.0, -100.0]));
        }
    }
}
