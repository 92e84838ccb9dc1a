/**
 * `rewriteSafetensors`: a safetensors file with some tensors' bytes replaced.
 *
 * @module
 */

import type { SafetensorsFile } from "../io/safetensors/read_safetensors.ts";
import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
import { QuantizationError } from "./quantization_error.ts";

/**
 * Writes a safetensors file with the same tensors (names, dtypes, shapes) and metadata as
 * `file`, the bytes of the named tensors replaced (e.g. by `fakeQuantizedTensors`).
 *
 * @param file The file read with `readSafetensors`.
 * @param replacements New bytes by tensor name (same dtype and byte length).
 * @param metadata Entries added to the `__metadata__` map.
 * @returns The new file bytes.
 * @throws {QuantizationError} Code `missing_tensor` when a replacement names no tensor, `shape`
 * when it has the wrong byte length.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { rewriteSafetensors } from "./rewrite_safetensors.ts";
 *
 * const file = readSafetensors(writeSafetensors([{ name: "w", dtype: "U8", shape: [2], data: Uint8Array.of(1, 2) }]));
 * const out = readSafetensors(rewriteSafetensors(file, new Map([["w", Uint8Array.of(3, 4)]])));
 * assert.deepEqual([...out.tensors[0].data], [3, 4]);
 * ```
 */
export function rewriteSafetensors(
  file: SafetensorsFile,
  replacements: ReadonlyMap<string, Uint8Array>,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  const names = new Set(file.tensors.map((t) => t.name));
  for (const [name, bytes] of replacements) {
    const t = file.tensors.find((x) => x.name === name);
    if (!names.has(name) || t === undefined) {
      throw new QuantizationError(
        "missing_tensor",
        `replacement ${JSON.stringify(name)} names no tensor of the file`,
      );
    }
    if (bytes.length !== t.data.length) {
      throw new QuantizationError(
        "shape",
        `replacement for ${
          JSON.stringify(name)
        } must have ${t.data.length} bytes: current value is ${bytes.length}`,
      );
    }
  }
  const meta = { ...file.metadata, ...metadata };
  return writeSafetensors(
    file.tensors.map((t) => ({ ...t, data: replacements.get(t.name) ?? t.data })),
    Object.keys(meta).length === 0 ? {} : { metadata: meta },
  );
}
