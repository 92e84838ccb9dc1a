import { test } from "node:test";
import assert from "node:assert/strict";
import { referenceKernels } from "../kernels/reference.ts";
import { packRows, unpackRows } from "./_pack_rows.ts";

test("packRows() pads odd rows so each row starts on a byte", () => {
  const codes = Int8Array.of(1, -2, 3, -4, 5, -6);
  const { bytes, shape } = packRows(codes, [2, 3], true, referenceKernels);
  assert.deepEqual(shape, [2, 2]);
  assert.deepEqual([...bytes], [0xe1, 0x03, 0x5c, 0x0a]);
  assert.deepEqual([...unpackRows(bytes, [2, 3], true, referenceKernels)], [...codes]);
});

test("packRows() packs unsigned codes up to 15 and even rows as one stream", () => {
  const codes = Uint8Array.of(15, 0, 8, 7);
  const { bytes } = packRows(codes, [2, 2], false, referenceKernels);
  assert.deepEqual([...bytes], [0x0f, 0x78]);
  assert.deepEqual([...unpackRows(bytes, [2, 2], false, referenceKernels)], [...codes]);
});
