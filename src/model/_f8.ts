/** Lookup tables from 8-bit float codes to their values (OCP FP8 formats). */

function table(expBits: number, manBits: number, finiteOnly: boolean): Float32Array {
  const out = new Float32Array(256);
  const bias = (1 << (expBits - 1)) - 1;
  const expMax = (1 << expBits) - 1;
  for (let code = 0; code < 256; code++) {
    const sign = code & 0x80 ? -1 : 1;
    const e = (code >> manBits) & expMax;
    const m = code & ((1 << manBits) - 1);
    let v: number;
    if (finiteOnly) {
      // E4M3FN: no infinities; only the all-ones pattern is NaN.
      v = e === expMax && m === (1 << manBits) - 1 ? NaN : 0;
    } else {
      v = e === expMax ? (m === 0 ? Infinity : NaN) : 0;
    }
    if (v === 0) {
      v = e === 0 ? m * 2 ** (1 - bias - manBits) : (1 + m / (1 << manBits)) * 2 ** (e - bias);
    }
    out[code] = sign * v;
  }
  return out;
}

let e4m3: Float32Array | undefined;
let e5m2: Float32Array | undefined;

/** Values of the 256 F8_E4M3 (E4M3FN) codes. */
export function f8e4m3Table(): Float32Array {
  return e4m3 ??= table(4, 3, true);
}

/** Values of the 256 F8_E5M2 codes. */
export function f8e5m2Table(): Float32Array {
  return e5m2 ??= table(5, 2, false);
}
