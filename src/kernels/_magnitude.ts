/**
 * The passes of an exact `|w|` selection on stored float bits, in plain TypeScript (the
 * reference kernels' `magnitudeHighHistogram`, `magnitudeLowHistogram` and `magnitudeCut`; the
 * WebAssembly ones in `crates/kernels/src/magnitude.rs` match them bit for bit). With the sign
 * bit cleared, the bits of a finite float are an integer key in `|w|` order. Arguments are
 * checked by the callers (`validate.ts`).
 *
 * @module
 */

// One function per width with its constants written out: V8 keeps them in 32-bit integer
// arithmetic (constants above 2^30 read from a variable made it use doubles, 7x slower).

/** Adds the high 16 bits of each float32 key to `hist`; false when a value is not finite. */
export function highHistogram32(words: Int32Array, hist: Uint32Array): boolean {
  let bad = 0;
  for (let i = 0; i < words.length; i++) {
    const m = words[i] & 0x7fffffff;
    bad |= 0x7f7fffff - m;
    hist[m >>> 16]++;
  }
  return bad >= 0;
}

/** Adds each 15-bit key to `hist`; false when a value is not finite (`infinity`'s key). */
export function highHistogram16(words: Uint16Array, infinity: number, hist: Uint32Array): boolean {
  const limit = infinity - 1;
  let bad = 0;
  for (let i = 0; i < words.length; i++) {
    const m = words[i] & 0x7fff;
    bad |= limit - m;
    hist[m]++;
  }
  return bad >= 0;
}

/** Adds the low 16 bits of the float32 keys whose high bits are `high` to `hist`. */
export function lowHistogram32(words: Int32Array, high: number, hist: Uint32Array): void {
  for (let i = 0; i < words.length; i++) {
    const m = words[i] & 0x7fffffff;
    if (m >>> 16 === high) hist[m & 0xffff]++;
  }
}

/**
 * Counts the float32 keys below `lo` into `counts[0]` and those in `[lo, hi]` into `counts[1]`,
 * listing the latter at `keys[counts[1]]` while there is room; false when a value is not finite.
 */
export function band32(
  words: Int32Array,
  lo: number,
  hi: number,
  keys: Int32Array,
  counts: Float64Array,
): boolean {
  let bad = 0;
  let below = 0;
  let listed = counts[1];
  const cap = keys.length;
  for (let i = 0; i < words.length; i++) {
    const m = words[i] & 0x7fffffff;
    bad |= 0x7f7fffff - m;
    if (m < lo) below++;
    else if (m <= hi) {
      if (listed < cap) keys[listed] = m;
      listed++;
    }
  }
  counts[0] += below;
  counts[1] = listed;
  return bad >= 0;
}

/** `band32` for 16-bit words (`infinity`: the type's infinity bits). */
export function band16(
  words: Uint16Array,
  infinity: number,
  lo: number,
  hi: number,
  keys: Int32Array,
  counts: Float64Array,
): boolean {
  const limit = infinity - 1;
  let bad = 0;
  let below = 0;
  let listed = counts[1];
  const cap = keys.length;
  for (let i = 0; i < words.length; i++) {
    const m = words[i] & 0x7fff;
    bad |= limit - m;
    if (m < lo) below++;
    else if (m <= hi) {
      if (listed < cap) keys[listed] = m;
      listed++;
    }
  }
  counts[0] += below;
  counts[1] = listed;
  return bad >= 0;
}

/**
 * The mask of float32 values as bits: a key above `cut` is kept, and one equal to it once
 * `state[0]` equal keys (counting down) have been pruned. With `apply`, a pruned value keeps
 * only its sign bit, and the zeros before and after are added to `state[1]` and `state[2]`.
 */
export function cut32(
  words: Int32Array,
  cut: number,
  apply: boolean,
  state: Uint32Array,
  bits: Uint8Array,
): void {
  const n = words.length;
  const whole = n >>> 3;
  let ties = state[0];
  let zerosBefore = 0;
  let zerosAfter = 0;
  for (let j = 0; j < whole; j++) {
    const i = j << 3;
    // Without branches (the keys are in random order): keep above the cut; note the ties.
    let b = 0;
    let tie = 0;
    for (let q = 0; q < 8; q++) {
      const m = words[i + q] & 0x7fffffff;
      b |= ((cut - m) >>> 31) << q;
      tie |= ((m ^ cut) - 1) >>> 31;
    }
    if (tie !== 0) {
      for (let q = 0; q < 8; q++) {
        if ((words[i + q] & 0x7fffffff) !== cut) continue;
        if (ties > 0) ties--;
        else b |= 1 << q;
      }
    }
    bits[j] = b;
    if (!apply) continue;
    for (let q = 0; q < 8; q++) {
      const x = words[i + q];
      const zero = ((x & 0x7fffffff) - 1) >>> 31;
      const kept = (b >> q) & 1;
      zerosBefore += zero;
      zerosAfter += zero | (kept ^ 1);
      words[i + q] = x & (-kept | -0x80000000);
    }
  }
  if (whole * 8 < n) bits[whole] = 0;
  for (let i = whole << 3; i < n; i++) {
    const x = words[i];
    const m = x & 0x7fffffff;
    let kept = 0;
    if (m > cut) kept = 1;
    else if (m === cut) {
      if (ties > 0) ties--;
      else kept = 1;
    }
    bits[i >> 3] |= kept << (i & 7);
    if (!apply) continue;
    const zero = m === 0 ? 1 : 0;
    zerosBefore += zero;
    zerosAfter += zero | (kept ^ 1);
    words[i] = x & (-kept | -0x80000000);
  }
  state[0] = ties;
  state[1] += zerosBefore;
  state[2] += zerosAfter;
}

