import { test } from "node:test";
import assert from "node:assert/strict";
import { getKernels } from "../kernels/default.ts";
import { referenceKernels } from "../kernels/reference.ts";
import type { IntCodes, QuantParams } from "../kernels/types.ts";
import { dequantizedZeros } from "./dequantized_zeros.ts";
import { fakeQuantize } from "./fake_quantize.ts";

/** The zeros (+0 and -0) among float values. */
const zeros = (values: Float32Array) => values.reduce((n, v) => n + (v === 0 ? 1 : 0), 0);

/** Deterministic values in [-1, 1), with exact zeros, tiny values and (optionally) NaNs. */
function values(n: number, seed: number, nan: boolean): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const u = s / 2 ** 32;
    a[i] = i % 13 === 0 ? 0 : i % 17 === 0 ? (u - 0.5) * 1e-3 : 2 * u - 1;
    if (nan && i % 101 === 0) a[i] = NaN;
  }
  return a;
}

test("dequantizedZeros() counts the zeros fakeQuantize gives, for every block layout and code type", () => {
  const cases: {
    shape: number[];
    kernel: number[];
    qmin: number;
    qmax: number;
    affine: boolean;
    codes: (n: number) => IntCodes;
  }[] = [
    {
      shape: [8, 33],
      kernel: [-1, -1],
      qmin: -128,
      qmax: 127,
      affine: false,
      codes: (n) => new Int8Array(n),
    },
    {
      shape: [8, 33],
      kernel: [1, -1],
      qmin: 0,
      qmax: 255,
      affine: true,
      codes: (n) => new Uint8Array(n),
    },
    {
      shape: [8, 32],
      kernel: [2, -1],
      qmin: -8,
      qmax: 7,
      affine: false,
      codes: (n) => new Int8Array(n),
    },
    {
      shape: [8, 32],
      kernel: [1, 8],
      qmin: 0,
      qmax: 15,
      affine: true,
      codes: (n) => new Uint8Array(n),
    },
    {
      shape: [4, 6, 3, 3],
      kernel: [1, -1, -1, -1],
      qmin: -32768,
      qmax: 32767,
      affine: true,
      codes: (n) => new Int16Array(n),
    },
    {
      shape: [4, 6, 3, 3],
      kernel: [2, 3, -1, -1],
      qmin: -128,
      qmax: 127,
      affine: true,
      codes: (n) => new Int32Array(n),
    },
  ];
  for (const [i, c] of cases.entries()) {
    for (
      const [nan, kernels] of [false, true].flatMap((v) =>
        [[v, getKernels()], [v, referenceKernels]] as const
      )
    ) {
      const n = c.shape.reduce((a, b) => a * b, 1);
      const data = values(n, i + 1, nan);
      const grid = c.shape.map((d, k) => (c.kernel[k] === -1 ? 1 : d / c.kernel[k]));
      const blocks = grid.reduce((a, b) => a * b, 1);
      const scale = new Float32Array(blocks);
      const zeroPoint = new Float32Array(blocks);
      for (let b = 0; b < blocks; b++) {
        // Coarse scales for some blocks (many codes at the zero point), fine for others.
        scale[b] = b % 3 === 0 ? 0.3 : 2 / (c.qmax - c.qmin);
        zeroPoint[b] = c.affine ? Math.round((c.qmin + c.qmax) / 2) + (b % 5) - 2 : 0;
      }
      const params: QuantParams = {
        kernel: c.kernel,
        scale,
        zeroPoint,
        qmin: c.qmin,
        qmax: c.qmax,
      };
      const codes = kernels.quantize(data, c.shape, params, c.codes(n));
      const expected = zeros(fakeQuantize(data, c.shape, params, { kernels }));
      assert.ok(expected > 0, `case ${i} has zeros`);
      assert.equal(
        dequantizedZeros(codes, c.shape, params),
        expected,
        `case ${i}, NaN ${nan}, ${kernels === referenceKernels ? "reference" : "default"} kernels`,
      );
    }
  }
});

test("dequantizedZeros() rejects codes that do not match the shape", () => {
  const params: QuantParams = {
    kernel: [-1],
    scale: new Float32Array([1]),
    zeroPoint: new Float32Array([0]),
    qmin: -128,
    qmax: 127,
  };
  assert.throws(() => dequantizedZeros(new Int8Array(3), [4], params), /must hold 4 codes/);
});
