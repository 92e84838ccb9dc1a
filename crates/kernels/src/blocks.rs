//! Walking a tensor in row-major order, block by block.
//!
//! A layout is a list of canonical dims, each a `(grid, block)` pair: the dim holds
//! `grid * block` elements, and element `i` along it lies in block `i / block`. The TypeScript
//! side merges adjacent dims of the user's shape and kernel into this form, so the last dim is
//! usually a long contiguous run. The walker hands each contiguous run to a [`RunOp`], either as
//! part of one block (`horizontal`) or, when the last dim has a block length of 1, as a run of
//! consecutive blocks, one element each (`vertical`).

/// The largest number of canonical dims a layout may have.
pub const MAX_DIMS: usize = 16;

/// What a block kernel does with one contiguous run of elements.
pub trait RunOp {
    /// Elements `offset .. offset + len` (of the chunk) all lie in block `block`.
    fn horizontal(&mut self, block: usize, offset: usize, len: usize);
    /// Element `offset + j` (of the chunk) lies in block `block + j`, for `j < len`.
    fn vertical(&mut self, block: usize, offset: usize, len: usize);
}

/// A checked canonical layout.
pub struct Layout<'a> {
    dims: &'a [u32],
}

impl<'a> Layout<'a> {
    /// Checks `dims` (pairs of positive `(grid, block)`, at most [`MAX_DIMS`] pairs).
    pub fn new(dims: &'a [u32]) -> Option<Layout<'a>> {
        let ok = !dims.is_empty() && dims.len() % 2 == 0 && dims.len() <= 2 * MAX_DIMS;
        if ok && dims.iter().all(|&d| d > 0) {
            Some(Layout { dims })
        } else {
            None
        }
    }

    fn rank(&self) -> usize {
        self.dims.len() / 2
    }

    fn grid(&self, d: usize) -> usize {
        self.dims[2 * d] as usize
    }

    fn block(&self, d: usize) -> usize {
        self.dims[2 * d + 1] as usize
    }

    /// Elements along dim `d`.
    pub fn extent(&self, d: usize) -> usize {
        self.grid(d) * self.block(d)
    }

    /// Number of blocks.
    pub fn grid_size(&self) -> usize {
        (0..self.rank()).map(|d| self.grid(d)).product()
    }

    /// Elements in one index of dim 0 (the product of the other extents).
    pub fn slice_len(&self) -> usize {
        (1..self.rank()).map(|d| self.extent(d)).product()
    }

    /// Walks the elements of dim-0 indices `first .. first + count`, which the chunk holds
    /// contiguously from offset 0. The caller checks `first + count <= extent(0)`.
    pub fn walk<O: RunOp>(&self, first: usize, count: usize, op: &mut O) {
        let rank = self.rank();
        let last = rank - 1;
        let mut stride = [0usize; MAX_DIMS];
        let mut s = 1;
        for d in (0..rank).rev() {
            stride[d] = s;
            s *= self.grid(d);
        }
        if rank == 1 {
            run(op, self.block(0), 0, first, first + count, 0);
            return;
        }
        let run_len = self.extent(last);
        let mut idx = [0usize; MAX_DIMS];
        let mut offset = 0;
        'slices: for i0 in first..first + count {
            let base0 = i0 / self.block(0) * stride[0];
            loop {
                let mut base = base0;
                for d in 1..last {
                    base += idx[d] / self.block(d) * stride[d];
                }
                run(op, self.block(last), base, 0, run_len, offset);
                offset += run_len;
                let mut d = last;
                loop {
                    if d == 1 {
                        continue 'slices;
                    }
                    d -= 1;
                    idx[d] += 1;
                    if idx[d] < self.extent(d) {
                        break;
                    }
                    idx[d] = 0;
                }
            }
        }
    }
}

/// Hands the positions `p .. q` of the last dim (block length `block`, first block `base`) to
/// `op`, split at block boundaries.
fn run<O: RunOp>(op: &mut O, block: usize, base: usize, p: usize, q: usize, offset: usize) {
    if block == 1 {
        op.vertical(base + p, offset, q - p);
        return;
    }
    let mut pos = p;
    while pos < q {
        let b = pos / block;
        let end = q.min((b + 1) * block);
        op.horizontal(base + b, offset + pos - p, end - pos);
        pos = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the block of every element.
    struct Ids(Vec<usize>);

    impl RunOp for Ids {
        fn horizontal(&mut self, block: usize, offset: usize, len: usize) {
            assert_eq!(offset, self.0.len());
            self.0.extend(core::iter::repeat(block).take(len));
        }
        fn vertical(&mut self, block: usize, offset: usize, len: usize) {
            assert_eq!(offset, self.0.len());
            self.0.extend(block..block + len);
        }
    }

    fn ids(dims: &[u32]) -> Vec<usize> {
        let l = Layout::new(dims).unwrap();
        let mut op = Ids(Vec::new());
        l.walk(0, l.extent(0), &mut op);
        op.0
    }

    #[test]
    fn walks_rows_columns_and_tiles() {
        // [2, 3] by rows: one dim (2 blocks of 3).
        assert_eq!(ids(&[2, 3]), [0, 0, 0, 1, 1, 1]);
        // [2, 3] by columns: (1, 2) then (3, 1).
        assert_eq!(ids(&[1, 2, 3, 1]), [0, 1, 2, 0, 1, 2]);
        // [4, 4] in 2x2 tiles.
        assert_eq!(ids(&[2, 2, 2, 2]), [0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3]);
        // [2, 2, 2] with kernel [1, -1, 1]: (2, 1), (1, 2), (2, 1).
        assert_eq!(ids(&[2, 1, 1, 2, 2, 1]), [0, 1, 0, 1, 2, 3, 2, 3]);
    }

    #[test]
    fn walks_a_chunk_of_dim_zero() {
        let l = Layout::new(&[3, 2]).unwrap();
        let mut op = Ids(Vec::new());
        l.walk(1, 3, &mut op);
        assert_eq!(op.0, [0, 1, 1]);
        let l = Layout::new(&[2, 1, 1, 2, 2, 1]).unwrap();
        let mut op = Ids(Vec::new());
        l.walk(1, 1, &mut op);
        assert_eq!(op.0, [2, 3, 2, 3]);
    }

    #[test]
    fn rejects_malformed_layouts() {
        assert!(Layout::new(&[]).is_none());
        assert!(Layout::new(&[1]).is_none());
        assert!(Layout::new(&[0, 1]).is_none());
        assert!(Layout::new(&[1; 34]).is_none());
    }
}
