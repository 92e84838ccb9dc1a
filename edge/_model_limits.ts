// Cheap checks of an uploaded model's size before it is decoded: the header (safetensors JSON,
// the ONNX graph outside its initializers, a tfjs model.json) and the number of tensors (and ONNX nodes). A file of
// 100k tiny tensors costs far more to decode and compress than its byte size suggests.
import { detectFormat } from "../src/compress/load_model.ts";
import { HttpError } from "./_errors.ts";

/** The limits `checkModelLimits` applies. */
export interface ModelLimits {
  /** The most tensors (safetensors entries, ONNX initializers, ONNX nodes). */
  readonly maxTensors: number;
  /** The largest header: safetensors JSON, or ONNX graph bytes outside initializers. */
  readonly maxHeaderBytes: number;
}

function headerLimit(name: string, value: number, max: number, what: string): HttpError {
  return new HttpError(
    413,
    "header_limit",
    `model header must be at most ${max} bytes: ${what} of "${name}" is ${value} bytes`,
    { details: { limit: "maxHeaderBytes", max, value } },
  );
}

function tensorLimit(name: string, value: number, max: number, what: string): HttpError {
  return new HttpError(
    422,
    "tensor_limit",
    `model must have at most ${max} ${what}: "${name}" has ${value}`,
    { details: { limit: "maxTensors", max, value } },
  );
}

/** Reads a protobuf varint at `at`; returns [value, next] or undefined past the end. */
function varint(bytes: Uint8Array, at: number): [number, number] | undefined {
  let value = 0;
  let scale = 1;
  for (let i = at; i < bytes.length && i < at + 10; i++) {
    value += (bytes[i] & 0x7f) * scale;
    scale *= 128;
    if (bytes[i] < 0x80) return [value, i + 1];
  }
  return undefined;
}

/**
 * Visits the top-level fields of a protobuf message; stops quietly at the first malformed field
 * (the decoder reports it with its offset later).
 */
function fields(
  bytes: Uint8Array,
  start: number,
  end: number,
  visit: (field: number, begin: number, finish: number) => void,
): void {
  let at = start;
  while (at < end) {
    const key = varint(bytes, at);
    if (key === undefined) return;
    const [tag, afterKey] = key;
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    let next: number;
    if (wire === 0) {
      const v = varint(bytes, afterKey);
      if (v === undefined) return;
      next = v[1];
    } else if (wire === 1) next = afterKey + 8;
    else if (wire === 5) next = afterKey + 4;
    else if (wire === 2) {
      const n = varint(bytes, afterKey);
      if (n === undefined) return;
      visit(field, n[1], n[1] + n[0]);
      next = n[1] + n[0];
    } else return;
    if (next > end) return;
    at = next;
  }
}

/**
 * Refuses a model over the limits: 413 `header_limit`, 422 `tensor_limit`, each with the limit
 * and the value. Malformed files pass through to the decoder, which names the byte offset.
 */
export function checkModelLimits(bytes: Uint8Array, name: string, limits: ModelLimits): void {
  const format = detectFormat(bytes, name);
  if (format === "tfjs") {
    // model.json is all header: its topology, and one manifest entry per weight.
    if (bytes.length > limits.maxHeaderBytes) {
      throw headerLimit(name, bytes.length, limits.maxHeaderBytes, "model.json");
    }
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      return;
    }
    const groups = (json as { weightsManifest?: unknown })?.weightsManifest;
    if (!Array.isArray(groups)) return;
    let count = 0;
    for (const g of groups) {
      const weights = (g as { weights?: unknown })?.weights;
      if (Array.isArray(weights)) count += weights.length;
    }
    if (count > limits.maxTensors) throw tensorLimit(name, count, limits.maxTensors, "weights");
    return;
  }
  if (format === "safetensors") {
    if (bytes.length < 8) return;
    const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
    if (n > BigInt(limits.maxHeaderBytes)) {
      throw headerLimit(name, Number(n), limits.maxHeaderBytes, "the safetensors header");
    }
    let header: unknown;
    try {
      header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + Number(n))));
    } catch {
      return;
    }
    if (typeof header !== "object" || header === null) return;
    let count = 0;
    for (const key in header) if (key !== "__metadata__") count++;
    if (count > limits.maxTensors) throw tensorLimit(name, count, limits.maxTensors, "tensors");
    return;
  }
  // ONNX: ModelProto.graph is field 7; GraphProto.node is field 1, .initializer field 5.
  let graph: [number, number] | undefined;
  fields(bytes, 0, bytes.length, (field, begin, end) => {
    if (field === 7) graph = [begin, end];
  });
  if (graph === undefined) return;
  let nodes = 0;
  let initializers = 0;
  let initializerBytes = 0;
  fields(bytes, graph[0], graph[1], (field, begin, end) => {
    if (field === 1) nodes++;
    if (field === 5) (initializers++, initializerBytes += end - begin);
  });
  if (initializers > limits.maxTensors) {
    throw tensorLimit(name, initializers, limits.maxTensors, "initializers");
  }
  if (nodes > limits.maxTensors) throw tensorLimit(name, nodes, limits.maxTensors, "nodes");
  const structure = graph[1] - graph[0] - initializerBytes;
  if (structure > limits.maxHeaderBytes) {
    throw headerLimit(
      name,
      structure,
      limits.maxHeaderBytes,
      "the ONNX graph outside initializers",
    );
  }
}
