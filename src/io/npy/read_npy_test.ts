import { test } from "node:test";
import assert from "node:assert/strict";
import { ModelFormatError } from "../model_format_error.ts";
import { readNpy } from "./read_npy.ts";

function npy(header: string, data: Uint8Array, major = 1): Uint8Array {
  const prefix = major === 1 ? 10 : 12;
  const padded = header.padEnd(Math.ceil((header.length + prefix + 1) / 64) * 64 - prefix - 1) +
    "\n";
  const out = new Uint8Array(prefix + padded.length + data.length);
  out.set([0x93, ...new TextEncoder().encode("NUMPY"), major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, padded.length, true);
  else view.setUint32(8, padded.length, true);
  out.set(new TextEncoder().encode(padded), prefix);
  out.set(data, prefix + padded.length);
  return out;
}

const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

test("readNpy() reads each numeric dtype, float16 and bool with their type, and version 2", () => {
  const f = readNpy(
    npy(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
      bytes(Float32Array.of(1, 2, 3, 4, 5, 6)),
    ),
  );
  assert.deepEqual(f.dims, [2, 3]);
  assert.ok(f.data instanceof Float32Array);
  assert.deepEqual([...f.data], [1, 2, 3, 4, 5, 6]);
  const h = readNpy(
    npy("{'descr': '<f2', 'fortran_order': False, 'shape': (1,), }", bytes(Uint16Array.of(0x3c00))),
  );
  assert.equal(h.type, "float16");
  const b = readNpy(
    npy("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", Uint8Array.of(1, 0)),
  );
  assert.equal(b.type, "bool");
  const i = readNpy(
    npy(
      "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }",
      bytes(Int32Array.of(-1, 0, 7)),
      2,
    ),
  );
  assert.deepEqual([...i.data], [-1, 0, 7]);
});

test("readNpy() refuses big-endian, Fortran order, strings and short data, naming file and offset", () => {
  const bad = (b: Uint8Array, re: RegExp) =>
    assert.throws(
      () => readNpy(b, { file: "x.npy" }),
      (e: Error) => e instanceof ModelFormatError && re.test(e.message) && /x\.npy/.test(e.message),
    );
  bad(Uint8Array.of(1, 2, 3), /must start with/);
  bad(
    npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4)),
    /little-endian/,
  );
  bad(npy("{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(12)), /<U3/);
  bad(
    npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", new Uint8Array(4)),
    /Fortran/,
  );
  bad(
    npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", new Uint8Array(8)),
    /needs 16 bytes/,
  );
  bad(npy("{'descr': '<f4'}", new Uint8Array(4)), /must give descr/);
});
