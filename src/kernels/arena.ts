/**
 * The one owner of the WebAssembly kernels' linear memory: a bump allocator above the module's
 * `__heap_base`, growing the memory on demand up to a ceiling, with copies in and out and
 * typed-array views that are re-derived on every access (growing the memory detaches the old
 * buffer, so a view is never kept across an allocation or a kernel call).
 *
 * Every kernel call runs inside `arena.scope()`, which releases everything allocated in it in a
 * `finally`, whether the call returns or throws.
 *
 * @module
 */

/** Bytes per WebAssembly page. */
const PAGE = 65536;

/** Alignment of every allocation (one `v128`). */
export const ALIGN = 16;

/**
 * The default ceiling on linear memory: 2 GiB. Pointers and lengths then stay below 2^31, so
 * they pass through the `i32` ABI without sign trouble and every slice the kernels build is
 * within Rust's `isize::MAX` on wasm32. Larger inputs are processed in chunks.
 */
export const DEFAULT_MAX_BYTES = 2 ** 31;

/** Options of an `Arena`. */
export interface ArenaOptions {
  /**
   * The most linear memory the arena may use, in bytes (default `DEFAULT_MAX_BYTES`). Tests
   * set a small value to exercise chunking without allocating gigabytes.
   */
  readonly maxBytes?: number;
}

/** A typed-array constructor that can view a region of an `ArrayBuffer`. */
export type ViewConstructor<T extends ArrayBufferView> = new (
  buffer: ArrayBuffer,
  byteOffset: number,
  length: number,
) => T;

function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

/**
 * A bump allocator over a `WebAssembly.Memory`.
 *
 * @example Copy data in, view it, and release it
 * ```ts
 * import assert from "node:assert/strict";
 * import { Arena } from "./arena.ts";
 *
 * const arena = new Arena(new WebAssembly.Memory({ initial: 1 }), 1024);
 * const sum = arena.scope(() => {
 *   const ptr = arena.copyIn(new Float32Array([1, 2, 3]), "data");
 *   return arena.view(Float32Array, ptr, 3).reduce((a, b) => a + b, 0);
 * });
 * assert.equal(sum, 6);
 * assert.equal(arena.top, 1024);
 * ```
 */
export class Arena {
  /** The memory the arena allocates from. */
  readonly memory: WebAssembly.Memory;
  /** The first byte the arena may use (the module's `__heap_base`, aligned). */
  readonly base: number;
  /** The most linear memory the arena may use, in bytes. */
  readonly maxBytes: number;
  #top: number;

  /**
   * Creates an arena over `memory`, allocating from `heapBase` upwards.
   *
   * @param memory The module's exported memory.
   * @param heapBase The module's `__heap_base` (everything below belongs to the module).
   * @param options The memory ceiling.
   * @throws {RangeError} If `maxBytes` is not an integer in (heapBase, 4 GiB].
   */
  constructor(memory: WebAssembly.Memory, heapBase: number, options: ArenaOptions = {}) {
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    if (!Number.isInteger(maxBytes) || maxBytes <= heapBase || maxBytes > 2 ** 32) {
      throw new RangeError(
        `"maxBytes" must be an integer in (${heapBase}, ${2 ** 32}]: current value is ${maxBytes}`,
      );
    }
    this.memory = memory;
    this.base = alignUp(heapBase);
    this.maxBytes = maxBytes;
    this.#top = this.base;
  }

  /** The first free byte. */
  get top(): number {
    return this.#top;
  }

  /** Bytes that can still be allocated (ignoring alignment padding of later allocations). */
  get available(): number {
    return Math.max(0, this.maxBytes - alignUp(this.#top));
  }

  /**
   * Reserves `bytes` bytes, aligned to `ALIGN`, growing the memory when needed.
   *
   * @param bytes The size of the allocation.
   * @param what The argument the allocation holds, for the error message.
   * @returns The allocation's byte offset in linear memory.
   * @throws {RangeError} If the allocation would pass `maxBytes` or the memory cannot grow.
   */
  alloc(bytes: number, what: string): number {
    const ptr = alignUp(this.#top);
    const end = ptr + Math.max(bytes, 0);
    if (end > this.maxBytes) {
      throw new RangeError(
        `"${what}" needs ${bytes} bytes of WebAssembly memory, but only ${this.available} of the ` +
          `${this.maxBytes}-byte limit are free`,
      );
    }
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      try {
        this.memory.grow(Math.ceil((end - have) / PAGE));
      } catch (cause) {
        throw new RangeError(
          `"${what}" needs ${bytes} bytes of WebAssembly memory, but the memory could not grow ` +
            `from ${have} bytes`,
          { cause },
        );
      }
    }
    this.#top = end;
    return ptr;
  }

  /**
   * Allocates room for `data` and copies its bytes in.
   *
   * @param data The values to copy.
   * @param what The argument `data` is, for the error message.
   * @returns The byte offset of the copy.
   * @throws {RangeError} If it does not fit (see `alloc`).
   */
  copyIn(data: ArrayBufferView, what: string): number {
    const ptr = this.alloc(data.byteLength, what);
    new Uint8Array(this.memory.buffer, ptr, data.byteLength).set(
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    );
    return ptr;
  }

  /**
   * A fresh view of `length` elements at `ptr` over the current buffer. Never keep it across an
   * allocation or a kernel call.
   *
   * @param ctor The typed-array type.
   * @param ptr The byte offset (aligned for the type).
   * @param length The number of elements.
   * @returns The view.
   */
  view<T extends ArrayBufferView>(ctor: ViewConstructor<T>, ptr: number, length: number): T {
    return new ctor(this.memory.buffer as ArrayBuffer, ptr, length);
  }

  /**
   * The largest element count, a multiple of `granule`, whose `bytesPerElement` bytes per
   * element (plus alignment padding for `buffers` separate allocations) still fit.
   *
   * @param bytesPerElement Bytes one element needs across all its buffers.
   * @param granule The count must be a multiple of this (e.g. 2 for packed nibbles).
   * @param buffers How many allocations the count is split over.
   * @returns The element count (0 when not even one granule fits).
   */
  fit(bytesPerElement: number, granule = 1, buffers = 1): number {
    const room = this.available - buffers * ALIGN;
    const n = Math.floor(room / bytesPerElement);
    return Math.max(0, n - (n % granule));
  }

  /**
   * Runs `fn` and then releases everything it allocated, also when it throws.
   *
   * @param fn The work that allocates.
   * @returns What `fn` returns.
   */
  scope<T>(fn: () => T): T {
    const mark = this.#top;
    try {
      return fn();
    } finally {
      this.#top = mark;
    }
  }
}
