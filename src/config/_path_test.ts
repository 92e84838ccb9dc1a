import { test } from "node:test";
import assert from "node:assert/strict";
import { formatPath, show } from "./_path.ts";

test("formatPath() prints indices, identifier keys and quoted keys", () => {
  assert.equal(
    formatPath([2, "target_settings", "weight", "sparse_ratio"]),
    "[2].target_settings.weight.sparse_ratio",
  );
  assert.equal(formatPath([0, "op_names", 3]), "[0].op_names[3]");
  assert.equal(formatPath([1, "target_settings", "layer.0"]), '[1].target_settings["layer.0"]');
  assert.equal(formatPath([]), "");
});

test("show() prints values briefly for messages", () => {
  assert.equal(show("a"), '"a"');
  assert.equal(show([1, 2]), "[1,2]");
  assert.equal(show(undefined), "undefined");
  assert.equal(show("x".repeat(100)).length, 60);
});
