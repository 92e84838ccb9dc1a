/**
 * The conformance suite of the `Kernels` interface, run once per implementation: the
 * reference (`reference_conformance_test.ts`) and the WebAssembly build
 * (`wasm_conformance_test.ts`).
 *
 * It registers one flat `test()` per case, named `"<name>: <sentence>"`. Property cases use
 * fast-check with a fixed seed per property (a hash of its sentence), so every run checks the
 * same inputs; a failure prints the seed and the shrunk counterexample.
 *
 * @module
 */

import { test } from "node:test";
import type { Kernels } from "../../src/kernels/types.ts";
import { EXAMPLES } from "./_examples.ts";
import { LINALG_CASES } from "./_linalg_cases.ts";
import { MAGNITUDE_CASES } from "./_magnitude_cases.ts";
import { PROPERTIES } from "./_properties.ts";

/** Cases to skip, with the reason (required). */
export interface ConformanceSkip {
  /** Why these cases do not apply (shown as the skip reason). */
  readonly reason: string;
  /** The sentences of the skipped cases, without the implementation-name prefix. */
  readonly tests: readonly string[];
}

/** Options of `runConformanceSuite`. */
export interface ConformanceOptions {
  /** The implementation's name, the prefix of every test name. */
  readonly name: string;
  /** Creates the implementation (called once, lazily, inside the first test). */
  readonly create: () => Kernels;
  /** Cases to skip; each group carries a reason. Unknown sentences are an error. */
  readonly skip?: readonly ConformanceSkip[];
}

/** The sentences of every case, in registration order. */
export const CONFORMANCE_CASES: readonly string[] = [
  ...EXAMPLES,
  ...PROPERTIES,
  ...LINALG_CASES,
  ...MAGNITUDE_CASES,
]
  .map((c) => c.sentence);

/**
 * Registers the conformance cases for one implementation as flat `node:test` tests.
 *
 * @param options The implementation's name, factory and skips.
 * @throws {TypeError} If a skip group has no reason or names a case that does not exist.
 *
 * @example Run the suite on the reference kernels
 * ```ts ignore
 * import { referenceKernels } from "../../src/kernels/reference.ts";
 * import { runConformanceSuite } from "./conformance_suite.ts";
 *
 * runConformanceSuite({ name: "reference", create: () => referenceKernels });
 * ```
 */
export function runConformanceSuite(options: ConformanceOptions): void {
  const skipped = new Map<string, string>();
  for (const { reason, tests } of options.skip ?? []) {
    if (typeof reason !== "string" || reason.trim() === "") {
      throw new TypeError(`a skip must carry a reason: current value is ${JSON.stringify(reason)}`);
    }
    for (const sentence of tests) {
      if (!CONFORMANCE_CASES.includes(sentence)) {
        throw new TypeError(`"skip" names no conformance case: ${JSON.stringify(sentence)}`);
      }
      skipped.set(sentence, reason);
    }
  }
  let kernels: Kernels | undefined;
  const get = () => (kernels ??= options.create());
  for (
    const { sentence, run } of [...EXAMPLES, ...PROPERTIES, ...LINALG_CASES, ...MAGNITUDE_CASES]
  ) {
    const name = `${options.name}: ${sentence}`;
    const reason = skipped.get(sentence);
    if (reason !== undefined) test(name, { skip: reason }, () => {});
    else test(name, () => run(get()));
  }
}
