/**
 * Saving an ONNX model to a file, together with its external data files.
 *
 * @module
 */

import {
  copyFileAtomic,
  externalDataFiles,
  fileIdentity,
  type FileSource,
  makeDir,
  writeFileAtomic,
} from "../fs.ts";
import { ModelFormatError } from "../model_format_error.ts";
import type { ExternalPatch, OnnxReplacement } from "./encode_onnx.ts";
import { editOnnx, type OnnxEdit } from "./edit_onnx.ts";
import type { OnnxModel } from "./onnx_types.ts";

/** Options of `saveOnnx`. */
export interface SaveOnnxOptions {
  /**
   * The path the model was read from; its external data files are read relative to it.
   * Required when the model has tensors in external files.
   */
  readonly source?: string;
  /**
   * Bytes per write when writing a new external file (default 16 MiB); existing external
   * files are copied by the runtime's file copy and patched in place.
   */
  readonly chunkBytes?: number;
}

const folder = (path: string) => {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return cut < 0 ? "" : path.slice(0, cut + 1);
};

/** Rejects in-place patches past the end of their file; returns the size of the new file. */
function checkRanges(from: FileSource, patches: readonly ExternalPatch[], file: string): number {
  let size = from.size;
  for (const p of patches) {
    if (p.appended) size = Math.max(size, p.offset + p.bytes.length);
    else if (p.offset + p.bytes.length > from.size) {
      throw new ModelFormatError(
        `external range [${p.offset}, ${p.offset + p.bytes.length}) is past the end of ${
          JSON.stringify(p.location)
        } (${from.size} bytes)`,
        { file, field: p.name, offset: p.offset },
      );
    }
  }
  return size;
}

/** Writes `from` with the patches applied to `to`, in chunks (used for new external files). */
async function copyPatched(
  from: FileSource,
  to: string,
  patches: readonly ExternalPatch[],
  chunk: number,
  file: string,
): Promise<void> {
  const size = checkRanges(from, patches, file);
  await writeFileAtomic(to, async (sink) => {
    for (let at = 0; at < size; at += chunk) {
      const n = Math.min(chunk, size - at);
      const have = Math.max(0, Math.min(n, from.size - at));
      let bytes = have === n ? await from.read(at, n) : new Uint8Array(n);
      if (have > 0 && have < n) bytes.set(await from.read(at, have));
      if (have === n && bytes.length !== n) {
        throw new ModelFormatError(`read ${bytes.length} of ${n} bytes: file is truncated`, {
          file,
          field: "external_data",
          offset: at,
        });
      }
      let copied = false;
      for (const p of patches) {
        const lo = Math.max(at, p.offset);
        const hi = Math.min(at + n, p.offset + p.bytes.length);
        if (lo >= hi) continue;
        if (!copied) (bytes = bytes.slice(), copied = true); // never modify the source's bytes
        bytes.set(p.bytes.subarray(lo - p.offset, hi - p.offset), lo - at);
      }
      await sink.write(bytes);
    }
  });
}

/**
 * Writes a model (with replaced tensors, if any) to `path` atomically. Tensors in external data
 * files keep their location, offset and length: each external file the model uses is copied
 * next to `path` (by the runtime's file copy), with replaced tensors patched in, so models far
 * larger than memory
 * (and over the 2 GB protobuf limit) can be saved. An external file that `path` shares with the
 * source (same folder) is left as it is when unchanged; changing it is allowed only when `path`
 * is the source model itself, so saving a variant never alters the original. The `.onnx` file
 * is written last, so it never refers to files not yet written. Replacements may move tensors
 * between the model and external files (`OnnxReplacement.external`) and change the dims of
 * external tensors: see `encodeOnnxWithExternal` for where their bytes go; an external file
 * that no tensor uses any more is not written. Instead of replacements, a list of `editOnnx`
 * edits may be given (graph changes together with replaced tensors).
 *
 * @param path The destination `.onnx` file.
 * @param model The decoded model.
 * @param replacements New values by tensor name (file dtype and layout), or edits.
 * @param options The source path (for external data) and the copy chunk size.
 * @throws {TypeError} When the model has external data and `options.source` is missing.
 * @throws {RangeError} See `encodeOnnxWithExternal` and `editOnnx`; also when a changed external file is
 * shared with the source model and `path` is not the source.
 * @throws {ModelFormatError} When an external location is unsafe (absolute or with `..`) or a
 * range is outside its file.
 *
 * @example
 * ```ts ignore
 * import { saveOnnx } from "./save_onnx.ts";
 * await saveOnnx("out/model.onnx", model, new Map([["w", { bytes }]]), { source: "big/model.onnx" });
 * ```
 */
