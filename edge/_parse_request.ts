// The model, config list and mode of a compression request.
import { HttpError } from "./_errors.ts";
import { readBody } from "./_read_body.ts";

/** What a request asks for. */
export interface CompressionRequest {
  readonly model: Uint8Array;
  readonly name: string;
  readonly configList: unknown;
  readonly mode: "pruning" | "quantization";
  readonly algorithm?: string;
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
      'a config list is required: a "config" form field, a "config" query parameter or an "x-nncompress-config" header',
    );
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, `the config list is not valid JSON: ${(e as Error).message}`);
  }
}

function parseMode(value: string | null, configList: unknown): "pruning" | "quantization" {
  if (value === null || value === "") return inferMode(configList);
  if (value !== "pruning" && value !== "quantization") {
    throw new HttpError(
      400,
      `"mode" must be pruning or quantization: current value is ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/**
 * Reads a request: `multipart/form-data` with a `model` file and `config`, `mode`, `algorithm`
 * fields, or the model as the raw body with the other values in the query string or
 * `x-nncompress-*` headers.
 */
export async function parseRequest(
  request: Request,
  maxBytes: number,
): Promise<CompressionRequest> {
  const url = new URL(request.url);
  const type = request.headers.get("content-type") ?? "";
  const body = await readBody(request, maxBytes);
  const report = url.searchParams.get("report") === "json";
  if (type.startsWith("multipart/form-data")) {
    let form: FormData;
    try {
      form = await new Response(body as Uint8Array<ArrayBuffer>, {
        headers: { "content-type": type },
      })
        .formData();
    } catch {
      throw new HttpError(400, "the multipart body could not be parsed");
    }
    const file = form.get("model");
    if (file === null || typeof file === "string") {
      throw new HttpError(400, 'the multipart body needs a file field named "model"');
    }
    const configList = parseConfig(form.get("config") as string | null);
    const algorithm = form.get("algorithm");
    return {
      model: new Uint8Array(await file.arrayBuffer()),
      name: file.name || "model.safetensors",
      configList,
      mode: parseMode(form.get("mode") as string | null, configList),
      ...(typeof algorithm === "string" && algorithm !== "" ? { algorithm } : {}),
      report,
    };
  }
  if (type.startsWith("application/json") || type.startsWith("text/")) {
    throw new HttpError(
      415,
      'send the model as multipart/form-data (field "model") or as application/octet-stream',
    );
  }
  if (body.length === 0) throw new HttpError(400, "the body is empty: send a model file");
  const configList = parseConfig(
    url.searchParams.get("config") ?? request.headers.get("x-nncompress-config"),
  );
  const algorithm = url.searchParams.get("algorithm") ??
    request.headers.get("x-nncompress-algorithm");
  return {
    model: body,
    name: url.searchParams.get("name") ?? "model.safetensors",
    configList,
    mode: parseMode(
      url.searchParams.get("mode") ?? request.headers.get("x-nncompress-mode"),
      configList,
    ),
    ...(algorithm ? { algorithm } : {}),
    report,
  };
}
