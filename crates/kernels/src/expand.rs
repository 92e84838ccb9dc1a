//! Block expand: each block's mask byte repeated over its block.

use crate::blocks::RunOp;

/// Writes `block_mask[b]` over every element of block `b`.
pub struct Expand<'a> {
    /// One byte per block.
    pub block_mask: &'a [u8],
    /// The chunk's output, one byte per element.
    pub out: &'a mut [u8],
}

impl RunOp for Expand<'_> {
    fn horizontal(&mut self, block: usize, offset: usize, len: usize) {
        fill(&mut self.out[offset..offset + len], self.block_mask[block]);
    }

    fn vertical(&mut self, block: usize, offset: usize, len: usize) {
        self.out[offset..offset + len].copy_from_slice(&self.block_mask[block..block + len]);
    }
}

/// Sets every byte of `out` to `v`, sixteen at a time on wasm.
fn fill(out: &mut [u8], v: u8) {
    #[cfg(target_arch = "wasm32")]
    let done = {
        use core::arch::wasm32::*;
        let n16 = out.len() & !15;
        let (o, s) = (out.as_mut_ptr(), u8x16_splat(v));
        let mut i = 0;
        while i < n16 {
            // SAFETY: i + 16 <= out.len().
            unsafe { v128_store(o.add(i) as *mut v128, s) };
            i += 16;
        }
        n16
    };
    #[cfg(not(target_arch = "wasm32"))]
    let done = 0;
    for b in &mut out[done..] {
        *b = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::Layout;

    #[test]
    fn expands_rows_columns_and_tiles() {
        let cases: [(&[u32], &[u8], &[u8]); 3] = [
            (&[2, 20], &[1, 0], &[&[1u8; 20][..], &[0u8; 20][..]].concat()),
            (&[1, 2, 3, 1], &[1, 0, 1], &[1, 0, 1, 1, 0, 1]),
            (
                &[2, 2, 2, 2],
                &[1, 0, 0, 1],
                &[1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1],
            ),
        ];
        for (dims, blocks, want) in cases {
            let l = Layout::new(dims).unwrap();
            let mut out = vec![9; want.len()];
            l.walk(
                0,
                l.extent(0),
                &mut Expand {
                    block_mask: blocks,
                    out: &mut out,
                },
            );
            assert_eq!(out, want);
        }
    }
}
