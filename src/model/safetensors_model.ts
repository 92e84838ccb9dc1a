/**
 * The module view of a safetensors file.
 *
 * @module
 */

import type { LazySafetensors } from "../io/safetensors/open_safetensors.ts";
import type { SafetensorsFile } from "../io/safetensors/read_safetensors.ts";
import {
  inferModuleType,
  type ModuleTypeOverrides,
  overrideModuleType,
} from "./infer_module_type.ts";
import type { ModelGraph, Module, QuantizedWeight, TensorRef } from "./model_graph.ts";
import { type HalfKernels, toFloat32 } from "./to_float32.ts";

/** Options of `safetensorsModel`. */
export interface SafetensorsModelOptions {
  /** Module types by name pattern; they win over the inferred types. */
  readonly types?: ModuleTypeOverrides;
  /** The F16/BF16 conversions used by `data()` (default: `getKernels()`). */
  readonly kernels?: HalfKernels;
}

function isLazy(file: SafetensorsFile | LazySafetensors): file is LazySafetensors {
  return "entries" in file;
}

/**
 * Builds the module view of a safetensors file, read in memory or lazily. A tensor
 * `a.b.weight` becomes parameter `weight` of module `a.b` (a name without a dot belongs to the
 * root module `""`); modules appear in order of their first tensor in the file; types follow
 * `inferModuleType` unless `options.types` names one. Safetensors stores PyTorch layout, so no
 * tensor is transposed.
 *
 * @param file A file from `readSafetensors` or `openSafetensors`.
 * @param options Type overrides and kernels.
 * @returns The model (no graph: the format has none).
 *
 * @example
 * ```ts
 * import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { safetensorsModel } from "./safetensors_model.ts";
 * const bytes = writeSafetensors([
 *   { name: "fc.weight", dtype: "F32", shape: [2, 3], data: new Float32Array(6) },
 *   { name: "fc.bias", dtype: "F32", shape: [2], data: new Float32Array(2) },
 * ]);
 * const model = safetensorsModel(readSafetensors(bytes));
 * if (model.modules[0].name !== "fc" || model.modules[0].type !== "Linear") throw new Error();
 * ```
 */
export function safetensorsModel(
  file: SafetensorsFile | LazySafetensors,
  options: SafetensorsModelOptions = {},
): ModelGraph {
  const refs: TensorRef[] = isLazy(file)
    ? file.entries.map((e) => {
      const bytes = () => file.read(e.name);
      return {
        name: e.name,
        dtype: e.dtype,
        shape: e.shape,
        fileShape: e.shape,
        bytes,
        data: async () => {
          const b = await bytes();
          // A read into a buffer of its own (a file read) is ours: float32 is viewed, not copied
          // (a copy of every tensor cost a fifth of a large prune's time).
          if (
            e.dtype === "F32" && b.byteOffset === 0 && b.byteLength === b.buffer.byteLength &&
            b.buffer instanceof ArrayBuffer
          ) return new Float32Array(b.buffer);
          return toFloat32(b, e.dtype, options.kernels);
        },
      };
    })
    : file.tensors.map((t) => ({
      name: t.name,
      dtype: t.dtype,
      shape: t.shape,
      fileShape: t.shape,
      bytes: () => Promise.resolve(t.data),
      data: () => Promise.resolve(toFloat32(t.data, t.dtype, options.kernels)),
    }));
  const groups = new Map<string, Record<string, TensorRef>>();
  for (const ref of refs) {
    const dot = ref.name.lastIndexOf(".");
    const module = dot < 0 ? "" : ref.name.slice(0, dot);
    // A null prototype, so a parameter named "__proto__" is an ordinary key.
    const params = groups.get(module) ?? Object.create(null) as Record<string, TensorRef>;
    params[ref.name.slice(dot + 1)] = ref;
    groups.set(module, params);
  }
  const modules: Module[] = [];
  const stored = quantizedTensors(file.metadata);
  let previous: string | undefined;
  for (const [name, params] of groups) {
    const shapes = Object.fromEntries(Object.entries(params).map(([k, t]) => [k, t.shape]));
    const type = overrideModuleType(name, options.types) ?? inferModuleType(name, shapes, previous);
    if (type !== "Module") previous = type;
    const quantized = storedQuantized(params, stored);
    modules.push({ name, type, params, ...(quantized === undefined ? {} : { quantized }) });
  }
  return {
    format: "safetensors",
    source: { format: "safetensors", file },
    modules,
    metadata: { ...file.metadata },
  };
}

/** The tensors an nncompress `quantized-v1` file stores as codes: name → its metadata entry. */
function quantizedTensors(
  metadata: Readonly<Record<string, string>>,
): ReadonlyMap<string, Record<string, unknown>> {
  if (metadata["nncompress.format"] !== "quantized-v1") return new Map();
  try {
    const infos = JSON.parse(metadata["nncompress.quantization"] ?? "{}");
    return new Map(
      Object.entries(infos ?? {}).filter(([, v]) => v !== null && typeof v === "object"),
    ) as Map<string, Record<string, unknown>>;
  } catch {
    return new Map(); // readQuantizedSafetensors reports a malformed entry
  }
}

/**
 * The storage of a module of a `quantized-v1` file (codes written by `--storage int`), from the
 * first of its parameters that is stored as codes; `undefined` for a float module.
 */
function storedQuantized(
  params: Readonly<Record<string, TensorRef>>,
  stored: ReadonlyMap<string, Record<string, unknown>>,
): QuantizedWeight | undefined {
  const weightFirst = [params.weight, ...Object.values(params)].filter((r) => r !== undefined);
  for (const ref of weightFirst) {
    const info = stored.get(ref.name);
    if (info === undefined) continue;
    const dtype = String(info.quant_dtype ?? "");
    const kernel = Array.isArray(info.kernel) ? info.kernel as number[] : [];
    const blocked = kernel.map((k, axis) => ({ k, axis })).filter(({ k }) => k !== -1);
    const shapeOf = (suffix: string) => {
      const t = Object.values(params).find((p) => p.name === `${ref.name}${suffix}`);
      return t === undefined ? null : [...t.shape];
    };
    return {
      op: "nncompress quantized-v1",
      codes: dtype,
      bits: Number(/\d+$/.exec(dtype)?.[0] ?? 0),
      shape: Array.isArray(info.shape) ? [...info.shape as number[]] : [...ref.shape],
      ...(blocked.length === 0
        ? { granularity: "per_tensor" as const }
        : blocked.length === 1 && blocked[0].k === 1
        ? { granularity: "per_axis" as const, axis: blocked[0].axis }
        : { granularity: "block" as const, axis: blocked[0].axis, blockSize: blocked[0].k }),
      scaleShape: shapeOf("_scale"),
      zeroPointShape: shapeOf("_zero_point"),
    };
  }
  return undefined;
}
