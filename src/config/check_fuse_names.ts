/**
 * `checkFuseNames`: the config layer's rule for a `fuse_names` value, for code that reads
 * `fuse_names` outside a whole-list validation (`fusionGroups`).
 *
 * @module
 */

import { fuseNames } from "./_checks.ts";
import type { Issue, Path } from "./types.ts";

/**
 * The issues of a `fuse_names` value: a list of lists of at least two module names, no name
 * twice, at the config path given.
 *
 * @param value The value of a sub-config's `fuse_names` (untrusted).
 * @param path Its path, `[i, "fuse_names"]`.
 * @returns The issues (empty when the value is valid).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkFuseNames } from "./check_fuse_names.ts";
 *
 * assert.deepEqual(checkFuseNames([["conv", "bn"]], [0, "fuse_names"]), []);
 * assert.equal(checkFuseNames([null], [0, "fuse_names"])[0].path, "[0].fuse_names[0]");
 * ```
 */
export function checkFuseNames(value: unknown, path: Path): Issue[] {
  const issues: Issue[] = [];
  fuseNames(value, path, { issues });
  return issues;
}
