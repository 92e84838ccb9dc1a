/**
 * Saving an ONNX model to a file, together with its external data files.
 *
 * @module
 */

import {
  externalDataFiles,
  fileIdentity,
  type FileSource,
  makeDir,
  writeFileAtomic,
} from "../fs.ts";
import { ModelFormatError } from "../model_format_error.ts";
import { encodeOnnxWithExternal, type ExternalPatch, type OnnxReplacement } from "./encode_onnx.ts";
import type { OnnxModel } from "./onnx_types.ts";

/** Options of `saveOnnx`. */
export interface SaveOnnxOptions {
  /**
   * The path the model was read from; its external data files are read relative to it.
   * Required when the model has tensors in external files.
   */
  readonly source?: string;
  /** Bytes per read when copying external files (default 16 MiB). */
  readonly chunkBytes?: number;
}

const folder = (path: string) => {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return cut < 0 ? "" : path.slice(0, cut + 1);
};

async function copyPatched(
  from: FileSource,
  to: string,
  patches: readonly ExternalPatch[],
  chunk: number,
  file: string,
): Promise<void> {
  for (const p of patches) {
    if (p.offset + p.bytes.length > from.size) {
      throw new ModelFormatError(
        `external range [${p.offset}, ${p.offset + p.bytes.length}) is past the end of ${
          JSON.stringify(p.location)
        } (${from.size} bytes)`,
        { file, field: p.name, offset: p.offset },
      );
    }
  }
  await writeFileAtomic(to, async (sink) => {
    for (let at = 0; at < from.size; at += chunk) {
      const n = Math.min(chunk, from.size - at);
      let bytes = await from.read(at, n);
      if (bytes.length !== n) {
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
 * next to `path` in chunks, with replaced tensors patched in, so models far larger than memory
 * (and over the 2 GB protobuf limit) can be saved. An external file that `path` shares with the
 * source (same folder) is left as it is when unchanged; changing it is allowed only when `path`
 * is the source model itself, so saving a variant never alters the original. The `.onnx` file
 * is written last, so it never refers to files not yet written.
 *
 * @param path The destination `.onnx` file.
 * @param model The decoded model.
 * @param replacements New values by tensor name (file dtype and layout).
 * @param options The source path (for external data) and the copy chunk size.
 * @throws {TypeError} When the model has external data and `options.source` is missing.
 * @throws {RangeError} See `encodeOnnxWithExternal`; also when a changed external file is
 * shared with the source model and `path` is not the source.
 * @throws {ModelFormatError} When an external location is unsafe or a range is outside its file.
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
  replacements: ReadonlyMap<string, OnnxReplacement> = new Map(),
  options: SaveOnnxOptions = {},
): Promise<void> {
  const { bytes, external } = encodeOnnxWithExternal(model, replacements);
  const locations = new Set<string>();
  for (const t of model.tensors) {
    if (t.storage.kind === "external") locations.add(t.storage.location);
  }
  if (locations.size > 0) {
    if (options.source === undefined) {
      throw new TypeError(`"options.source" must be the model's path: the model has external data`);
    }
    const source = options.source;
    const files = externalDataFiles(source);
    try {
      const overwritesSource = (await fileIdentity(path)) !== undefined &&
        (await fileIdentity(path)) === (await fileIdentity(source));
      for (const location of locations) {
        const patches = external.filter((p) => p.location === location);
        const from = await files.open(location);
        const to = folder(path) + location;
        const shared = (await fileIdentity(to)) === (await fileIdentity(folder(source) + location));
        if (shared && patches.length === 0) continue;
        if (shared && !overwritesSource) {
          throw new RangeError(
            `saving to ${JSON.stringify(path)} would change ${JSON.stringify(location)}, which ${
              JSON.stringify(source)
            } also uses: save into another folder, or over the source model`,
          );
        }
        await makeDir(folder(to).replace(/[\\/]$/, ""));
        await copyPatched(from, to, patches, options.chunkBytes ?? 16 << 20, model.file);
      }
    } finally {
      await files.close();
    }
  }
  await writeFileAtomic(path, bytes);
}
