/** Seeded mutations of valid files, for the fuzz tests. */

/** A small seeded PRNG (mulberry32): uniform floats in [0, 1). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * One mutation of `bytes`: flip bits, overwrite with special bytes, truncate, insert, delete
 * or duplicate a range. `focus` (a byte count) biases edits toward the start of the file,
 * where headers live.
 */
export function mutate(bytes: Uint8Array, rnd: () => number, focus = bytes.length): Uint8Array {
  let cur = bytes.slice();
  const pos = (limit: number) => Math.floor(rnd() * Math.max(0, Math.min(limit, cur.length)));
  const edits = 1 + Math.floor(rnd() * 4);
  for (let e = 0; e < edits; e++) {
    const at = pos(rnd() < 0.7 ? focus : cur.length);
    if (cur.length === 0) break;
    const kind = Math.floor(rnd() * 7);
    if (kind === 0) cur[at] ^= 1 << Math.floor(rnd() * 8);
    else if (kind === 1) {
      cur[at] = [0x00, 0xff, 0x7f, 0x80, 0x22, 0x7b, 0x5d, 0x2c][Math.floor(rnd() * 8)];
    } else if (kind === 2) cur = cur.slice(0, at);
    else if (kind === 3) {
      const ins = new Uint8Array(1 + Math.floor(rnd() * 8)).map(() => Math.floor(rnd() * 256));
      const next = new Uint8Array(cur.length + ins.length);
      next.set(cur.subarray(0, at));
      next.set(ins, at);
      next.set(cur.subarray(at), at + ins.length);
      cur = next;
    } else if (kind === 4) {
      const n = Math.min(cur.length - at, 1 + Math.floor(rnd() * 16));
      const next = new Uint8Array(cur.length - n);
      next.set(cur.subarray(0, at));
      next.set(cur.subarray(at + n), at);
      cur = next;
    } else if (kind === 5) {
      const n = Math.min(cur.length - at, Math.floor(rnd() * 16));
      const next = new Uint8Array(cur.length + n);
      next.set(cur.subarray(0, at + n));
      next.set(cur.subarray(at, at + n), at + n);
      next.set(cur.subarray(at + n), at + 2 * n);
      cur = next;
    } else cur[at] = Math.floor(rnd() * 256);
  }
  return cur;
}
