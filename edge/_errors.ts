// JSON error responses of the edge handler.
import { ConfigError } from "../src/config/config_error.ts";
import { ModelFormatError } from "../src/io/model_format_error.ts";
import { PruningError } from "../src/pruning/pruning_error.ts";

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

/** The response for a thrown value: 4xx for the client's mistakes, 500 otherwise. */
export function errorResponse(e: unknown): Response {
  if (e instanceof HttpError) {
    return json(e.status, { error: { kind: e.name, message: e.message } });
  }
  if (e instanceof ConfigError) {
    return json(422, { error: { kind: e.name, message: e.message, issues: e.issues } });
  }
  if (e instanceof ModelFormatError) {
    return json(400, {
      error: { kind: e.name, message: e.message, file: e.file, field: e.field, offset: e.offset },
    });
  }
  if (e instanceof PruningError || e instanceof RangeError || e instanceof TypeError) {
    return json(422, { error: { kind: e.name, message: e.message } });
  }
  return json(500, { error: { kind: "Error", message: "internal error" } });
}
