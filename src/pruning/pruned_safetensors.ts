/**
 * `prunedSafetensors`: a safetensors file with its masks applied, in memory or streamed.
 *
 * @module
 */

import type { LazySafetensors } from "../io/safetensors/open_safetensors.ts";
import type { SafetensorsFile } from "../io/safetensors/read_safetensors.ts";
import {
  type ByteSink,
  collectSafetensors,
  safetensorsLayout,
  type SafetensorsStreamInput,
  streamSafetensors,
} from "../io/safetensors/write_safetensors.ts";
import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import { toFileBytes } from "../model/from_float32.ts";
import type { TensorRef } from "../model/model_graph.ts";
import {
  maskedBytes,
  type MaskedItem,
  maskedItems,
  type MaskedObserver,
} from "./_masked_params.ts";
import type { PruningTarget } from "./types.ts";
import { PruningError } from "./pruning_error.ts";
import type { PrunedModel, TargetMask } from "./types.ts";

/** Options of `prunedSafetensors`. */
export interface PrunedSafetensorsOptions {
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
  /**
   * Called with each masked parameter's values before and after its mask (float32, PyTorch
   * layout) as it is written, so a report needs no second pass over the file. Targets with
   * `apply_method: "bypass"` are not written, so not seen.
   */
  readonly onMasked?: (target: PruningTarget, before: Float32Array, after: Float32Array) => void;
  /**
   * Produces a masked parameter's bytes in place of this thread (for instance on worker
   * threads): it must return what the default does, the values `applyTargetMask` gives encoded
   * in the tensor's dtype and layout (`toFileBytes`), or `null` when it wrote them at their
   * place in the sink's file itself (`ByteSink.file`, `safetensorsLayout`'s offset). `onMasked`
   * is not called for them.
   */
  readonly maskedBytes?: (
    target: PruningTarget,
    mask: TargetMask,
    ref: TensorRef,
  ) => Promise<Uint8Array | null>;
  /**
   * Tensors whose masked bytes are in the sink's file already, at their place in this layout
   * (`safetensorsLayout`; written with `ByteSink.writeAt` while the masks were made): passed
   * over, not written again. `onMasked` is not called for them.
   */
  readonly written?: ReadonlySet<string>;
}

/** The source's metadata, left out when it has none (so a file without it stays without). */
function metadataOf(source: SafetensorsFile | LazySafetensors) {
  return Object.keys(source.metadata).length === 0 ? {} : { metadata: source.metadata };
}

function inputs(
  source: SafetensorsFile | LazySafetensors,
  pruned: PrunedModel,
  kernels: Kernels,
  observe?: MaskedObserver,
  produce?: PrunedSafetensorsOptions["maskedBytes"],
  written?: ReadonlySet<string>,
): SafetensorsStreamInput[] {
  const { params, activations } = maskedItems(pruned);
  if (activations.length > 0) {
    const t = activations[0].target;
    throw new PruningError(
      "activation_target",
      "a safetensors file has no graph to carry an activation mask; export to ONNX instead",
      { module: t.module, target: t.target, configIndex: t.configIndex },
    );
  }
  const byTensor = new Map<string, MaskedItem>(params.map((p) => [p.ref!.name, p]));
  const entries = "entries" in source
    ? source.entries.map((e) => ({ ...e, read: () => source.read(e.name) }))
    : source.tensors.map((t) => ({ ...t, read: () => t.data }));
  const names = new Set(entries.map((e) => e.name));
  for (const name of byTensor.keys()) {
    if (!names.has(name)) {
      throw new RangeError(
        `"source" must hold every masked tensor: ${JSON.stringify(name)} is missing`,
      );
    }
  }
  return entries.map((e) => {
    const item = byTensor.get(e.name);
    return {
      name: e.name,
      dtype: e.dtype,
      shape: e.shape,
      data: item === undefined
        ? e.read
        : produce === undefined
        ? () => maskedBytes(item, kernels, observe)
        : () => produce(item.target, item.mask, item.ref!),
      ...(written?.has(e.name) ? { written: true } : {}),
    };
  });
}

