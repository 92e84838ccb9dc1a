// Checks a calibration batch against the model's inputs before onnxruntime runs it.
import type { CalibrationTensor, OrtSession } from "./calibrate_onnx.ts";
import { QuantizationError } from "./quantization_error.ts";

const show = (v: unknown) => JSON.stringify(v);

/**
 * Throws a RangeError naming the batch and the input when the batch does not feed exactly the
 * model's inputs, a tensor is not float32, its dims do not match its data, or (when the session
 * reports input metadata) the model's input is not float32 or has another rank or fixed dim.
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
    if (!(t?.data instanceof Float32Array)) {
      const got = (t?.data as { constructor?: { name?: string } } | undefined)?.constructor?.name;
      throw new QuantizationError(
        "calibration",
        `${where}: data must be a Float32Array: current value is ${got}`,
      );
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
    if (meta.type !== undefined && meta.type !== "float32") {
      throw new QuantizationError(
        "calibration",
        `${where}: the model expects ${meta.type}, calibration feeds float32 only`,
      );
    }
    const shape = meta.shape;
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
