/**
 * The part of the onnxruntime API nncompress uses (calibration, Wanda's input norms, evaluation),
 * as structural types: `onnxruntime-node` and `onnxruntime-web` both satisfy them, and neither is
 * a dependency of the library.
 *
 * @module
 */

/** The element types of onnxruntime tensors that nncompress feeds (strings are not fed). */
export type OrtTensorType =
  | "float32"
  | "float16"
  | "float64"
  | "int8"
  | "uint8"
  | "int16"
  | "uint16"
  | "int32"
  | "uint32"
  | "int64"
  | "uint64"
  | "bool";

/** The typed arrays behind an input tensor (float16 as `Uint16Array` bits, bool as `Uint8Array`). */
export type InputData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** A model input (or output) of any element type: calibration batches, evaluation feeds. */
export interface InputTensor {
  /** The values, row-major. */
  readonly data: InputData;
  /** The dims (`[]` for a scalar). */
  readonly dims: readonly number[];
  /**
   * The element type; needed for `float16` (`Uint16Array` bits) and `bool` (`Uint8Array`),
   * otherwise implied by the array (`tensorTypeOf`).
   */
  readonly type?: OrtTensorType;
}

/** An onnxruntime inference session. */
export interface OrtSession {
  /** The graph's input names. */
  readonly inputNames: readonly string[];
  /** The graph's output names. */
  readonly outputNames: readonly string[];
  /** Input types and shapes (onnxruntime >= 1.21); checked against each batch when present. */
  readonly inputMetadata?: readonly {
    readonly name: string;
    readonly isTensor: boolean;
    readonly type?: string;
    readonly shape?: readonly (number | string)[];
  }[];
  /** Runs the graph on named inputs; resolves with every output. */
  run(
    feeds: Record<string, unknown>,
  ): Promise<Record<string, { readonly data: unknown; readonly dims: readonly number[] }>>;
  /** Frees the session's native memory. */
  release?(): Promise<void>;
}

/**
 * The onnxruntime module: `await import("onnxruntime-node")` or `await import("onnxruntime-web")`.
 *
 * @example
 * ```ts
 * import type { OrtLike } from "./ort.ts";
 *
 * const ort: OrtLike = await import("onnxruntime-node");
 * if (typeof ort.InferenceSession.create !== "function") throw new Error("unexpected");
 * ```
 */
export interface OrtLike {
  /** Creates sessions from model bytes. */
  readonly InferenceSession: {
    create(model: Uint8Array, options?: Record<string, unknown>): Promise<OrtSession>;
  };
  /** The tensor class. */
  readonly Tensor: new (type: OrtTensorType, data: InputData, dims: readonly number[]) => unknown;
}

const ARRAY_TYPES: readonly [new (n: number) => InputData, OrtTensorType][] = [
  [Float32Array, "float32"],
  [Float64Array, "float64"],
  [Int8Array, "int8"],
  [Uint8Array, "uint8"],
  [Int16Array, "int16"],
  [Uint16Array, "uint16"],
  [Int32Array, "int32"],
  [Uint32Array, "uint32"],
  [BigInt64Array, "int64"],
  [BigUint64Array, "uint64"],
];

/** The typed array class of each element type. */
export const ORT_ARRAYS: Readonly<Record<OrtTensorType, new (n: number) => InputData>> = {
  float32: Float32Array,
  float16: Uint16Array,
  float64: Float64Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
} satisfies Record<OrtTensorType, unknown>;

/**
 * The element type of a tensor: its `type` when set (checked against the array), else the one
 * its array implies (`Uint16Array` is uint16 and `Uint8Array` uint8 unless `type` says float16
 * or bool).
 *
 * @param t The tensor.
 * @returns The onnxruntime type name.
 * @throws {TypeError} When `data` is not one of the typed arrays of `InputData`, or `type` does
 * not fit it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tensorTypeOf } from "./ort.ts";
 *
 * assert.equal(tensorTypeOf({ data: new BigInt64Array([16000n]), dims: [] }), "int64");
 * assert.equal(tensorTypeOf({ data: new Uint8Array(2), dims: [2], type: "bool" }), "bool");
 * assert.throws(() => tensorTypeOf({ data: new Float32Array(1), dims: [1], type: "int64" }));
 * ```
 */
export function tensorTypeOf(t: InputTensor): OrtTensorType {
  const found = ARRAY_TYPES.find(([C]) => t.data instanceof C);
  if (found === undefined) {
    const got = (t.data as { constructor?: { name?: string } } | undefined)?.constructor?.name;
    throw new TypeError(
      `tensor data must be a typed array (Float32Array, BigInt64Array, …): current value is ${got}`,
    );
  }
  if (t.type === undefined) return found[1];
  if (!(t.data instanceof ORT_ARRAYS[t.type])) {
    throw new TypeError(
      `a ${t.type} tensor holds a ${ORT_ARRAYS[t.type].name}: current value is a ${found[0].name}`,
    );
  }
  return t.type;
}

/**
 * An onnxruntime tensor of any element type.
 *
 * @param ort The onnxruntime module.
 * @param t The tensor.
 * @returns `new ort.Tensor(type, data, dims)`.
 * @throws {TypeError} As `tensorTypeOf`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toOrtTensor } from "./ort.ts";
 *
 * const ort = await import("onnxruntime-node");
 * const sr = toOrtTensor(ort, { data: BigInt64Array.of(16000n), dims: [] }) as { type: string };
 * assert.equal(sr.type, "int64");
 * ```
 */
export function toOrtTensor(ort: OrtLike, t: InputTensor): unknown {
  const type = tensorTypeOf(t);
  const tensor = new ort.Tensor(type, t.data, t.dims);
  // Where the runtime has Float16Array (Deno, Bun), onnxruntime-common turns float16 bits into
  // a Float16Array view, which onnxruntime-node's binding reads as 0 bytes ("not enough space:
  // expected 16, got 0"). The bits are what every backend reads: keep them.
  const held = tensor as { cpuData?: unknown };
  if (type === "float16" && "cpuData" in held && !(held.cpuData instanceof Uint16Array)) {
    held.cpuData = t.data;
  }
  return tensor;
}

/**
 * A tensor that onnxruntime returned, as an `InputTensor`: a `Float16Array` (runtimes that have
 * one) becomes its `Uint16Array` bits with `type: "float16"`, bools keep `type: "bool"`.
 *
 * @param value An output of `session.run()`.
 * @returns The tensor, or `undefined` for strings and non-tensor values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fromOrtTensor } from "./ort.ts";
 *
 * const t = fromOrtTensor({ type: "int64", data: BigInt64Array.of(7n), dims: [1] });
 * assert.deepEqual(t, { data: BigInt64Array.of(7n), dims: [1] });
 * assert.equal(fromOrtTensor({ type: "string", data: ["a"], dims: [1] }), undefined);
 * ```
 */
export function fromOrtTensor(
  value: { readonly data: unknown; readonly dims: readonly number[]; readonly type?: string },
): InputTensor | undefined {
  const { data, dims } = value;
  if (!ArrayBuffer.isView(data) || data instanceof DataView) return undefined;
  if (value.type === "float16" || data.constructor.name === "Float16Array") {
    const bits = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
    return { data: bits, dims: [...dims], type: "float16" };
  }
  const t: InputTensor = {
    data: data as InputData,
    dims: [...dims],
    ...(value.type === "bool" ? { type: "bool" as const } : {}),
  };
  try {
    tensorTypeOf(t);
    return t;
  } catch {
    return undefined;
  }
}
