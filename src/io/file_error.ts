/**
 * `FileError`: a file that cannot be read or written, with the path and a stable code.
 *
 * @module
 */

/** What went wrong with a file, as a stable code. */
export type FileErrorCode =
  | "not_found"
  | "permission"
  | "is_directory"
  | "not_regular"
  | "too_large"
  | "no_space"
  | "not_text"
  | "not_json"
  | "read"
  | "write";

/** The options of `FileError`. */
export interface FileErrorOptions {
  /** The underlying runtime error. */
  readonly cause?: unknown;
}

/** Maps the runtime's error (Deno, Bun and Node name them alike) to a code. */
function codeOf(cause: unknown, fallback: FileErrorCode): FileErrorCode {
  const e = cause as { code?: unknown; name?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : typeof e?.name === "string" ? e.name : "";
  switch (code) {
    case "ENOENT":
    case "NotFound":
      return "not_found";
    case "EACCES":
    case "EPERM":
    case "PermissionDenied":
    case "NotCapable":
      return "permission";
    case "EISDIR":
    case "IsADirectory":
      return "is_directory";
    case "ENOSPC":
      return "no_space";
    default:
      return fallback;
  }
}

const WHAT: Readonly<Record<FileErrorCode, string>> = {
  not_found: "no such file",
  permission: "permission denied",
  is_directory: "it is a folder",
  not_regular: "it is not a regular file",
  too_large: "it is too large",
  no_space: "no space left on the device",
  not_text: "it is not text (binary data)",
  not_json: "it is not JSON",
  read: "read failed",
  write: "write failed",
};

/**
 * A file that cannot be read or written. The message is `cannot <action> <label> "<path>":
 * <reason>` and always names the path; `code` says why in a form programs can switch on.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FileError } from "./file_error.ts";
 *
 * const e = FileError.from("read", "model file", "m.onnx", Object.assign(new Error("x"), { code: "ENOENT" }));
 * assert.equal(e.code, "not_found");
 * assert.equal(e.message, 'cannot read model file "m.onnx": no such file');
 * ```
 */
export class FileError extends Error {
  /** Why. */
  readonly code: FileErrorCode;
  /** The file's path. */
  readonly path: string;

  /**
   * Creates the error.
   *
   * @param code Why the file cannot be used.
   * @param message The whole message (use `FileError.from` for the usual form).
   * @param path The file's path.
   * @param options The underlying error.
   */
  constructor(code: FileErrorCode, message: string, path: string, options: FileErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "FileError";
    this.code = code;
    this.path = path;
  }

  /**
   * The error for a failed read or write, its code derived from the runtime's error.
   *
   * @param action `read` or `write`.
   * @param label What the file is (`"model file"`, `"config file"`).
   * @param path The file's path.
   * @param cause The runtime's error, or a `FileErrorCode` when the caller knows why.
   * @returns The error.
   */
  static from(
    action: "read" | "write",
    label: string,
    path: string,
    cause: unknown,
  ): FileError {
    if (cause instanceof FileError) return cause;
    const code = typeof cause === "string" ? cause as FileErrorCode : codeOf(cause, action);
    const detail = code === action && cause instanceof Error
      ? cause.message
      : action === "write" && code === "not_found"
      ? "its folder does not exist"
      : WHAT[code];
    return new FileError(code, `cannot ${action} ${label} "${path}": ${detail}`, path, {
      cause: typeof cause === "string" ? undefined : cause,
    });
  }
}
