import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "./config_error.ts";

test("ConfigError lists every issue in its message, the list itself as (config list)", () => {
  const error = new ConfigError([
    {
      code: "not_array",
      path: "",
      message: "the config list must be a list of sub-configs: current value is 1",
    },
    { code: "unknown_key", path: "[2].foo", message: 'unknown key "foo"' },
  ]);
  assert.equal(error.name, "ConfigError");
  assert.ok(error instanceof Error);
  assert.equal(
    error.message,
    '2 issues in the config list:\n  (config list): the config list must be a list of sub-configs: current value is 1\n  [2].foo: unknown key "foo"',
  );
  assert.deepEqual(error.codes, ["not_array", "unknown_key"]);
});

test("ConfigError keeps frozen copies of the issues it was given", () => {
  const issues = [{ code: "unknown_key" as const, path: "[0].foo", message: 'unknown key "foo"' }];
  const error = new ConfigError(issues);
  issues[0].path = "changed";
  assert.equal(error.issues[0].path, "[0].foo");
  assert.ok(Object.isFrozen(error.issues[0]));
});
