// One compression, the same on the main thread and in the compression worker.
import { compressModel } from "../src/compress/compress_model.ts";
import { detectFormat, loadModel } from "../src/compress/load_model.ts";
import type { CompressionReport } from "../src/report/types.ts";
import { namedTfjsFiles } from "../src/io/tfjs/write_tfjs.ts";
import { registryByMode } from "../src/config/default_registry.ts";
import type { ExtraRegistry } from "../src/config/types.ts";
import { HttpError } from "./_errors.ts";
import type { RequestOptions } from "./_parse_request.ts";

/** What a compression needs (structured-cloneable, so it crosses to a worker). */
export interface CompressionJob {
  readonly model: Uint8Array;
  readonly name: string;
  readonly configList: unknown;
  readonly mode: "pruning" | "quantization";
  readonly algorithm?: string;
  /** Extra default targets per module class (`{Class: {target: setting}}` or by mode). */
  readonly registry?: unknown;
  /** A `model.json`'s weight shards, or an ONNX model's external data files, by name. */
  readonly files?: ReadonlyMap<string, Uint8Array>;
  /** Storage and TensorFlow.js options the request set. */
  readonly options?: RequestOptions;
}

/** The compressed file and its report. */
export interface CompressionResult {
  readonly bytes: Uint8Array;
  /**
   * Every file by name when the output has several (TensorFlow.js: `model.json`, then the
   * shards); `bytes` is then the first.
   */
  readonly files?: readonly (readonly [string, Uint8Array])[];
  readonly report: CompressionReport;
}

/**
 * Decodes the model and applies the config list. The job's model bytes are consumed: the output
 * may be written into them (and be a view of the same buffer). `checkpoint` runs between stages (and at every
 * progress step), so a caller on a thread it cannot abandon can stop the work by throwing there.
 */
export async function runCompression(
  job: CompressionJob,
  checkpoint: () => void = () => {},
): Promise<CompressionResult> {
  const files = job.files ?? new Map<string, Uint8Array>();
  const format = detectFormat(job.model, job.name);
  // Data files are moved into the model (`inlineExternalData`): the answer is one .onnx file.
  const model = loadModel(
    job.model,
    job.name,
    format === "tfjs" ? { shards: files } : files.size > 0 ? { externalData: files } : {},
  );
  if (model.format === "onnx") {
    const locations = [
      ...new Set(
        model.onnx.tensors.flatMap((t) =>
          t.storage.kind === "external" ? [t.storage.location] : []
        ),
      ),
    ];
    if (locations.length > 0) {
      throw new HttpError(
        422,
        "external_data",
        `"${job.name}" keeps tensors in external data files that were not sent (${
          locations.map((l) => JSON.stringify(l)).join(", ")
        }): send each as a multipart "files" part named by its location`,
        { details: { locations } },
      );
    }
  }
  checkpoint();
  const result = await compressModel(model, {
    mode: job.mode,
    configList: job.configList,
    label: `${job.mode} ${job.name}`,
    // The job owns its model bytes (the request body, moved here): pruning writes into them
    // instead of building a second copy of the file.
    inPlace: true,
    onProgress: checkpoint,
    ...job.options,
    ...(job.algorithm === undefined ? {} : { algorithm: job.algorithm }),
    ...(job.registry === undefined
      ? {}
      : { registry: registryByMode(job.registry, job.mode) as ExtraRegistry }),
  });
  checkpoint();
  if (result.files === undefined || result.files.size <= 1) {
    return { bytes: result.bytes, report: result.report };
  }
  if (model.format === "tfjs" && model.tfjs.kind === "weights-manifest") {
    // A weights manifest keeps its name (face-api.js loads `<name>-weights_manifest.json`), its
    // shards named after it.
    const named = namedTfjsFiles(job.name.slice(job.name.lastIndexOf("/") + 1), result.files);
    return { bytes: named.values().next().value!, files: [...named], report: result.report };
  }
  return { bytes: result.bytes, files: [...result.files], report: result.report };
}
