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

/** Values of the codes of a FNUZ format: bias 2^(e-1), no infinities, 0x80 is the only NaN. */
function fnuzTable(expBits: number, manBits: number): Float32Array {
  const out = new Float32Array(256);
  const bias = 1 << (expBits - 1);
  for (let code = 0; code < 256; code++) {
    const e = (code >> manBits) & ((1 << expBits) - 1);
    const m = code & ((1 << manBits) - 1);
    const v = e === 0 ? m * 2 ** (1 - bias - manBits) : (1 + m / (1 << manBits)) * 2 ** (e - bias);
    out[code] = code === 0x80 ? NaN : code & 0x80 ? -v : v;
  }
  return out;
}

let e4m3fnuz: Float32Array | undefined;
let e5m2fnuz: Float32Array | undefined;

/** Values of the 256 FLOAT8E4M3FNUZ codes. */
export function f8e4m3fnuzTable(): Float32Array {
  return e4m3fnuz ??= fnuzTable(4, 3);
}

/** Values of the 256 FLOAT8E5M2FNUZ codes. */
export function f8e5m2fnuzTable(): Float32Array {
  return e5m2fnuz ??= fnuzTable(5, 2);
}

/** Values of the 16 FLOAT4E2M1 codes (sign, 2 exponent bits with bias 1, 1 mantissa bit). */
export const F4E2M1 = Float32Array.from(
  [0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6],
);

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
