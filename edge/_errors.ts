// JSON error responses of the edge handler. Every error body is
// `{ "error": { "kind", "code", "message", ...facts } }`, the message starting with what failed.
// `describeError` is the one table from error classes to statuses; the compression worker uses it
// too, so an error thrown there reaches the client exactly as it would from the main thread.
import { ConfigError } from "../src/config/config_error.ts";
import { ModelFormatError } from "../src/io/model_format_error.ts";
import { PruningError } from "../src/pruning/pruning_error.ts";

/** A request the handler refuses, with its HTTP status, a stable code and the facts. */
export class HttpError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** A stable code (`body_timeout`, `busy`, `tensor_limit`, …). */
  readonly code: string;
  /** Facts for the JSON body (`limit`, `value`, …). */
  readonly details: Readonly<Record<string, unknown>>;
  /** Response headers (`retry-after`, `allow`). */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * @param status The HTTP status.
   * @param code A stable code.
   * @param message What failed, the rule, the current value.
   * @param extra Facts for the JSON body and response headers.
   */
  constructor(
    status: number,
    code: string,
    message: string,
    extra: {
      readonly details?: Record<string, unknown>;
      readonly headers?: Record<string, string>;
    } = {},
  ) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.code = code;
    this.details = extra.details ?? {};
    this.headers = extra.headers ?? {};
  }
}

/** The status, headers and JSON body describing an error. */
export interface ErrorDescription {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: {
    readonly error: {
      readonly kind: string;
      readonly code: string;
      readonly message: string;
      readonly [fact: string]: unknown;
    };
  };
}

function described(
  status: number,
  kind: string,
  code: string,
  message: string,
  facts: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): ErrorDescription {
  return { status, headers, body: { error: { kind, code, message, ...facts } } };
}

/** Messages of TypeErrors and RangeErrors thrown by JavaScript engines (V8, JavaScriptCore). */
const ENGINE_MESSAGE =
  /cannot read propert|cannot set propert|is not a function|is not iterable|is not an object|is not a constructor|cannot convert|invalid array length|out of memory|undefined is not|null is not|reading '|of undefined|of null/i;

/**
 * The response for a thrown value: 4xx for the client's mistakes, 503/504 for the server's
 * limits, 500 (with no detail) otherwise.
 */
export function describeError(e: unknown): ErrorDescription {
  if (e instanceof HttpError) {
    return described(e.status, e.name, e.code, e.message, { ...e.details }, { ...e.headers });
  }
  if (e instanceof ConfigError) {
    return described(422, e.name, "config_invalid", e.message, { issues: e.issues });
  }
  if (e instanceof ModelFormatError) {
    return described(400, e.name, "model_invalid", e.message, {
      file: e.file,
      field: e.field,
      offset: e.offset,
    });
  }
  if (e instanceof PruningError) {
    return described(422, e.name, e.code, e.message);
  }
  if (e instanceof RangeError || e instanceof TypeError) {
    // The library throws these for values it refuses (an unknown algorithm, a storage the format
    // cannot hold), with messages meant for users. The engine throws them for bugs and
    // exhaustion; those messages mean nothing to a client and are not passed on.
    if (/call stack/i.test(e.message)) {
      return described(
        422,
        e.name,
        "too_deep",
        "compression failed: the model is too large to process",
      );
    }
    if (!ENGINE_MESSAGE.test(e.message)) return described(422, e.name, "invalid", e.message);
  }
  return described(500, "Error", "internal", "compression failed: internal error");
}

/** A JSON response. */
export function json(
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): Response {
  return new Response(JSON.stringify(body, null, 2) + "\n", {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** The JSON response for a description from `describeError`. */
export function describedResponse(d: ErrorDescription): Response {
  return json(d.status, d.body, d.headers);
}

/** The JSON response for a thrown value. */
export function errorResponse(e: unknown): Response {
  return describedResponse(describeError(e));
}