/**
 * Writes the masks of a pruning run into a safetensors file: every tensor of `source` is kept
 * (with the metadata); each masked weight or bias is replaced, in its dtype, by the values the
 * masked module sees (`apply_method` mul or add; `bypass` changes nothing). The layout is the
 * reference serializer's, so the output depends only on the tensors and metadata.
 *
 * @param source the file the pruned model was read from (`readSafetensors` or `openSafetensors`)
 * @param pruned the model view, targets and masks (a `prune()` result)
 * @param options the kernels
 * @returns the new file bytes
 * @throws {PruningError} for a masked activation target (a safetensors file has no graph)
 * @throws {RangeError} when a masked tensor is not in `source`
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { safetensorsModel } from "../model/safetensors_model.ts";
 * import { prune } from "./prune.ts";
 * import { prunedSafetensors } from "./pruned_safetensors.ts";
 *
 * const file = readSafetensors(writeSafetensors([
 *   { name: "fc.weight", dtype: "F32", shape: [2, 2], data: new Float32Array([1, -3, 2, 0.5]) },
 *   { name: "step", dtype: "I64", shape: [1], data: new BigInt64Array([7n]) },
 * ]));
 * const result = await prune(safetensorsModel(file), [
 *   { op_names: ["fc"], target_names: ["weight"], sparse_ratio: 0.5 },
 * ], { pruner: "level" });
 * const out = readSafetensors(await prunedSafetensors(file, result));
 * const w = out.tensors.find((t) => t.name === "fc.weight")!;
 * assert.deepEqual([...new Float32Array(w.data.slice().buffer)], [0, -3, 2, 0]);
 * assert.equal(out.tensors.length, 2);
 * ```
 */
export async function prunedSafetensors(
  source: SafetensorsFile | LazySafetensors,
  pruned: PrunedModel,
  options: PrunedSafetensorsOptions = {},
): Promise<Uint8Array> {
  const list = inputs(source, pruned, options.kernels ?? getKernels(), options.onMasked);
  return await collectSafetensors(list, metadataOf(source));
}

/**
 * Streams the masked safetensors file of `prunedSafetensors` to a sink, one tensor at a time,
 * so memory holds one tensor (for files larger than memory, opened with `openSafetensors`).
 *
 * @param source the file the pruned model was read from
 * @param pruned the model view, targets and masks
 * @param sink where the bytes go (`writeFileAtomic`'s sink, or any collector)
 * @param options the kernels
 * @returns the number of bytes written
 * @throws {PruningError} for a masked activation target
 * @throws {RangeError} when a masked tensor is not in `source`
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { safetensorsModel } from "../model/safetensors_model.ts";
 * import { streamPrunedSafetensors } from "./pruned_safetensors.ts";
 *
 * const file = readSafetensors(writeSafetensors([
 *   { name: "w", dtype: "F32", shape: [1], data: new Float32Array([1]) },
 * ]));
 * const pruned = { model: safetensorsModel(file), targets: [], masks: {} };
 * let n = 0;
 * await streamPrunedSafetensors(file, pruned, { write: (c) => void (n += c.length) });
 * assert.equal(n, writeSafetensors([{ name: "w", dtype: "F32", shape: [1], data: new Float32Array([1]) }]).length);
 * ```
 */
export async function streamPrunedSafetensors(
  source: SafetensorsFile | LazySafetensors,
  pruned: PrunedModel,
  sink: ByteSink,
  options: PrunedSafetensorsOptions = {},
): Promise<number> {
  const list = inputs(
    source,
    pruned,
    options.kernels ?? getKernels(),
    options.onMasked,
    options.maskedBytes,
    options.written,
  );
  return await streamSafetensors(list, sink, metadataOf(source));
}

/**
 * Where `streamPrunedSafetensors` puts each tensor of `source` (pruning keeps every name, dtype
 * and shape): byte offsets by name, so that masked tensors can be written at their place before
 * the rest of the file.
 *
 * @param source the file the model was read from
 * @returns the offsets, and the file's size
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { prunedLayout } from "./pruned_safetensors.ts";
 *
 * const bytes = writeSafetensors([{ name: "w", dtype: "F32", shape: [2], data: new Float32Array([1, 2]) }]);
 * const { offsets, size } = prunedLayout(readSafetensors(bytes));
 * assert.equal(size, bytes.length);
 * assert.equal(offsets.get("w"), bytes.length - 8);
 * ```
 */
export function prunedLayout(
  source: SafetensorsFile | LazySafetensors,
): { offsets: Map<string, number>; size: number } {
  const entries = "entries" in source ? source.entries : source.tensors;
  return safetensorsLayout(entries, metadataOf(source));
}

