// The model, config list and mode of a compression request.
import { HttpError } from "./_errors.ts";
import { parseMultipart } from "./_multipart.ts";
import { readBody, type ReadBodyLimits } from "./_read_body.ts";

/** What a request asks for. */
export interface CompressionRequest {
  readonly model: Uint8Array;
  readonly name: string;
  readonly configList: unknown;
  readonly mode: "pruning" | "quantization";
  readonly algorithm?: string;
  /** The parsed `registry` field: extra default targets per module class. */
  readonly registry?: unknown;
  readonly report: boolean;
}

const QUANT_KEYS = ["quant_dtype", "quant_scheme", "quant_types", "quant_bits"];

/** `pruning` unless a sub-config has a quantization key. */
function inferMode(configList: unknown): "pruning" | "quantization" {
  const subs = Array.isArray(configList) ? configList : [];
  const quant = subs.some((c) =>
    typeof c === "object" && c !== null &&
    (QUANT_KEYS.some((k) => k in c) ||
      Object.values((c as { target_settings?: object }).target_settings ?? {}).some((s) =>
        typeof s === "object" && s !== null && "quant_dtype" in s
      ))
  );
  return quant ? "quantization" : "pruning";
}

function parseConfig(text: string | null): unknown {
  if (text === null || text.trim() === "") {
    throw new HttpError(
      400,
      "config_missing",
      'config list is required: a "config" form field, a "config" query parameter or an "x-nncompress-config" header',
    );
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError(
      400,
      "config_not_json",
      `config list is not valid JSON: ${(e as Error).message}`,
    );
  }
}

/** The optional `registry` JSON (absent or empty: none). */
function parseRegistry(text: string | null): { registry?: unknown } {
  if (text === null || text.trim() === "") return {};
  try {
    return { registry: JSON.parse(text) };
  } catch (e) {
    throw new HttpError(
      400,
      "registry_not_json",
      `registry is not valid JSON: ${(e as Error).message}`,
    );
  }
}

function parseMode(value: string | null, configList: unknown): "pruning" | "quantization" {
  if (value === null || value === "") return inferMode(configList);
  if (value !== "pruning" && value !== "quantization") {
    throw new HttpError(
      400,
      "mode_invalid",
      `"mode" must be pruning or quantization: current value is ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/**
 * Reads a request: `multipart/form-data` with a `model` file and `config`, `mode`, `algorithm`,
 * `registry` fields, or the model as the raw body with the other values in the query string or
 * `x-nncompress-*` headers. The model is a view of the one body buffer; `release()` gives that
 * buffer back to the memory budget.
 */
export async function parseRequest(
  request: Request,
  limits: ReadBodyLimits,
  started: number,
): Promise<CompressionRequest & { release(): void }> {
  const url = new URL(request.url);
  const type = request.headers.get("content-type") ?? "";
  const report = url.searchParams.get("report") === "json";
  if (type.startsWith("application/json") || type.startsWith("text/")) {
    await request.body?.cancel().catch(() => {});
    throw new HttpError(
      415,
      "unsupported_media_type",
      'request body must be multipart/form-data (field "model") or application/octet-stream: ' +
        `current content-type is ${JSON.stringify(type)}`,
    );
  }
  const body = await readBody(request, limits, started);
  try {
    if (type.startsWith("multipart/form-data")) {
      const form = parseMultipart(body.bytes, type);
      const text = (name: string) => {
        const part = form.get(name);
        return part === undefined ? null : new TextDecoder().decode(part.bytes);
      };
      const file = form.get("model");
      if (file === undefined || file.filename === undefined) {
        throw new HttpError(
          400,
          "model_missing",
          'multipart body needs a file field named "model": there is none',
        );
      }
      const configList = parseConfig(text("config"));
      const algorithm = text("algorithm");
      return {
        model: file.bytes,
        name: file.filename || "model.safetensors",
        configList,
        mode: parseMode(text("mode"), configList),
        ...(algorithm !== null && algorithm !== "" ? { algorithm } : {}),
        ...parseRegistry(text("registry")),
        report,
        release: body.release,
      };
    }
    if (body.bytes.length === 0) {
      throw new HttpError(400, "model_missing", "request body is empty: send a model file");
    }
    const configList = parseConfig(
      url.searchParams.get("config") ?? request.headers.get("x-nncompress-config"),
    );
    const algorithm = url.searchParams.get("algorithm") ??
      request.headers.get("x-nncompress-algorithm");
    return {
      model: body.bytes,
      name: url.searchParams.get("name") ?? "model.safetensors",
      configList,
      mode: parseMode(
        url.searchParams.get("mode") ?? request.headers.get("x-nncompress-mode"),
        configList,
      ),
      ...(algorithm ? { algorithm } : {}),
      ...parseRegistry(
        url.searchParams.get("registry") ?? request.headers.get("x-nncompress-registry"),
      ),
      report,
      release: body.release,
    };
  } catch (e) {
    body.release();
    throw e;
  }
}
