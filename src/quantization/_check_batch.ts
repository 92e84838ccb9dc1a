// Checks a calibration batch against the model's inputs before onnxruntime runs it.
import type { CalibrationTensor, OrtSession } from "./calibrate_onnx.ts";
import { tensorTypeOf } from "../io/onnx/ort.ts";
import { QuantizationError } from "./quantization_error.ts";

const show = (v: unknown) => JSON.stringify(v);

/**
 * Throws a QuantizationError naming the batch and the input when the batch does not feed exactly
 * the model's inputs, a tensor's data is not a typed array of its type, its dims do not match its
 * data, or (when the session reports input metadata) the model's input has another element type,
 * rank or fixed dim. Scalars (`dims: []`) are inputs like any other.
 */
export function checkBatch(
  batch: Readonly<Record<string, CalibrationTensor>>,
  index: number,
  session: OrtSession,
): void {
  const names = Object.keys(batch).sort();
  const want = [...session.inputNames].sort();
  if (names.join("\u0000") !== want.join("\u0000")) {
    throw new QuantizationError(
      "calibration",
      `calibration batch ${index} must feed the model inputs ${show(want)}: current value is ${
        show(names)
      }`,
    );
  }
  for (const name of want) {
    const t = batch[name];
    const where = `calibration batch ${index}, input "${name}"`;
    let type: string;
    try {
      type = tensorTypeOf(t);
    } catch (e) {
      throw new QuantizationError("calibration", `${where}: ${(e as Error).message}`);
    }
    const dims = t.dims;
    if (!Array.isArray(dims) || !dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new QuantizationError(
        "calibration",
        `${where}: dims must be non-negative integers: current value is ${show(dims)}`,
      );
    }
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) {
      throw new QuantizationError(
        "calibration",
        `${where}: dims ${show(dims)} need ${size} values: current value has ${t.data.length}`,
      );
    }
    const meta = session.inputMetadata?.find((m) => m.name === name);
    if (meta === undefined || meta.isTensor !== true) continue;
    if (meta.type !== undefined && meta.type !== type) {
      throw new QuantizationError(
        "calibration",
        `${where}: the model expects ${meta.type}: current value is ${type}`,
      );
    }
    const shape = meta.shape;
    // onnxruntime reports [] both for a scalar and for an input without a declared shape
    if (shape === undefined || shape.length === 0) continue;
    const fits = shape.length === dims.length &&
      shape.every((d, i) => typeof d !== "number" || d < 0 || d === dims[i]);
    if (!fits) {
      const expected = shape.map((d) => (typeof d === "number" && d >= 0 ? d : "?"));
      throw new QuantizationError(
        "calibration",
        `${where}: shape must be [${expected.join(", ")}]: current value is ${show(dims)}`,
      );
    }
  }
}
