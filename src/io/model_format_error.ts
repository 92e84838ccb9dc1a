/**
 * The error for unreadable model files.
 *
 * @module
 */

/** Where in a model file a problem was found. */
export interface ModelFormatErrorOptions {
  /** The file name or label (`"<memory>"` for in-memory bytes without a name). */
  readonly file?: string;
  /** The tensor or field name (`"header length"`, `"conv1.weight"`, `"graph.node[3].input"`). */
  readonly field?: string;
  /** The byte offset in the file where the problem was found. */
  readonly offset?: number;
  /** The underlying error, if any. */
  readonly cause?: unknown;
}

/**
 * A model file (safetensors, ONNX) that cannot be read: truncated, inconsistent, or not of the
 * expected format. The message names the file, the tensor or field and the byte offset, which
 * are also available as properties.
 *
 * @example
 * ```ts
 * import { ModelFormatError } from "./model_format_error.ts";
 * const e = new ModelFormatError("header is not JSON", { file: "m.safetensors", offset: 8 });
 * if (!e.message.includes("m.safetensors") || e.offset !== 8) throw new Error("unexpected");
 * ```
 */
export class ModelFormatError extends Error {
  /** The file name or label. */
  readonly file: string;
  /** The tensor or field name, or `""` when the problem concerns the whole file. */
  readonly field: string;
  /** The byte offset in the file. */
  readonly offset: number;

  /**
   * Creates the error.
   *
   * @param problem What is wrong, e.g. `"header length exceeds the file size"`.
   * @param options The file, field and byte offset.
   */
  constructor(problem: string, options: ModelFormatErrorOptions = {}) {
    const file = options.file ?? "<memory>";
    const field = options.field ?? "";
    const offset = options.offset ?? 0;
    const where = field === "" ? "" : ` in ${JSON.stringify(field)}`;
    super(`invalid model file "${file}"${where} at byte ${offset}: ${problem}`, {
      cause: options.cause,
    });
    this.name = "ModelFormatError";
    this.file = file;
    this.field = field;
    this.offset = offset;
  }
}
