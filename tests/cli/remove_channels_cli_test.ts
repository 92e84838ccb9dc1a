// `prune --remove-channels` on the PP-OCR classifier: coupled convs get one mask, the emptied
// channels leave the written model (smaller file, fewer conv filters), and `explain` lists the
// groups; the flag is refused where it cannot apply.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { cli, CLS, tempDir } from "./_run.ts";

const CONFIG = '[{"op_types":["Conv2d"],"sparse_ratio":0.25}]';
const filters = (bytes: Uint8Array) => {
  const m = decodeOnnx(bytes);
  const dims = new Map(m.tensors.map((t) => [t.name, t.dims]));
  return m.graph.nodes.filter((n) => n.opType === "Conv")
    .reduce((s, n) => s + dims.get(n.inputs[1])![0], 0);
};

test("prune --remove-channels writes a smaller classifier with fewer filters", async () => {
  const dir = tempDir();
  const out = join(dir, "cls.onnx");
  const r = await cli("prune", CLS, "-c", CONFIG, "-a", "l1", "-o", out, "--remove-channels");
  assert.equal(r.code, 0, r.stderr);
  const written = new Uint8Array(readFileSync(out));
  const original = new Uint8Array(readFileSync(CLS));
  assert.ok(written.length < 0.75 * original.length, `${written.length}`);
  assert.ok(filters(written) < 0.85 * filters(original));
  const plain = join(dir, "masked.onnx");
  assert.equal((await cli("prune", CLS, "-c", CONFIG, "-a", "l1", "-o", plain)).code, 0);
  assert.equal(readFileSync(plain).length, original.length);
});

test("--channel-multiple 1 removes every emptied channel; 8 keeps counts multiples of 8", async () => {
  const dir = tempDir();
  const counts = async (multiple: string) => {
    const out = join(dir, `cls-${multiple}.onnx`);
    const r = await cli(
      "prune",
      CLS,
      "-c",
      CONFIG,
      "-a",
      "l1",
      "-o",
      out,
      "--remove-channels",
      "--channel-multiple",
      multiple,
    );
    assert.equal(r.code, 0, r.stderr);
    const m = decodeOnnx(new Uint8Array(readFileSync(out)));
    const dims = new Map(m.tensors.map((t) => [t.name, t.dims]));
    return m.graph.nodes.filter((n) => n.opType === "Conv").map((n) => dims.get(n.inputs[1])![0]);
  };
  const exact = await counts("1");
  const rounded = await counts("8");
  const original = decodeOnnx(new Uint8Array(readFileSync(CLS)));
  const before = new Map(original.tensors.map((t) => [t.name, t.dims]));
  const was = original.graph.nodes.filter((n) => n.opType === "Conv")
    .map((n) => before.get(n.inputs[1])![0]);
  assert.equal(exact.length, was.length);
  // exact removal leaves some count that is no multiple of 8 where one was
  assert.ok(exact.some((c, i) => was[i] % 8 === 0 && c % 8 !== 0), `${exact}`);
  rounded.forEach((c, i) => {
    if (was[i] % 8 === 0) assert.equal(c % 8, 0, `conv ${i}: ${was[i]} -> ${c}`);
  });
  assert.ok(exact.reduce((a, b) => a + b) < rounded.reduce((a, b) => a + b));
  const bad = await cli(
    "prune",
    CLS,
    "-c",
    CONFIG,
    "-o",
    join(dir, "x.onnx"),
    "--channel-multiple",
    "8",
  );
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--channel-multiple goes with --remove-channels/);
  const zero = await cli(
    "prune",
    CLS,
    "-c",
    CONFIG,
    "-o",
    join(dir, "y.onnx"),
    "--remove-channels",
    "--channel-multiple",
    "0",
  );
  assert.equal(zero.code, 2);
  assert.match(zero.stderr, /--channel-multiple must be a positive integer: current value is 0/);
});

test("explain lists the channel groups; --remove-channels is refused where it cannot apply", async () => {
  const e = await cli("explain", CLS, "-c", CONFIG, "-a", "l1");
  assert.equal(e.code, 0, e.stderr);
  assert.match(e.stdout, /channel groups: \d+ sets of modules with coupled output channels/);
  assert.match(e.stdout, /because Conv node "[^"]+" is depthwise \(group \d+\)/);
  const dir = tempDir();
  const q = await cli(
    "quantize",
    CLS,
    "-c",
    '[{"op_types":["Conv2d"],"quant_dtype":"int8"}]',
    "-o",
    join(dir, "q.onnx"),
    "--remove-channels",
  );
  assert.equal(q.code, 2);
  assert.match(q.stderr, /--remove-channels goes with prune/);
  const s = await cli(
    "prune",
    CLS,
    "-c",
    CONFIG,
    "-o",
    join(dir, "m.safetensors"),
    "--remove-channels",
  );
  assert.equal(s.code, 2);
  assert.match(s.stderr, /--remove-channels writes ONNX models/);
});
