/**
 * The rule order of the sparsity pipeline, as one step sequence that drivers run.
 *
 * @module
 */

import { alignRule } from "./_align_rule.ts";
import { dependencyRule } from "./_dependency_rule.ts";
import { globalRule } from "./_global_rule.ts";
import type { Pipeline, Rule } from "./_pipeline.ts";
import { ratioRule } from "./_ratio_rule.ts";
import { thresholdRule } from "./_threshold_rule.ts";
import type { PruningTarget } from "./types.ts";

/** NNI's `generate_sparsity`: threshold → dependency → global → ratio → align. */
export function* runRules(p: Pipeline, targets: readonly PruningTarget[]): Rule<void> {
  yield* thresholdRule(p, targets);
  const outsideDependency = yield* dependencyRule(p, targets);
  const outsideGlobal = yield* globalRule(p, outsideDependency);
  const withoutRatio = yield* ratioRule(p, outsideGlobal);
  alignRule(p, withoutRatio);
}
