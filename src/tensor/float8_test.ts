import { test } from "node:test";
import assert from "node:assert/strict";
import { f32ToFloat8, type Float8Format, float8Table } from "./float8.ts";

const FORMATS: Float8Format[] = ["E4M3FN", "E4M3FNUZ", "E5M2", "E5M2FNUZ"];

test("f32ToFloat8() gives back every code from its value, in every format", () => {
  for (const format of FORMATS) {
    const t = float8Table(format);
    for (let code = 0; code < 256; code++) {
      if (Number.isNaN(t[code])) {
        assert.ok(Number.isNaN(t[f32ToFloat8(NaN, format)]), `${format} NaN`);
        continue;
      }
      if (Math.abs(t[code]) === Infinity) continue;
      assert.equal(f32ToFloat8(t[code], format), code, `${format} code ${code}`);
    }
  }
});

test("f32ToFloat8() rounds midpoints to the even code and saturates overflow", () => {
  for (const format of FORMATS) {
    const t = float8Table(format);
    const finite = [...Array(128).keys()].filter((c) => Number.isFinite(t[c]));
    finite.sort((a, b) => t[a] - t[b]);
    for (let i = 0; i + 1 < finite.length; i++) {
      const [a, b] = [finite[i], finite[i + 1]];
      const mid = (t[a] + t[b]) / 2;
      assert.equal(f32ToFloat8(mid, format) & 1, 0, `${format} midpoint of ${a} and ${b}`);
      assert.equal(f32ToFloat8(-mid, format) & 0x7f, f32ToFloat8(mid, format), `${format} sign`);
    }
    const max = finite[finite.length - 1];
    assert.equal(f32ToFloat8(t[max] * 4, format), max, `${format} saturates`);
  }
  assert.equal(f32ToFloat8(Infinity, "E5M2"), 0x7c);
  assert.equal(f32ToFloat8(Infinity, "E4M3FN"), 0x7e);
  assert.equal(f32ToFloat8(-0, "E4M3FNUZ"), 0);
  assert.equal(f32ToFloat8(-0, "E4M3FN"), 0x80);
});
