/**
 * The recognizer's calibration lines as the GPTQ benchmarks feed them: lines `0 .. count - 1`
 * in four batches of `ceil(count / 4)` (the last ones shorter, empty ones dropped).
 *
 * @module
 */
import { type OcrData, ocrLines } from "../src/compress/ocr_data.ts";

/** Four batches of the first `count` recognizer lines, as `{ x: { data, dims } }` feeds. */
export function calibrationBatches(
  rec: OcrData["rec"],
  count: number,
): { x: { data: Float32Array; dims: number[] } }[] {
  const per = Math.ceil(count / 4);
  return [0, 1, 2, 3].map((b) => {
    const from = b * per;
    const lines = ocrLines(rec, from, Math.max(0, Math.min(per, count - from)));
    return { x: { data: lines.input, dims: lines.dims } };
  }).filter((b) => b.x.dims[0] > 0);
}
