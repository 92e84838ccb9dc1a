import { test } from "node:test";
import assert from "node:assert/strict";
import { ROOT, run } from "./_npm.ts";

const SCRIPT = `${ROOT}scripts/check_bundle_size.mjs`;

test("the browser bundle of mod.ts and kernels.wasm are within their size budgets", async () => {
  const r = await run("node", [SCRIPT, "--json"], ROOT);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const { ok, sizes, budgets } = JSON.parse(r.stdout);
  assert.equal(ok, true);
  for (const name of Object.keys(budgets)) {
    assert.ok(sizes[name] > 0 && sizes[name] <= budgets[name]);
  }
});

test("a size over its budget fails with a message naming the file, the size and the budget", async () => {
  const r = await run("node", [SCRIPT, "--budget", "wasm/kernels.wasm=1000"], ROOT);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /wasm\/kernels\.wasm .* budget 1000 .*OVER BUDGET/);
  assert.match(
    r.stderr,
    /size budget exceeded: wasm\/kernels\.wasm is \d+ bytes, over its budget of 1000 bytes/,
  );
  const usage = await run("node", [SCRIPT, "--budget", "nothing=5"], ROOT);
  assert.equal(usage.code, 2);
});
