// What a worker's task hands back crosses to the pool's thread transferred, not cloned: every
// array of TRANSFERRED_BITS bytes or more in a result has its buffer in the transfer list (Deno
// clones at about 150 MB/s, on the thread that hands out the jobs). The masks sent to a worker
// come back with its result, for the next mask.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runTask, type TaskRequest, TRANSFERRED_BITS } from "../../src/compress/_tensor_tasks.ts";
import { blockLayout } from "../../src/pruning/block_layout.ts";
import { packBits } from "../../src/pruning/_mask_bits.ts";
import type { PruningTarget } from "../../src/pruning/types.ts";
import { values } from "./_values.ts";

const ROWS = 1024;
const COLS = 1024;
const N = ROWS * COLS;

const target: PruningTarget = {
  module: "fc",
  target: "weight",
  kind: "parameter",
  shape: [ROWS, COLS],
  setting: { sparse_ratio: 0.5 },
};

function tensor(): {
  name: string;
  dtype: "F32";
  shape: number[];
  fileShape: number[];
  bytes: Uint8Array;
} {
  const v = values(N, 3);
  return {
    name: "fc.weight",
    dtype: "F32",
    shape: [ROWS, COLS],
    fileShape: [ROWS, COLS],
    bytes: new Uint8Array(v.buffer),
  };
}

/** The typed arrays of `TRANSFERRED_BITS` bytes or more in a result, by their path. */
function largeArrays(value: unknown, path = "result"): [string, ArrayBufferView][] {
  if (ArrayBuffer.isView(value)) return value.byteLength >= TRANSFERRED_BITS ? [[path, value]] : [];
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([k, v]) => largeArrays(v, `${path}.${k}`));
}

function assertTransferred(out: { result: unknown; transfer: ArrayBuffer[] }): void {
  const large = largeArrays(out.result);
  assert.ok(large.length > 0, "the result carries a large array");
  for (const [path, array] of large) {
    assert.ok(out.transfer.includes(array.buffer as ArrayBuffer), `${path} is transferred`);
  }
  assert.equal(new Set(out.transfer).size, out.transfer.length, "no buffer listed twice");
}

function withOutput<T>(fn: (path: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "nnc-transfer-"));
  const path = join(dir, "out.bin");
  writeFileSync(path, new Uint8Array(N * 4 + 16));
  return fn(path).finally(() => rmSync(dir, { recursive: true, force: true }));
}

const place = (path: string) => ({
  file: { path, destination: path, label: "output file" },
  offset: 16,
});

test("a worker's selection of a Level prune hands back its mask's bits transferred", async () => {
  const k = N / 2;
  // Selected only, and selected and masked (the bytes come back too).
  for (const fuse of [false, true]) {
    const request: TaskRequest = {
      task: "metric",
      args: { tensor: tensor(), target, pruner: "level", k, ...(fuse ? { fuse } : {}) },
    };
    const out = await runTask(request);
    assert.equal((out.result as { bits: Uint8Array }).bits.length, N / 8);
    assertTransferred(out);
  }
  // Masked and written by the worker itself: the bytes stay, the bits cross.
  await withOutput(async (path) => {
    const request: TaskRequest = {
      task: "metric",
      args: { tensor: tensor(), target, pruner: "level", k, fuse: true, writeTo: place(path) },
    };
    const out = await runTask(request);
    const r = out.result as { bits: Uint8Array; wrote: number; masked: { bytes?: Uint8Array } };
    assert.equal(r.wrote, N * 4);
    assert.equal(r.masked.bytes, undefined);
    assertTransferred(out);
    // The file holds the masked values: half of them zero.
    const written = new Float32Array(readFileSync(path).buffer.slice(16));
    assert.equal(written.filter((x) => x === 0).length, k);
  });
});

test("a worker hands back the buffer a mask came in, with the masked tensor or without it", async () => {
  const layout = blockLayout(null, [ROWS, COLS]);
  const blocks = new Uint8Array(N);
  for (let i = 0; i < N; i += 3) blocks[i] = 1;
  const masks = {
    bits: {
      module: "fc",
      target: "weight",
      layout,
      rawShape: [ROWS, COLS],
      bits: packBits(blocks),
    },
    blocks: { module: "fc", target: "weight", layout, rawShape: [ROWS, COLS], blocks },
  };
  for (const [kind, mask] of Object.entries(masks)) {
    const array = "bits" in mask ? mask.bits : mask.blocks;
    const sent = array.buffer as ArrayBuffer;
    const out = await runTask({ task: "mask", args: { tensor: tensor(), target, mask } });
    const r = out.result as { bytes: Uint8Array; bitsBack?: ArrayBuffer };
    assert.equal(r.bitsBack, sent, `${kind}: the mask's buffer comes back`);
    assert.ok(out.transfer.includes(sent), `${kind}: transferred`);
    assertTransferred(out);
    const masked = new Float32Array(r.bytes.buffer, r.bytes.byteOffset, N);
    assert.equal(masked.filter((x) => x !== 0).length, Math.ceil(N / 3), kind);
    await withOutput(async (path) => {
      const copy = "bits" in mask ? { ...mask, bits: mask.bits.slice() } : {
        ...mask,
        blocks: mask.blocks.slice(),
      };
      const back = ("bits" in copy ? copy.bits : copy.blocks).buffer as ArrayBuffer;
      const written = await runTask({
        task: "mask",
        args: { tensor: tensor(), target, mask: copy, writeTo: place(path) },
      });
      const w = written.result as { bytes?: Uint8Array; wrote: number; bitsBack?: ArrayBuffer };
      assert.equal(w.bytes, undefined);
      assert.equal(w.wrote, N * 4);
      assert.equal(w.bitsBack, back, `${kind}, written by the worker: the buffer comes back`);
      assert.ok(written.transfer.includes(back));
    });
  }
});

test("a small mask is not handed back (it was cloned)", async () => {
  const rows = 16;
  const small: PruningTarget = { ...target, shape: [rows, COLS] };
  const layout = blockLayout(null, [rows, COLS]);
  const bits = packBits(new Uint8Array(rows * COLS).fill(1));
  assert.ok(bits.byteLength < TRANSFERRED_BITS);
  const v = values(rows * COLS, 5);
  const out = await runTask({
    task: "mask",
    args: {
      tensor: {
        name: "fc.weight",
        dtype: "F32",
        shape: [rows, COLS],
        fileShape: [rows, COLS],
        bytes: new Uint8Array(v.buffer),
      },
      target: small,
      mask: { module: "fc", target: "weight", layout, rawShape: [rows, COLS], bits },
    },
  });
  assert.equal((out.result as { bitsBack?: ArrayBuffer }).bitsBack, undefined);
});
