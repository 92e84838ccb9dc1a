// Normalising distillation targets (NNI's defaults) and checking student/teacher shapes.

import { DistillationError } from "./distillation_error.ts";
import type { DistillationApplyMethod } from "../config/types.ts";
import type { DistillTarget } from "./types.ts";

/** A target with NNI's defaults applied. */
export interface NormalTarget {
  readonly module: string;
  readonly target: string;
  readonly lambda: number;
  readonly links: readonly string[];
  readonly method: DistillationApplyMethod;
  readonly configIndex?: number;
}

const show = (v: unknown) => (typeof v === "string" ? JSON.stringify(v) : String(v));

/**
 * Applies NNI's defaults (`lambda` 1.0, `link` the module's own name, `apply_method` mse) and
 * checks the values. An integer `lambda` is accepted (DESIGN.md B11).
 */
export function normalTarget(t: DistillTarget): NormalTarget {
  const ctx = { module: t.module, target: t.target, configIndex: t.configIndex };
  const s = t.setting ?? {};
  const lambda = s.lambda ?? 1.0;
  if (typeof lambda !== "number" || !Number.isFinite(lambda) || lambda < 0) {
    throw new DistillationError(
      "lambda",
      `"lambda" must be a finite number >= 0: current value is ${show(lambda)}`,
      ctx,
    );
  }
  const link = s.link ?? "auto";
  const links = link === "auto" ? [t.module] : typeof link === "string" ? [link] : link;
  if (
    !Array.isArray(links) || links.length === 0 || links.some((l) => typeof l !== "string")
  ) {
    throw new DistillationError(
      "link",
      `"link" must be a module name or a non-empty list of names: current value is ${
        JSON.stringify(link)
      }`,
      ctx,
    );
  }
  const method = s.apply_method ?? "mse";
  if (method !== "mse" && method !== "kl") {
    throw new DistillationError(
      "apply_method",
      `"apply_method" must be "mse" or "kl": current value is ${show(method)}`,
      ctx,
    );
  }
  return { ...ctx, lambda, links: links as readonly string[], method };
}

const same = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** Checks that a student state and a linked teacher state can be compared by the target's loss. */
export function checkShapes(
  t: NormalTarget,
  link: string,
  student: readonly number[],
  teacher: readonly number[],
): void {
  const ctx = { module: t.module, target: t.target, configIndex: t.configIndex };
  const pair = `student ${t.module}.${t.target} has shape ${
    JSON.stringify(student)
  }, teacher ${link}.${t.target} has shape ${JSON.stringify(teacher)}`;
  if (t.method === "kl") {
    if (student.length < 1 || student.length !== teacher.length || !same(student, teacher)) {
      throw new DistillationError(
        "kl_shape",
        `"kl" compares logits of the same width (softmax over the last dim): ${pair}`,
        ctx,
      );
    }
  } else if (!same(student, teacher)) {
    throw new DistillationError("shape_mismatch", `"mse" needs equal shapes: ${pair}`, ctx);
  }
}

/** Adaptive1d distillation takes exactly one link per target. */
export function checkOneLink(
  links: readonly string[],
  ctx: { module: string; target: string; configIndex?: number },
): void {
  if (links.length !== 1) {
    throw new DistillationError(
      "link",
      `Adaptive1dLayerwiseDistiller takes one link per target: current value is ${
        JSON.stringify(links)
      }`,
      ctx,
    );
  }
}
