//! Argument handling shared by the exports of `lib.rs`: status codes, checked slices from raw
//! pointers, block layouts and chunks, quantization parameters, and the code-type dispatch.

use crate::blocks::Layout;
use crate::quant::{Code, Dequantize, Params, PerBlock, Quantize};

/// A pointer is null or misaligned for its element type.
pub const BAD_POINTER: i32 = 1;
/// A block layout is malformed.
pub const BAD_LAYOUT: i32 = 2;
/// An op code, level or code kind is unknown.
pub const BAD_ARGUMENT: i32 = 3;
/// A chunk reaches past the end of its layout.
pub const BAD_RANGE: i32 = 4;

/// `n` elements at `p`, or [`BAD_POINTER`] if `p` is null or misaligned (an empty slice needs
/// neither).
///
/// # Safety
/// A non-null `p` must point at `n` readable elements that live for `'a`.
pub unsafe fn slice<'a, T>(p: *const T, n: usize) -> Result<&'a [T], i32> {
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() || (p as usize) % core::mem::align_of::<T>() != 0 {
        return Err(BAD_POINTER);
    }
    Ok(core::slice::from_raw_parts(p, n))
}

/// The mutable twin of [`slice`].
///
/// # Safety
/// A non-null `p` must point at `n` writable elements, not aliased elsewhere, living for `'a`.
pub unsafe fn slice_mut<'a, T>(p: *mut T, n: usize) -> Result<&'a mut [T], i32> {
    if n == 0 {
        return Ok(&mut []);
    }
    if p.is_null() || (p as usize) % core::mem::align_of::<T>() != 0 {
        return Err(BAD_POINTER);
    }
    Ok(core::slice::from_raw_parts_mut(p, n))
}

/// The `i32` status of a result: 0, or its error code.
pub fn status(r: Result<(), i32>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => e,
    }
}

/// Checks a layout and a chunk `first .. first + count` of dim 0; returns the layout and the
/// chunk's element count.
///
/// # Safety
/// A non-null `dims` must point at `dims_len` readable `u32`s.
pub unsafe fn chunk<'a>(
    dims: *const u32,
    dims_len: usize,
    first: usize,
    count: usize,
) -> Result<(Layout<'a>, usize), i32> {
    let layout = Layout::new(slice(dims, dims_len)?).ok_or(BAD_LAYOUT)?;
    if first.checked_add(count).map_or(true, |end| end > layout.extent(0)) {
        return Err(BAD_RANGE);
    }
    let n = count.checked_mul(layout.slice_len()).ok_or(BAD_RANGE)?;
    Ok((layout, n))
}

/// Reads the block parameters of a layout.
///
/// # Safety
/// `scale` and `zp` must point at one readable `f32` per block of `layout`.
pub unsafe fn params<'a>(
    layout: &Layout,
    scale: *const f32,
    zp: *const f32,
    qmin: i32,
    qmax: i32,
) -> Result<Params<'a>, i32> {
    let g = layout.grid_size();
    Ok(Params {
        scale: slice(scale, g)?,
        zero_point: slice(zp, g)?,
        qmin,
        qmax,
    })
}

/// Quantizes a chunk into codes of type `C` at `out` (one per element of `data`).
///
/// # Safety
/// A non-null `out` must point at `data.len()` writable codes.
pub unsafe fn quantize_as<C: Code>(
    data: &[f32],
    out: *mut C,
    layout: &Layout,
    p: Params,
    first: usize,
    count: usize,
) -> Result<(), i32> {
    let kernel = Quantize {
        params: p,
        data,
        out: slice_mut(out, data.len())?,
    };
    layout.walk(first, count, &mut PerBlock { kernel, params: p });
    Ok(())
}

/// Dequantizes a chunk of codes of type `C` at `codes` (one per element of `out`).
///
/// # Safety
/// A non-null `codes` must point at `out.len()` readable codes.
pub unsafe fn dequantize_as<C: Code>(
    codes: *const C,
    out: &mut [f32],
    layout: &Layout,
    p: Params,
    first: usize,
    count: usize,
) -> Result<(), i32> {
    let kernel = Dequantize {
        codes: slice(codes, out.len())?,
        out,
    };
    layout.walk(first, count, &mut PerBlock { kernel, params: p });
    Ok(())
}
