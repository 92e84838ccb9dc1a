// Input/output targets of tfjs layers: `_input_<index>` / `_output_<index>` only.

import type { ResolvedTarget } from "../config/types.ts";
import type { NormalTarget } from "../distillation/_targets.ts";
import { DistillationError } from "../distillation/distillation_error.ts";
import { tensorCount } from "./_static_shape.ts";
import type { TfLayer, TfModelView } from "./types.ts";

const IO = /^_(input|output)_(\d+)$/;

/**
 * The kind and index of a distillation target on a layer. TensorFlow.js layers take and return
 * a tensor or an array of tensors, never a map, so `_output_<key>` (NNI's target for a module
 * returning a dict) has nothing to name; an index beyond the layer's tensors is an error too.
 */
export function checkIoTarget(
  view: TfModelView,
  t: ResolvedTarget,
  n: NormalTarget,
): ["input" | "output", number] {
  const layer = view.layers.get(t.module);
  if (layer === undefined) {
    throw new DistillationError(
      "target_name",
      `module ${JSON.stringify(t.module)} has no layer of its own (a cell of a recurrent layer): ` +
        `its inputs and outputs are the layer's; name the layer that runs it`,
      n,
    );
  }
  const m = IO.exec(t.target);
  if (m === null) {
    throw new DistillationError(
      "target_name",
      `layer ${
        JSON.stringify(t.module)
      } (${layer.getClassName()}) takes and returns tensors by position — TensorFlow.js layers have no named inputs or outputs — so a target is _${t.kind}_<index> (e.g. _${t.kind}_0): current value is ${
        JSON.stringify(t.target)
      }`,
      n,
    );
  }
  const kind = m[1] as "input" | "output";
  const index = Number(m[2]);
  checkIndex(layer, t.module, kind, index, n, "target_name");
  return [kind, index];
}

/** Throws when `index` is beyond the layer's inputs or outputs. */
export function checkIndex(
  layer: TfLayer,
  name: string,
  kind: string,
  index: number,
  n: NormalTarget,
  code: "target_name" | "missing_teacher_state",
): void {
  const count = tensorCount(layer, kind);
  if (index >= count) {
    throw new DistillationError(
      code,
      `layer ${JSON.stringify(name)} (${layer.getClassName()}) has ${count} ${kind}${
        count === 1 ? "" : "s"
      }, so _${kind}_${index} does not exist (indices start at 0)`,
      n,
    );
  }
}
