// JSON error responses of the edge handler.
import { describeError, type ErrorCategory } from "../src/compress/describe_error.ts";

/** A request the handler refuses, with its HTTP status. */
export class HttpError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /**
   * @param status The HTTP status (4xx).
   * @param message What is wrong and how to fix it.
   */
  constructor(status: number, message: string) {
    super(message);
    this.name = "HttpError";
    this.status = status;
  }
}

/** A JSON response. */
export function json(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body, null, 2) + "\n", {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

const STATUS: Readonly<Record<Exclude<ErrorCategory, "internal">, number>> = {
  usage: 422,
  input: 400,
};

/**
 * The response for a thrown value, from the shared `describeError`: the request's own status for
 * an `HttpError`; 422 for a config list or setting that cannot apply (with every issue, code,
 * module, target and config path), 400 for a model that cannot be read or used (with the file,
 * field and byte offset), and 500 without details for anything else.
 */
export function errorResponse(e: unknown): Response {
  if (e instanceof HttpError) {
    return json(e.status, { error: { kind: e.name, message: e.message } });
  }
  const error = describeError(e);
  if (error.category === "internal") {
    return json(500, { error: { kind: "Error", message: "internal error" } });
  }
  return json(STATUS[error.category], { error });
}
