/** Encoding TensorProto messages for replaced tensors. */

import type { OnnxReplacement } from "./encode_onnx.ts";
import type { OnnxModel, OnnxTensor } from "./onnx_types.ts";
import { forEachField } from "./_wire.ts";
import { concat, intField, lenField, lenHeader } from "./proto_writer.ts";

/** Where a re-encoded tensor's values go: inline, or a range of an external data file. */
export interface TensorPlace {
  /** The external file's `location`; absent for `raw_data` in the model. */
  readonly location?: string;
  /** The byte offset in the external file. */
  readonly offset?: number;
}

const DATA_FIELDS = new Set([4, 5, 6, 7, 9, 10, 11]);
/** A `StringStringEntryProto` in `external_data` (field 13). */
function entry(key: string, value: string): Uint8Array {
  return lenField(13, concat([lenField(1, key), lenField(2, value)]));
}

/** The `external_data` key of an entry field. */
function entryKey(model: OnnxModel, start: number, end: number, path: string): string {
  let key = "";
  forEachField(model, start, end, path, (g) => {
    if (g.number === 1) key = new TextDecoder().decode(model.bytes.subarray(g.start, g.end));
  });
  return key;
}

/**
 * A TensorProto with the same fields in the same order and new dims; the values go to
 * `raw_data`, or (with `place.location`) to an external range described by `external_data`
 * (`location`, `offset`, `length`; a stale `checksum` is dropped, other keys are kept).
 */
export function encodeTensor(
  model: OnnxModel,
  t: OnnxTensor,
  r: OnnxReplacement,
  place: TensorPlace = {},
): Uint8Array {
  const parts: (Uint8Array | number[])[] = [];
  const kept: Uint8Array[] = [];
  let wroteDims = false;
  let wroteData = false;
  const dims = () => {
    if (wroteDims) return;
    wroteDims = true;
    for (const d of r.dims ?? t.dims) parts.push(intField(1, d));
  };
  const data = () => {
    if (wroteData) return;
    wroteData = true;
    if (place.location === undefined) {
      parts.push(lenHeader(9, r.bytes.length), r.bytes);
      return;
    }
    for (const k of kept) parts.push(k); // a loop: `kept` is as long as the input makes it
    parts.push(
      entry("location", place.location),
      entry("offset", String(place.offset ?? 0)),
      entry("length", String(r.bytes.length)),
      intField(14, 1), // data_location: EXTERNAL
    );
  };
  const fields: { number: number; tagStart: number; start: number; end: number }[] = [];
  forEachField(model, t.span.start, t.span.end, t.path, (f) => void fields.push(f));
  for (const f of fields) {
    if (f.number !== 13) continue;
    const key = entryKey(model, f.start, f.end, t.path);
    if (!["location", "offset", "length", "checksum"].includes(key)) {
      kept.push(model.bytes.subarray(f.tagStart, f.end));
    }
  }
  for (const f of fields) {
    if (f.number === 1) dims();
    else if (DATA_FIELDS.has(f.number) || f.number === 13 || f.number === 14) data();
    else parts.push(model.bytes.subarray(f.tagStart, f.end));
  }
  dims();
  data();
  return concat(parts);
}
