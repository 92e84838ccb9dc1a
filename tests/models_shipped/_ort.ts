// Running two models on the same inputs in onnxruntime-node and comparing their outputs.
import { loadOrt } from "../io/_ocr.ts";
import { values } from "./_models.ts";

/** The outputs of a model (a path, so external data resolve, or bytes) by name. */
export async function runModel(
  model: string | Uint8Array,
  input: string,
  dims: readonly number[],
): Promise<Record<string, Float32Array>> {
  const ort = await loadOrt();
  const session = await ort.InferenceSession.create(model);
  const n = dims.reduce((a, b) => a * b, 1);
  const x = new ort.Tensor("float32", values(n, 99, 1.5), [...dims]);
  const out = await session.run({ [input]: x });
  const result: Record<string, Float32Array> = {};
  for (const name of session.outputNames) result[name] = out[name].data as Float32Array;
  await session.release?.();
  return result;
}

/** The largest absolute difference, and it relative to the reference's largest magnitude. */
export function difference(a: Float32Array, b: Float32Array): { max: number; relative: number } {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} and ${b.length}`);
  let max = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    max = Math.max(max, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(a[i]));
  }
  return { max, relative: max / scale };
}
