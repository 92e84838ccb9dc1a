// Opening the files a user drops or picks: the model and its companions (ONNX external data, a
// TensorFlow.js model.json's shards, a sharded safetensors checkpoint), read in slices with
// progress.
import { detectFormat, type LoadedModel, loadModel } from "../src/compress/load_model.ts";
import { ModelFormatError } from "../src/io/model_format_error.ts";
import { readSafetensors } from "../src/io/safetensors/read_safetensors.ts";
import { isShardIndexPath, parseShardIndex } from "../src/io/safetensors/shard_index.ts";
import { writeSafetensors } from "../src/io/safetensors/write_safetensors.ts";

/** Bytes read per slice: files are never read in one piece. */
export const SLICE_BYTES = 8 * 1024 * 1024;

/** The part of a file's path the model files name (a folder pick gives `folder/name`). */
const baseName = (f: File) => f.name;

/**
 * Reads a file slice by slice into one buffer, calling `onBytes` with the bytes read so far.
 */
export async function readSliced(
  file: Blob,
  onBytes: (bytes: number) => void,
): Promise<Uint8Array> {
  const out = new Uint8Array(file.size);
  for (let at = 0; at < file.size; at += SLICE_BYTES) {
    const end = Math.min(file.size, at + SLICE_BYTES);
    out.set(new Uint8Array(await file.slice(at, end).arrayBuffer()), at);
    onBytes(end);
  }
  onBytes(file.size);
  return out;
}

/** The model file among the selected ones, or a message saying why there is none. */
export function mainFile(files: readonly File[]): File | string {
  if (files.length === 0) return "no file was selected";
  const index = files.find((f) => isShardIndexPath(baseName(f)));
  if (index !== undefined) return index;
  const model = files.find((f) => /\.(onnx|safetensors)$/i.test(baseName(f))) ??
    files.find((f) => /(^|\/)model\.json$/i.test(baseName(f))) ??
    files.find((f) => /\.json$/i.test(baseName(f)));
  if (model !== undefined) return model;
  return `none of the selected files is a model (.onnx, .safetensors, model.json or *.safetensors.index.json): ${
    files.map(baseName).slice(0, 5).join(", ")
  }${files.length > 5 ? ", …" : ""}`;
}

/**
 * Opens the model among `files`: the others are its external data files (ONNX), its weight
 * shards (TensorFlow.js), or, for a `*.safetensors.index.json`, the checkpoint's shards, which
 * are joined into one safetensors model in memory (the download is then one file).
 *
 * @throws {ModelFormatError} When the files cannot be decoded or a file the model names is
 *   missing (the message names it).
 */
export async function openModel(
  files: readonly File[],
  onProgress: (done: number, total: number) => void,
): Promise<LoadedModel> {
  const main = mainFile(files);
  if (typeof main === "string") throw new ModelFormatError(main, { file: "(selection)" });
  const total = files.reduce((n, f) => n + f.size, 0);
  let before = 0;
  const read = async (f: File) => {
    const bytes = await readSliced(f, (n) => onProgress(before + n, total));
    before += f.size;
    return bytes;
  };
  const name = baseName(main);
  const mainBytes = await read(main);
  if (isShardIndexPath(name)) {
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(mainBytes));
    } catch (e) {
      throw new ModelFormatError(`a shard index must be JSON: ${(e as Error).message}`, {
        file: name,
      });
    }
    const index = parseShardIndex(json, name);
    const byName = new Map(files.map((f) => [baseName(f), f]));
    const tensors = [];
    const metadata: Record<string, string> = {};
    for (const shard of index.shards) {
      const f = byName.get(shard) ?? byName.get(shard.slice(shard.lastIndexOf("/") + 1));
      if (f === undefined) {
        throw new ModelFormatError(
          `the shard "${shard}" that the index names is not among the selected files: select the index together with every shard`,
          { file: name, field: "weight_map" },
        );
      }
      const file = readSafetensors(await read(f), { file: shard });
      Object.assign(metadata, file.metadata);
      for (const t of file.tensors) {
        if (index.weightMap.get(t.name) === shard) tensors.push(t);
      }
    }
    const joined = name.replace(/\.index\.json$/i, "");
    return loadModel(writeSafetensors(tensors, { metadata }), joined);
  }
  const others = new Map<string, Uint8Array>();
  for (const f of files) if (f !== main) others.set(baseName(f), await read(f));
  // With the data files given (even none), a model with external data that lacks one fails
  // here with the tensor and file it needs; a model.json without a shard names the shard.
  return loadModel(
    mainBytes,
    name,
    detectFormat(mainBytes, name) === "tfjs" ? { shards: others } : { externalData: others },
  );
}

/** The files of a drop: every file, folders walked (`webkitGetAsEntry`). */
export async function droppedFiles(items: DataTransferItemList): Promise<File[]> {
  const entries = [...items].map((i) => i.webkitGetAsEntry?.()).filter((e) => e != null);
  const out: File[] = [];
  const walk = async (entry: FileSystemEntry): Promise<void> => {
    if (entry.isFile) {
      out.push(
        await new Promise<File>((ok, fail) => (entry as FileSystemFileEntry).file(ok, fail)),
      );
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((ok, fail) =>
          reader.readEntries(ok, fail)
        );
        if (batch.length === 0) break;
        for (const e of batch) await walk(e);
      }
    }
  };
  for (const e of entries) await walk(e!);
  return out;
}
