/**
 * Chunking for the WebAssembly kernels: inputs that do not fit in linear memory at once are
 * processed a range of elements at a time, each range in its own arena scope.
 *
 * @module
 */

import type { Arena } from "./arena.ts";
import type { BlockGrid } from "./validate.ts";

/** Largest byte length of one buffer handed to a kernel (Rust slices stay under 2^31). */
const MAX_BUFFER_BYTES = 2 ** 31 - 2 ** 16;

/**
 * Bytes one chunk's buffers take at most when a granule fits in them (default 8 MiB): the
 * linear memory never shrinks, so a whole-tensor call would keep the largest tensor's copies
 * (in and out) for the rest of the run. Calls of 8 MiB cost nothing measurable over one call.
 */
const CHUNK_BYTES = 8 << 20;

/** What one chunk needs. */
export interface ChunkPlan {
  /** Bytes each element needs across the chunk's buffers (inputs and outputs). */
  readonly bytesPerElement: number;
  /** The largest element size among those buffers (caps one buffer below 2^31 bytes). */
  readonly widestElement: number;
  /** How many separate buffers a chunk allocates (for alignment padding). */
  readonly buffers: number;
  /** Chunk lengths are multiples of this (except the last chunk). */
  readonly granule: number;
  /** The argument being chunked, for error messages. */
  readonly what: string;
}

/**
 * A chunk plan for buffers of the given element sizes.
 *
 * @param what The argument being chunked.
 * @param granule Chunk lengths are multiples of this.
 * @param elementBytes The element size of each buffer a chunk allocates.
 * @returns The plan.
 */
export function chunkPlan(what: string, granule: number, ...elementBytes: number[]): ChunkPlan {
  return {
    bytesPerElement: elementBytes.reduce((a, b) => a + b, 0),
    widestElement: Math.max(...elementBytes),
    buffers: elementBytes.length,
    granule,
    what,
  };
}

/**
 * Calls `fn(start, length)` for consecutive ranges covering `[0, n)`, each as long as the free
 * arena memory allows (a multiple of `plan.granule`), inside its own `arena.scope`.
 *
 * @param arena The arena (its fixed allocations already made).
 * @param n The number of elements.
 * @param plan The chunk's memory needs.
 * @param fn The work for one range.
 * @throws {RangeError} If not even one granule fits in the free memory.
 */
export function forEachChunk(
  arena: Arena,
  n: number,
  plan: ChunkPlan,
  fn: (start: number, length: number) => void,
): void {
  if (n === 0) return;
  const { bytesPerElement, widestElement, buffers, granule, what } = plan;
  let step = Math.min(arena.fit(bytesPerElement, granule, buffers), n);
  const bounded = Math.floor(CHUNK_BYTES / bytesPerElement / granule) * granule;
  if (step > bounded && bounded >= granule) step = bounded;
  const cap = Math.floor(MAX_BUFFER_BYTES / widestElement);
  if (step > cap) step = cap - (cap % granule);
  if (step < Math.min(granule, n)) {
    throw new RangeError(
      `"${what}" (${n} elements) cannot be processed: one chunk of ${granule} elements needs ` +
        `${Math.ceil(granule * bytesPerElement)} bytes but only ${arena.available} bytes of ` +
        `WebAssembly memory are free`,
    );
  }
  for (let start = 0; start < n; start += step) {
    const length = Math.min(step, n - start);
    arena.scope(() => fn(start, length));
  }
}

/** A block grid in the kernels' canonical form (see `crates/kernels/src/blocks.rs`). */
export interface CanonicalLayout {
  /** `(grid, block)` pairs, one per canonical dim. */
  readonly dims: Uint32Array;
  /** Elements per index of the first canonical dim (the chunk granule of block kernels). */
  readonly sliceLength: number;
}

/**
 * Drops dims of size 1 and merges neighbouring dims `(g1, b1), (g2, b2)` into
 * `(g1 * g2, b1 * b2)` whenever `g2 === 1` or `b1 === 1` (the block index is then the same
 * function of the merged coordinate), so the last dim is as long a contiguous run as possible.
 *
 * @param grid A validated block grid.
 * @returns The canonical layout.
 * @throws {RangeError} If the layout has more than 16 canonical dims.
 */
export function canonicalLayout(grid: BlockGrid): CanonicalLayout {
  const pairs: [number, number][] = [];
  for (let d = 0; d < grid.shape.length; d++) {
    const g = grid.grid[d];
    const b = grid.block[d];
    if (g * b === 1) continue;
    const last = pairs[pairs.length - 1];
    if (last !== undefined && (g === 1 || last[1] === 1)) {
      last[0] *= g;
      last[1] *= b;
    } else {
      pairs.push([g, b]);
    }
  }
  if (pairs.length === 0) pairs.push([1, 1]);
  if (pairs.length > 16) {
    throw new RangeError(
      `"kernel" splits shape [${grid.shape.join(", ")}] into ${pairs.length} alternating ` +
        `block dims; the WebAssembly kernels support at most 16`,
    );
  }
  let sliceLength = 1;
  for (let d = 1; d < pairs.length; d++) sliceLength *= pairs[d][0] * pairs[d][1];
  return { dims: Uint32Array.from(pairs.flat()), sliceLength };
}
