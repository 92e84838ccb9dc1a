import { test } from "node:test";
import assert from "node:assert/strict";
import { ALIGN, Arena } from "./arena.ts";

const PAGE = 65536;

test("Arena.alloc() returns aligned offsets above the heap base", () => {
  const arena = new Arena(new WebAssembly.Memory({ initial: 1 }), 1001);
  const a = arena.alloc(3, "a");
  const b = arena.alloc(5, "b");
  assert.equal(a % ALIGN, 0);
  assert.ok(a >= 1001);
  assert.equal(b, a + ALIGN);
});

test("Arena.alloc() grows the memory when an allocation passes its end", () => {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const arena = new Arena(memory, 1024);
  const ptr = arena.alloc(3 * PAGE, "data");
  assert.ok(memory.buffer.byteLength >= ptr + 3 * PAGE);
});

test("Arena.scope() releases its allocations when the work returns or throws", () => {
  const arena = new Arena(new WebAssembly.Memory({ initial: 1 }), 1024);
  const top = arena.top;
  arena.scope(() => arena.alloc(100, "x"));
  assert.equal(arena.top, top);
  assert.throws(() =>
    arena.scope(() => {
      arena.alloc(100, "x");
      throw new Error("boom");
    }), /boom/);
  assert.equal(arena.top, top);
});

test("Arena.alloc() throws a RangeError naming the argument past the memory limit", () => {
  const arena = new Arena(new WebAssembly.Memory({ initial: 1 }), 1024, { maxBytes: 4096 });
  assert.throws(() => arena.alloc(10_000, "metric"), (e: unknown) => {
    assert.ok(e instanceof RangeError);
    assert.match(e.message, /"metric" needs 10000 bytes/);
    return true;
  });
});

test("Arena.alloc() throws a RangeError when the memory cannot grow", () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
  const arena = new Arena(memory, 1024);
  assert.throws(() => arena.alloc(2 * PAGE, "data"), RangeError);
});

test("Arena views are re-derived over the grown buffer", () => {
  const arena = new Arena(new WebAssembly.Memory({ initial: 1 }), 1024);
  const ptr = arena.copyIn(new Float32Array([1.5, -2]), "data");
  arena.alloc(4 * PAGE, "more"); // detaches the old buffer
  assert.deepEqual([...arena.view(Float32Array, ptr, 2)], [1.5, -2]);
});

test("Arena.fit() counts the elements that still fit, in whole granules", () => {
  const arena = new Arena(new WebAssembly.Memory({ initial: 1 }), 0, { maxBytes: 1000 });
  assert.equal(arena.fit(10, 1, 0), 100);
  assert.equal(arena.fit(10, 8, 0), 96);
  assert.equal(arena.fit(10, 1, 2), 96);
  assert.equal(arena.fit(2000), 0);
});

test("new Arena() rejects a memory limit below the heap base", () => {
  assert.throws(
    () => new Arena(new WebAssembly.Memory({ initial: 1 }), 1024, { maxBytes: 512 }),
    RangeError,
  );
});
