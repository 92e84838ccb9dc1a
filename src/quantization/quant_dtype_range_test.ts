import { test } from "node:test";
import assert from "node:assert/strict";
import { quantDtypeRange } from "./quant_dtype_range.ts";
import { QuantizationError } from "./quantization_error.ts";

test("quantDtypeRange() uses NNI's narrow signed ranges", () => {
  const ranges = ["int2", "int4", "int8", "int16"].map((d) => {
    const r = quantDtypeRange(d);
    return [r.qmin, r.qmax];
  });
  assert.deepEqual(ranges, [[-1, 1], [-7, 7], [-127, 127], [-32767, 32767]]);
});

test("quantDtypeRange() uses the full range for unsigned types", () => {
  assert.deepEqual([quantDtypeRange("uint2").qmax, quantDtypeRange("uint16").qmax], [3, 65535]);
  assert.equal(quantDtypeRange("uint8").qmin, 0);
  assert.equal(quantDtypeRange("uint8").signed, false);
});

test("quantDtypeRange() treats null and undefined as int8", () => {
  assert.deepEqual(quantDtypeRange(null), quantDtypeRange("int8"));
  assert.equal(quantDtypeRange(undefined).bits, 8);
});

test("quantDtypeRange() rejects int1, widths outside [2, 16] and other names", () => {
  assert.throws(() => quantDtypeRange("int1"), /at least 2 bits.*int1/);
  assert.throws(() => quantDtypeRange("uint1"), /within \[2, 16\]/);
  assert.throws(() => quantDtypeRange("int17"), RangeError);
  assert.throws(() => quantDtypeRange("float8"), /"int<N>" or "uint<N>".*"float8"/);
  assert.throws(() => quantDtypeRange("int"), RangeError);
  assert.throws(
    () => quantDtypeRange(8 as unknown as string),
    (e) =>
      e instanceof QuantizationError && e.code === "quant_dtype" &&
      /string or null/.test(e.message),
  );
});