/** Whether typed arrays are little-endian here (as safetensors stores numbers). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A writer of masked tensors into a safetensors file's own bytes (`inPlaceSafetensorsWriter`). */
export interface InPlaceWriter {
  /** Encodes a masked tensor (float32, PyTorch layout) into its stored dtype and place. */
  (ref: TensorRef, values: Float32Array): void;
  /**
   * The tensor's stored values as a float32 view of the file, when it is stored as F32 (PyTorch
   * layout, 4-byte aligned, on a little-endian host); else `undefined`. Masking the view in place
   * writes the file with no temporary of the tensor's size.
   */
  view(ref: TensorRef): Float32Array | undefined;
}

/**
 * Where a pruning run can write its masked values into the file's own bytes, tensor by tensor:
 * the file keeps its header and layout and no second copy of it is made, so memory holds the
 * file, the masks and one tensor. For a caller that owns the bytes and has no further use for
 * the original values (the edge handler's request body). Returns a writer that encodes a masked
 * tensor (float32, PyTorch layout, as `TensorRef.data()` gives) into its stored dtype and place,
 * or `undefined` when a masked tensor is shared by two targets (the result would depend on their
 * order: write a copy with `prunedSafetensors` then). Its `view` gives an F32 tensor's stored
 * values to mask in place.
 *
 * @param source the file the pruned model was read from, in memory (`readSafetensors`)
 * @param pruned the model view, targets and masks (a `prune()` result)
 * @param options the kernels
 * @returns the writer, or `undefined`
 * @throws {PruningError} for a masked activation target (a safetensors file has no graph)
 * @throws {RangeError} when a masked tensor is not in `source`
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { safetensorsModel } from "../model/safetensors_model.ts";
 * import { prune } from "./prune.ts";
 * import { inPlaceSafetensorsWriter } from "./pruned_safetensors.ts";
 *
 * const bytes = writeSafetensors([
 *   { name: "fc.weight", dtype: "F32", shape: [2, 2], data: new Float32Array([1, -3, 2, 0.5]) },
 * ]);
 * const file = readSafetensors(bytes);
 * const result = await prune(safetensorsModel(file), [{ op_types: ["Linear"], sparse_ratio: 0.5 }]);
 * const write = inPlaceSafetensorsWriter(file, result)!;
 * for (const [name, values] of await result.apply()) {
 *   write(result.model.modules[0].params.weight, values);
 *   assert.equal(name, "fc.weight");
 * }
 * const w = readSafetensors(bytes).tensors[0];
 * assert.deepEqual([...new Float32Array(w.data.slice().buffer)], [0, -3, 2, 0]);
 * // An aligned F32 tensor can also be masked where it is stored.
 * assert.deepEqual([...write.view(result.model.modules[0].params.weight)!], [0, -3, 2, 0]);
 * ```
 */
export function inPlaceSafetensorsWriter(
  source: SafetensorsFile,
  pruned: PrunedModel,
  options: PrunedSafetensorsOptions = {},
): InPlaceWriter | undefined {
  const kernels = options.kernels ?? getKernels();
  const { params, activations } = maskedItems(pruned);
  if (activations.length > 0) inputs(source, pruned, kernels);
  const stored = new Map(source.tensors.map((t) => [t.name, t.data]));
  const seen = new Set<string>();
  for (const p of params) {
    const name = p.ref!.name;
    if (!stored.has(name)) {
      throw new RangeError(
        `"source" must hold every masked tensor: ${JSON.stringify(name)} is missing`,
      );
    }
    if (seen.has(name)) return undefined;
    seen.add(name);
  }
  const write = (ref: TensorRef, values: Float32Array) => {
    const view = stored.get(ref.name);
    if (view === undefined) {
      throw new RangeError(`"source" has no tensor ${JSON.stringify(ref.name)}`);
    }
    // Float32 in PyTorch layout is written as it is; other dtypes and layouts are encoded.
    const masked = ref.dtype === "F32" && ref.transpose === undefined
      ? new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
      : toFileBytes(ref, values, kernels);
    if (masked.length !== view.length) {
      throw new RangeError(
        `masked tensor ${
          JSON.stringify(ref.name)
        } has ${masked.length} bytes: the file stores ${view.length}`,
      );
    }
    view.set(masked);
  };
  return Object.assign(write, {
    view(ref: TensorRef): Float32Array | undefined {
      const bytes = stored.get(ref.name);
      if (
        bytes === undefined || ref.dtype !== "F32" || ref.transpose !== undefined ||
        !LITTLE_ENDIAN || bytes.byteOffset % 4 !== 0
      ) {
        return undefined;
      }
      return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    },
  });
}
