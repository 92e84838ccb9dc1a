/** Decoding a TensorProto into a lazy description (offsets only, no data copied). */

import { elementCount } from "../../tensor/dtype.ts";
import { ONNX_DTYPES, onnxStoredBytes } from "../../tensor/onnx_data_type.ts";
import type { OnnxTensor, TensorStorage } from "./onnx_types.ts";
import {
  expectWire,
  fail,
  type Field,
  forEachField,
  LEN,
  readInt64,
  readInt64s,
  readString,
  type Span,
  type WireContext,
} from "./_wire.ts";

/** Which `TensorProto` field holds typed (non-raw) values for each data type code. */
const TYPED_FIELD: Readonly<Record<number, number>> = {
  1: 4, // float_data
  2: 5, // int32_data for UINT8, INT8, UINT16, INT16, INT32, BOOL, FLOAT16, BFLOAT16, FLOAT8*
  3: 5,
  4: 5,
  5: 5,
  6: 5,
  9: 5,
  10: 5,
  16: 5,
  17: 5,
  18: 5,
  19: 5,
  20: 5,
  21: 5, // UINT4, INT4, FLOAT4E2M1: one int32_data value per packed byte
  22: 5,
  23: 5,
  7: 7, // int64_data
  11: 10, // double_data
  12: 11, // uint64_data
  13: 11,
};

const DATA_FIELDS = new Set([4, 5, 6, 7, 9, 10, 11]);

/** Decodes the TensorProto whose field is `f`, enclosed by `ancestors`. */
export function decodeTensor(
  ctx: WireContext,
  f: Field,
  ancestors: readonly Span[],
  path: string,
  kind: OnnxTensor["kind"],
  nameOverride?: string,
): OnnxTensor {
  expectWire(ctx, f, LEN, path);
  const span: Span = { tagStart: f.tagStart, start: f.start, end: f.end };
  const dims: number[] = [];
  let dataType = 0;
  let name = "";
  let raw: Field | undefined;
  const typed: Field[] = [];
  const external: Record<string, string> = {};
  let location = 0;
  forEachField(ctx, f.start, f.end, path, (g) => {
    switch (g.number) {
      case 1:
        readInt64s(ctx, g, `${path}.dims`, dims);
        break;
      case 2:
        dataType = readInt64(ctx, g, `${path}.data_type`);
        break;
      case 8:
        name = readString(ctx, g, `${path}.name`);
        break;
      case 9:
        expectWire(ctx, g, LEN, `${path}.raw_data`);
        raw = g;
        break;
      case 13: {
        let key = "";
        let value = "";
        expectWire(ctx, g, LEN, `${path}.external_data`);
        forEachField(ctx, g.start, g.end, `${path}.external_data`, (h) => {
          if (h.number === 1) key = readString(ctx, h, `${path}.external_data.key`);
          if (h.number === 2) value = readString(ctx, h, `${path}.external_data.value`);
        });
        external[key] = value;
        break;
      }
      case 14:
        location = readInt64(ctx, g, `${path}.data_location`);
        break;
      default:
        if (DATA_FIELDS.has(g.number)) typed.push(g);
    }
  });
  const tensorName = nameOverride ?? name;
  const where = tensorName === "" ? path : tensorName;
  const count = elementCount(dims);
  if (count === undefined || dims.some((d) => d < 0)) {
    fail(ctx, where, f.start, `dims [${dims}] must be non-negative with a safe-integer product`);
  }
  const dtype = ONNX_DTYPES[dataType];
  let storage: TensorStorage;
  if (location === 1) {
    const offset = Number(external.offset ?? "0");
    const length = external.length === undefined ? undefined : Number(external.length);
    if (
      typeof external.location !== "string" || !Number.isSafeInteger(offset) || offset < 0 ||
      (length !== undefined && (!Number.isSafeInteger(length) || length < 0))
    ) {
      fail(
        ctx,
        where,
        f.start,
        `external_data ${JSON.stringify(external)} needs a location and valid offset/length`,
      );
    }
    storage = { kind: "external", location: external.location, offset, length };
  } else if (raw !== undefined) {
    const need = onnxStoredBytes(dataType, count!);
    if (need !== undefined && raw.end - raw.start !== need) {
      fail(
        ctx,
        where,
        raw.start,
        `raw_data has ${raw.end - raw.start} bytes but ${
          dtype ?? `data type ${dataType}`
        } [${dims}] needs ${need}`,
      );
    }
    storage = { kind: "raw", start: raw.start, end: raw.end };
  } else {
    const field = TYPED_FIELD[dataType];
    const fields = typed.filter((t) => t.number === field);
    // Every value takes at least one byte: a cheap bound before anything is allocated.
    const available = fields.reduce((a, t) => a + t.end - t.start, 0);
    const values = dtype !== undefined ? count! : onnxStoredBytes(dataType, count!);
    if (values !== undefined && values > available) {
      fail(
        ctx,
        where,
        f.start,
        `holds at most ${available} values but dims [${dims}] need ${values}`,
      );
    }
    storage = { kind: "typed", fields };
  }
  return {
    name: tensorName,
    dataType,
    dtype,
    dims,
    span,
    ancestors: [...ancestors, span],
    path,
    kind,
    storage,
  };
}