export async function saveOnnx(
  path: string,
  model: OnnxModel,
  changes: ReadonlyMap<string, OnnxReplacement> | readonly OnnxEdit[] = new Map(),
  options: SaveOnnxOptions = {},
): Promise<void> {
  const edits: readonly OnnxEdit[] = Array.isArray(changes)
    ? changes
    : [...changes as ReadonlyMap<string, OnnxReplacement>].map(([name, r]) => ({
      op: "replaceTensor" as const,
      name,
      ...r,
    }));
  const replacements = new Map<string, OnnxReplacement>();
  for (const e of edits) if (e.op === "replaceTensor") replacements.set(e.name, e);
  const sourceLocations = new Set<string>();
  const used = new Set<string>();
  for (const t of model.tensors) {
    if (t.storage.kind !== "external") continue;
    sourceLocations.add(t.storage.location);
    const moved = replacements.get(t.name)?.external;
    if (moved === undefined || moved === t.storage.location) used.add(t.storage.location);
  }
  if (used.size > 0 && options.source === undefined) {
    throw new TypeError(`"options.source" must be the model's path: the model has external data`);
  }
  const files = options.source === undefined ? undefined : externalDataFiles(options.source);
  try {
    const sizes = new Map<string, number>();
    const opened = new Map<string, FileSource>();
    if (files !== undefined) {
      const targets = new Set([...replacements.values()].map((r) => r.external));
      for (const location of sourceLocations) {
        if (!used.has(location) && !targets.has(location)) continue;
        const from = await files.open(location);
        opened.set(location, from);
        sizes.set(location, from.size);
      }
    }
    const { bytes, external } = editOnnx(model, edits, { externalSizes: sizes });
    for (const p of external) used.add(p.location);
    const overwritesSource = options.source !== undefined &&
      (await fileIdentity(path)) !== undefined &&
      (await fileIdentity(path)) === (await fileIdentity(options.source));
    for (const location of used) {
      const patches = external.filter((p) => p.location === location);
      const to = folder(path) + location;
      const from = opened.get(location);
      if (from !== undefined) {
        const original = folder(options.source!) + location;
        const shared = (await fileIdentity(to)) === (await fileIdentity(original));
        if (shared && patches.length === 0) continue;
        if (shared && !overwritesSource) {
          throw new RangeError(
            `saving to ${JSON.stringify(path)} would change ${JSON.stringify(location)}, which ${
              JSON.stringify(options.source)
            } also uses: save into another folder, or over the source model`,
          );
        }
      } else checkLocation(location, model.file);
      await makeDir(folder(to).replace(/[\\/]$/, ""));
      if (from === undefined) {
        await copyPatched(EMPTY, to, patches, options.chunkBytes ?? 16 << 20, model.file);
      } else {
        checkRanges(from, patches, model.file);
        await copyFileAtomic(folder(options.source!) + location, to, patches);
      }
    }
    await writeFileAtomic(path, bytes);
  } finally {
    await files?.close();
  }
}

const EMPTY: FileSource = {
  size: 0,
  read: () => Promise.resolve(new Uint8Array(0)),
  readInto: () => Promise.resolve(0),
  close: () => Promise.resolve(),
};

/** Rejects a new external location that is absolute or leaves the model's folder. */
function checkLocation(location: string, file: string): void {
  if (
    location === "" || /^([\\/]|[A-Za-z]:)/.test(location) ||
    location.split(/[\\/]/).includes("..")
  ) {
    throw new ModelFormatError(
      `external location ${
        JSON.stringify(location)
      } must be a relative path inside the model's folder`,
      { file, field: "external_data.location", offset: 0 },
    );
  }
}
