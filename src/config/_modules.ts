/**
 * Checking the module list argument (plain data describing the model).
 *
 * @module
 */

import { show } from "./_path.ts";
import type { ModuleInfo } from "./types.ts";

/**
 * Throws a `TypeError` unless `modules` is a list of `{name, type, params?, opType?,
 * quantizedBy?}` with unique names.
 */
export function checkModules(modules: unknown): asserts modules is readonly ModuleInfo[] {
  if (!Array.isArray(modules)) {
    throw new TypeError(
      `"modules" must be a list of {name, type}: current value is ${show(modules)}`,
    );
  }
  const seen = new Set<string>();
  modules.forEach((m: unknown, i) => {
    const where = `"modules[${i}]"`;
    if (m === null || typeof m !== "object") {
      throw new TypeError(`${where} must be an object {name, type}: current value is ${show(m)}`);
    }
    const { name, type, params, opType, quantizedBy } = m as Record<string, unknown>;
    if (typeof name !== "string") {
      throw new TypeError(`${where}.name must be a string: current value is ${show(name)}`);
    }
    if (typeof type !== "string") {
      throw new TypeError(`${where}.type must be a string: current value is ${show(type)}`);
    }
    if (opType !== undefined && typeof opType !== "string") {
      throw new TypeError(`${where}.opType must be a string: current value is ${show(opType)}`);
    }
    if (quantizedBy !== undefined && typeof quantizedBy !== "string") {
      throw new TypeError(
        `${where}.quantizedBy must be a string: current value is ${show(quantizedBy)}`,
      );
    }
    if (params !== undefined) {
      if (params === null || typeof params !== "object") {
        throw new TypeError(
          `${where}.params must be an object of shapes: current value is ${show(params)}`,
        );
      }
      for (const [key, shape] of Object.entries(params)) {
        if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
          throw new TypeError(
            `${where}.params.${key} must be a shape (non-negative integers): current value is ${
              show(shape)
            }`,
          );
        }
      }
    }
    if (seen.has(name)) throw new TypeError(`${where}.name ${JSON.stringify(name)} appears twice`);
    seen.add(name);
  });
}

/** The parameter shape of a module, if known. */
export function paramShape(module: ModuleInfo, target: string): readonly number[] | undefined {
  const params = module.params;
  return params !== undefined && Object.hasOwn(params, target) ? params[target] : undefined;
}
