// The model, config list and mode of a compression request.
import { type Storage, STORAGES } from "../src/compress/compress_model.ts";
import { HttpError } from "./_errors.ts";
import { multipartParts, type Part } from "./_multipart.ts";
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
  /**
   * The model's other files by name: the weight shards of a TensorFlow.js `model.json`, or the
   * external data files of an ONNX model (multipart fields `files`).
   */
  readonly files?: ReadonlyMap<string, Uint8Array>;
  /** Storage and TensorFlow.js options (fields or query parameters named as the CLI's flags). */
  readonly options?: RequestOptions;
  readonly report: boolean;
}

/**
 * The compression options a request may set, each named as the CLI's flag: `storage`,
 * `shard-bytes`, `headroom`, `equalize`, `channel-scales`. Absent ones keep `compressModel`'s
 * defaults.
 */
export interface RequestOptions {
  readonly storage?: Storage;
  readonly shardBytes?: number;
  readonly headroom?: number;
  readonly equalize?: boolean;
  readonly channelScales?: boolean;
}

function optionError(name: string, rule: string, value: string): HttpError {
  return new HttpError(
    400,
    "option_invalid",
    `"${name}" must be ${rule}: current value is ${JSON.stringify(value)}`,
    { details: { option: name, value } },
  );
}

function flag(name: string, value: string): boolean {
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw optionError(name, "true, false, 1 or 0", value);
}

/** The options named by `value(name)` (a form field, a query parameter or a header); "" is absent. */
function parseOptions(value: (name: string) => string | null): { options?: RequestOptions } {
  const get = (name: string) => {
    const v = value(name);
    return v === null || v.trim() === "" ? undefined : v.trim();
  };
  const options: {
    -readonly [K in keyof RequestOptions]: RequestOptions[K];
  } = {};
  const storage = get("storage");
  if (storage !== undefined) {
    const known = STORAGES.find((s) => s === storage);
    if (known === undefined) throw optionError("storage", `one of ${STORAGES.join(", ")}`, storage);
    options.storage = known;
  }
  const shard = get("shard-bytes");
  if (shard !== undefined) {
    const n = Number(shard);
    if (!(Number.isSafeInteger(n) && n > 0)) {
      throw optionError("shard-bytes", "a positive integer", shard);
    }
    options.shardBytes = n;
  }
  const headroom = get("headroom");
  if (headroom !== undefined) {
    const x = Number(headroom);
    if (!(x >= 0 && x <= 1)) throw optionError("headroom", "a number from 0 to 1", headroom);
    options.headroom = x;
  }
  const equalize = get("equalize");
  if (equalize !== undefined) options.equalize = flag("equalize", equalize);
  const scales = get("channel-scales");
  if (scales !== undefined) options.channelScales = flag("channel-scales", scales);
  return Object.keys(options).length === 0 ? {} : { options };
}

/** The `files` parts by file name; a part without a name or a name given twice is refused. */
function filesOf(parts: readonly { name: string; part: Part }[]): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  for (const { name, part } of parts) {
    if (name !== "files") continue;
    const file = part.filename;
    if (file === undefined || file === "") {
      throw new HttpError(
        400,
        "multipart_invalid",
        'multipart field "files" must be a file with a name (the shard or data file path the model names): one has none',
      );
    }
    if (files.has(file)) {
      throw new HttpError(
        400,
        "multipart_invalid",
        `multipart field "files" must name each file once: ${JSON.stringify(file)} is given twice`,
      );
    }
    files.set(file, part.bytes);
  }
  return files;
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
 * Reads a request: `multipart/form-data` with a `model` file, its other files (`files`: a
 * `model.json`'s shards, an ONNX model's external data) and `config`, `mode`, `algorithm`,
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
      const all = multipartParts(body.bytes, type);
      const form = new Map<string, Part>();
      for (const { name, part } of all) if (!form.has(name)) form.set(name, part);
      const files = filesOf(all);
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
        ...parseOptions(text),
        ...(files.size === 0 ? {} : { files }),
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
      ...parseOptions((name) =>
        url.searchParams.get(name) ?? request.headers.get(`x-nncompress-${name}`)
      ),
      report,
      release: body.release,
    };
  } catch (e) {
    body.release();
    throw e;
  }
}