/** `cut32` for 16-bit values. */
export function cut16(
  words: Uint16Array,
  cut: number,
  apply: boolean,
  state: Uint32Array,
  bits: Uint8Array,
): void {
  const n = words.length;
  const whole = n >>> 3;
  let ties = state[0];
  let zerosBefore = 0;
  let zerosAfter = 0;
  for (let j = 0; j < whole; j++) {
    const i = j << 3;
    let b = 0;
    let tie = 0;
    for (let q = 0; q < 8; q++) {
      const m = words[i + q] & 0x7fff;
      b |= ((cut - m) >>> 31) << q;
      tie |= ((m ^ cut) - 1) >>> 31;
    }
    if (tie !== 0) {
      for (let q = 0; q < 8; q++) {
        if ((words[i + q] & 0x7fff) !== cut) continue;
        if (ties > 0) ties--;
        else b |= 1 << q;
      }
    }
    bits[j] = b;
    if (!apply) continue;
    for (let q = 0; q < 8; q++) {
      const x = words[i + q];
      const zero = ((x & 0x7fff) - 1) >>> 31;
      const kept = (b >> q) & 1;
      zerosBefore += zero;
      zerosAfter += zero | (kept ^ 1);
      words[i + q] = x & (-kept | 0x8000);
    }
  }
  if (whole * 8 < n) bits[whole] = 0;
  for (let i = whole << 3; i < n; i++) {
    const x = words[i];
    const m = x & 0x7fff;
    let kept = 0;
    if (m > cut) kept = 1;
    else if (m === cut) {
      if (ties > 0) ties--;
      else kept = 1;
    }
    bits[i >> 3] |= kept << (i & 7);
    if (!apply) continue;
    const zero = m === 0 ? 1 : 0;
    zerosBefore += zero;
    zerosAfter += zero | (kept ^ 1);
    words[i] = x & (-kept | 0x8000);
  }
  state[0] = ties;
  state[1] += zerosBefore;
  state[2] += zerosAfter;
}

/**
 * The float32 keys whose high 16 bits are `high`: their low bits counted into `hist`, and the
 * first `positions.length` of them listed (index and low bits). Returns how many there are in
 * all, or -1 when a value is not finite.
 */
export function binEntries32(
  words: Int32Array,
  high: number,
  hist: Uint32Array,
  positions: Uint32Array,
  lows: Uint16Array,
): number {
  const cap = Math.min(positions.length, lows.length);
  let count = 0;
  let bad = 0;
  for (let i = 0; i < words.length; i++) {
    const m = words[i] & 0x7fffffff;
    bad |= 0x7f7fffff - m;
    if (m >>> 16 !== high) continue;
    hist[m & 0xffff]++;
    if (count < cap) {
      positions[count] = i;
      lows[count] = m & 0xffff;
    }
    count++;
  }
  return bad < 0 ? -1 : count;
}

/**
 * Masks whole groups of eight values by `bits` (1 keeps; a pruned value keeps only its sign
 * bit) while every value of a group is finite (`infinity`: a 16-bit type's infinity bits),
 * adding the zeros before and after to `zeros`. Returns how many values were masked: a multiple
 * of 8, short of the first group holding a NaN or an infinity, and of the last `length % 8`.
 */
export function applyBits(
  words: Int32Array | Uint16Array,
  bits: Uint8Array,
  infinity: number,
  zeros: Uint32Array,
): number {
  const groups = Math.min(words.length >>> 3, bits.length);
  const wide = words instanceof Int32Array;
  const abs = wide ? 0x7fffffff : 0x7fff;
  const limit = wide ? 0x7f7fffff : infinity - 1;
  const sign = wide ? -0x80000000 : 0x8000;
  let zerosBefore = 0;
  let zerosAfter = 0;
  let g = 0;
  for (; g < groups; g++) {
    const i = g << 3;
    let bad = 0;
    for (let q = 0; q < 8; q++) bad |= limit - (words[i + q] & abs);
    if (bad < 0) break;
    const b = bits[g];
    for (let q = 0; q < 8; q++) {
      const x = words[i + q];
      const zero = ((x & abs) - 1) >>> 31;
      const kept = (b >> q) & 1;
      zerosBefore += zero;
      zerosAfter += zero | (kept ^ 1);
      words[i + q] = x & (-kept | sign);
    }
  }
  zeros[0] += zerosBefore;
  zeros[1] += zerosAfter;
  return g << 3;
}
