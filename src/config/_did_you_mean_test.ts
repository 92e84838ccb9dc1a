import { test } from "node:test";
import assert from "node:assert/strict";
import { didYouMean, editDistance } from "./_did_you_mean.ts";

test("editDistance() counts insertions, deletions and substitutions", () => {
  assert.equal(editDistance("sparse_ratio", "sparse_ratio"), 0);
  assert.equal(editDistance("sparsity_ratio", "sparse_ratio"), 3);
  assert.equal(editDistance("", "abc"), 3);
});

test("didYouMean() suggests the closest key within reach, case-insensitively", () => {
  const keys = ["sparse_ratio", "max_sparse_ratio", "granularity", "op_names"];
  assert.equal(didYouMean("sparsity_ratio", keys), "sparse_ratio");
  assert.equal(didYouMean("Granularity", keys), "granularity");
  assert.equal(didYouMean("op_name", keys), "op_names");
  assert.equal(didYouMean("foo", keys), undefined);
});
