// JSON error responses of the edge handler. Every error body is
// `{ "error": { "kind", "code", "message", ...facts } }`, the message starting with what failed.
// `describeError` is the one table from error classes to statuses; the compression worker uses it
// too, so an error thrown there reaches the client exactly as it would from the main thread.
import { describeError as describeShared } from "../src/compress/describe_error.ts";

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
  /cannot read propert|cannot set propert|is not a function|is not iterable|is not an object|is not a constructor|cannot convert|invalid array length|out of memory|undefined is not|null is not|reading '|of undefined|of null|call stack/i;

/** The HTTP status of each category of the shared `describeError`. */
const STATUS = { usage: 422, input: 400 } as const;

/**
 * The response for a thrown value: the request's own status for an `HttpError` (limits: 408,
 * 413, 503 with `Retry-After`, 504); otherwise the shared `describeError` decides by class and
 * code — 422 for a config list or setting that cannot apply (issues, code, module, target, config
 * path), 400 for a model that cannot be read or used (file, field, byte offset) — and anything
 * else is a 500 with no detail. A plain TypeError or RangeError whose message is the engine's own
 * (a fault of the program, not a refused value) is never passed on: a client cannot act on it
 * and it could reveal internals.
 */
export function describeError(e: unknown): ErrorDescription {
  if (e instanceof HttpError) {
    return described(e.status, e.name, e.code, e.message, { ...e.details }, { ...e.headers });
  }
  const d = describeShared(e);
  const engine = (e instanceof TypeError || e instanceof RangeError) &&
    d.code === undefined && ENGINE_MESSAGE.test(e.message);
  if (d.category === "internal" || engine) {
    return described(500, "Error", "internal", "compression failed: internal error");
  }
  const { kind, code, message, ...facts } = d;
  return described(
    STATUS[d.category],
    kind,
    code ?? DEFAULT_CODE[kind] ?? "invalid",
    message,
    facts,
  );
}

/** Stable codes of the classes that have none of their own. */
const DEFAULT_CODE: Readonly<Record<string, string>> = {
  ConfigError: "config_invalid",
  ModelFormatError: "model_invalid",
};

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
