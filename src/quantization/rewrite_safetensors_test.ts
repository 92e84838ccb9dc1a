import { test } from "node:test";
import assert from "node:assert/strict";
import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
import { rewriteSafetensors } from "./rewrite_safetensors.ts";

const file = readSafetensors(writeSafetensors([
  { name: "a", dtype: "F32", shape: [2], data: Float32Array.of(1, 2) },
  { name: "b", dtype: "U8", shape: [1], data: Uint8Array.of(9) },
], { metadata: { origin: "test" } }));

test("rewriteSafetensors() replaces named tensors and keeps the rest and the metadata", () => {
  const out = readSafetensors(
    rewriteSafetensors(file, new Map([["a", new Uint8Array(Float32Array.of(3, 4).buffer)]]), {
      note: "fake-quantized",
    }),
  );
  const a = out.tensors.find((t) => t.name === "a")!;
  assert.deepEqual([...new Float32Array(a.data.slice().buffer)], [3, 4]);
  assert.deepEqual([...out.tensors.find((t) => t.name === "b")!.data], [9]);
  assert.deepEqual({ ...out.metadata }, { origin: "test", note: "fake-quantized" });
});

test("rewriteSafetensors() rejects unknown names and wrong byte lengths", () => {
  assert.throws(
    () => rewriteSafetensors(file, new Map([["c", new Uint8Array(1)]])),
    /"c" names no tensor/,
  );
  assert.throws(
    () => rewriteSafetensors(file, new Map([["a", new Uint8Array(4)]])),
    /must have 8 bytes/,
  );
});
