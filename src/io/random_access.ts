/**
 * Random-access byte sources: what lazy readers read from. A file opened with `openFile()`
 * (`fs.ts`) is one; `bytesSource()` wraps bytes already in memory.
 *
 * @module
 */

/**
 * Bytes that can be read at any offset, one slice at a time. `read` may return a view that
 * shares memory with the source; callers must not modify it.
 */
export interface RandomAccessSource {
  /** The total number of bytes. */
  readonly size: number;
  /**
   * Reads `length` bytes starting at `offset`. Callers only ask for ranges inside `[0, size]`.
   *
   * @param offset The first byte.
   * @param length The number of bytes.
   * @returns Exactly `length` bytes.
   */
  read(offset: number, length: number): Uint8Array | Promise<Uint8Array>;
}

/**
 * A `RandomAccessSource` over bytes in memory; reads return views without copying.
 *
 * @param bytes The bytes.
 * @returns The source.
 *
 * @example
 * ```ts
 * import { bytesSource } from "./random_access.ts";
 * const s = bytesSource(new Uint8Array([1, 2, 3]));
 * const part = s.read(1, 2) as Uint8Array;
 * if (s.size !== 3 || part[0] !== 2) throw new Error("unexpected");
 * ```
 */
export function bytesSource(bytes: Uint8Array): RandomAccessSource {
  return {
    size: bytes.length,
    read: (offset, length) => bytes.subarray(offset, offset + length),
  };
}
