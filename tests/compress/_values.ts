// Deterministic, irregular test weights in [-1, 1): a linear congruential sequence from `seed`.
export function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = (s / 2147483648 - 0.5) * 2;
  }
  return out;
}
