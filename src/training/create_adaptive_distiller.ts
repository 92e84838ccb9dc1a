/**
 * `createAdaptiveDistiller`: NNI's `Adaptive1dLayerwiseDistiller` — distillation between
 * states of different widths through trainable linear maps — as a training part.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { resolveTargetSettings } from "../config/resolve_target_settings.ts";
import type { ExtraRegistry } from "../config/types.ts";
import { checkOneLink, checkShapes } from "../distillation/_targets.ts";
import {
  adaptiveDistillLossTf,
  type LastDimMap,
} from "../distillation/adaptive_distill_loss_tf.ts";
import { distillerPart } from "./_distiller_part.ts";
import type { Distiller } from "./create_distiller.ts";
import type { TfModelView } from "./types.ts";

/** Options of `createAdaptiveDistiller`. */
export interface AdaptiveDistillerOptions {
  /** Extra default-target registries. */
  readonly registry?: ExtraRegistry;
  /** The seed of the maps' initial values (default 1). */
  readonly seed?: number;
}

/** A linear map's values in PyTorch layout. */
export interface LinearMapValues {
  /** `[out, in]` = `[teacher width, student width]`, row-major. */
  readonly weight: Float32Array;
  /** `[out]`. */
  readonly bias: Float32Array;
  /** `[out, in]`. */
  readonly shape: readonly [number, number];
}

/** An adaptive distiller: a distiller with trainable maps. */
export interface AdaptiveDistiller extends Distiller {
  /** The maps' variables (trained by `trainStep` with the student). */
  variables(): readonly tf.Variable[];
  /** The maps' current values by student module, then target (PyTorch layout). */
  maps(): Record<string, Record<string, LinearMapValues>>;
  /** Releases the maps' variables. */
  dispose(): void;
}

/**
 * Distils a teacher into a student whose states may be narrower or wider, like NNI's
 * `Adaptive1dLayerwiseDistiller`: each target has one `link`; when the last dims of the student
 * state and the linked teacher state differ, a trainable linear map (PyTorch's
 * `nn.Linear(student width, teacher width)`, initialised like it: uniform in ±1/√(student
 * width)) maps the student state first; the loss is `lambda * L(map(s), t)` summed over targets
 * (`mse` or `kl`). The maps are variables of the part: `trainStep` differentiates and updates
 * them with the student's own, with the same optimizer. Widths come from the layers' static
 * shapes, so the maps exist before the first step (NNI needs a tracing forward pass for this).
 *
 * @param student the student view from `describeTfModel`
 * @param teacher the teacher view
 * @param configList a distillation config list (one link per target)
 * @param options extra registries, the seed of the maps
 * @returns the distiller, a training part for `trainStep`
 * @throws {ConfigError} for an invalid config list
 * @throws {DistillationError} for several links, a missing teacher module, or states whose
 *   other dims differ — naming the target and config path
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { createAdaptiveDistiller, describeTfModel } from "./mod.ts";
 *
 * const net = (units: number) => tfl.sequential({ layers: [tfl.layers.dense({ units, inputShape: [4], name: "h" })] });
 * const d = createAdaptiveDistiller(describeTfModel(net(3)), describeTfModel(net(8)), [{ op_names: ["h"] }]);
 * assert.deepEqual(d.maps().h._output_0.shape, [8, 3]);
 * assert.equal(d.variables().length, 2);
 * d.dispose();
 * ```
 */
export function createAdaptiveDistiller(
  student: TfModelView,
  teacher: TfModelView,
  configList: unknown,
  options: AdaptiveDistillerOptions = {},
): AdaptiveDistiller {
  const { targets } = resolveTargetSettings(student.modules, configList, "distillation", {
    algorithm: "Adaptive1dLayerwiseDistiller",
    registry: options.registry,
  });
  let seed = options.seed ?? 1;
  const maps: Record<
    string,
    Record<string, LastDimMap & { kernel: tf.Variable; bias: tf.Variable }>
  > = {};
  const part = distillerPart(student, teacher, targets, {
    name: "Adaptive1dLayerwiseDistiller",
    checkTarget: (n) => checkOneLink(n.links, n),
    checkPair(n, link, s, t) {
      const sw = s[s.length - 1];
      const tw = t[t.length - 1];
      if (s.length === 0 || t.length === 0 || sw === tw || sw < 1 || tw < 1) {
        return checkShapes(n, link, s, t);
      }
      checkShapes(n, link, [...s.slice(0, -1), tw], t);
      const bound = 1 / Math.sqrt(sw);
      maps[n.module] ??= {};
      maps[n.module][n.target] = {
        kernel: tf.variable(tf.randomUniform([sw, tw], -bound, bound, "float32", seed++)),
        bias: tf.variable(tf.randomUniform([tw], -bound, bound, "float32", seed++)),
      };
    },
    loss: (s, t) => adaptiveDistillLossTf(s, t, targets, maps),
  });
  const all = () => Object.values(maps).flatMap((byTarget) => Object.values(byTarget));
  return {
    ...part,
    get lastLoss() {
      return part.lastLoss;
    },
    variables: () => all().flatMap((m) => [m.kernel, m.bias]),
    maps() {
      const out: Record<string, Record<string, LinearMapValues>> = {};
      for (const [module, byTarget] of Object.entries(maps)) {
        for (const [target, m] of Object.entries(byTarget)) {
          const [sw, tw] = m.kernel.shape;
          const weight = tf.tidy(() => tf.transpose(m.kernel).dataSync() as Float32Array);
          (out[module] ??= {})[target] = {
            weight: Float32Array.from(weight),
            bias: Float32Array.from(m.bias.dataSync() as Float32Array),
            shape: [tw, sw],
          };
        }
      }
      return out;
    },
    dispose() {
      tf.dispose(all().flatMap((m) => [m.kernel, m.bias]));
      for (const k of Object.keys(maps)) delete maps[k];
    },
  };
}
