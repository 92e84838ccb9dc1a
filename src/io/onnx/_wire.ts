/**
 * A minimal protobuf wire-format reader that works on byte ranges without copying. Every
 * problem becomes a ModelFormatError naming the field path and the absolute byte offset.
 */

import { ModelFormatError } from "../model_format_error.ts";

/** Wire types of the protobuf encoding. */
export const VARINT = 0;
export const FIXED64 = 1;
export const LEN = 2;
export const FIXED32 = 5;

/** Where a message lives in the file. */
export interface Span {
  /** The absolute offset of the field's tag (equal to `start` for the root message). */
  readonly tagStart: number;
  /** The first byte of the content. */
  readonly start: number;
  /** One past the last byte of the content. */
  readonly end: number;
}

/** One field occurrence inside a message. */
export interface Field {
  /** The field number. */
  readonly number: number;
  /** The wire type. */
  readonly wire: number;
  /** The offset of the tag. */
  readonly tagStart: number;
  /** The first byte of the value (for LEN: of the payload, after the length). */
  readonly start: number;
  /** One past the last byte of the value. */
  readonly end: number;
  /** The value of a VARINT field (exact up to 2^53; larger values lose precision). */
  readonly value: number;
}

/** The context that errors report. */
export interface WireContext {
  readonly bytes: Uint8Array;
  readonly file: string;
}

/** Throws a ModelFormatError for `path` at `offset`. */
export function fail(ctx: WireContext, path: string, offset: number, problem: string): never {
  throw new ModelFormatError(problem, { file: ctx.file, field: path, offset });
}

/** Reads a varint at `pos`; returns the value and the position after it. */
export function readVarint(
  ctx: WireContext,
  pos: number,
  end: number,
  path: string,
): [number, number] {
  const b = ctx.bytes;
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos + i >= end) fail(ctx, path, pos, "varint runs past the end of its message");
    const byte = b[pos + i];
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if (byte < 0x80) return [value, pos + i + 1];
  }
  return fail(ctx, path, pos, "varint is longer than 10 bytes");
}

/**
 * Calls `visit` for each field of the message in `[start, end)`. Checks tags, wire types and
 * that every value ends inside the message.
 */
export function forEachField(
  ctx: WireContext,
  start: number,
  end: number,
  path: string,
  visit: (f: Field) => void,
): void {
  let pos = start;
  while (pos < end) {
    const tagStart = pos;
    const [tag, afterTag] = readVarint(ctx, pos, end, path);
    const number = Math.floor(tag / 8);
    const wire = tag % 8;
    if (number === 0 || number > 536870911) {
      fail(ctx, path, tagStart, `invalid field number ${number}`);
    }
    let valueStart = afterTag;
    let valueEnd: number;
    let value = 0;
    if (wire === VARINT) {
      [value, valueEnd] = readVarint(ctx, afterTag, end, path);
    } else if (wire === FIXED64 || wire === FIXED32) {
      valueEnd = afterTag + (wire === FIXED64 ? 8 : 4);
    } else if (wire === LEN) {
      const [length, afterLength] = readVarint(ctx, afterTag, end, path);
      valueStart = afterLength;
      valueEnd = afterLength + length;
    } else {
      return fail(ctx, path, tagStart, `field ${number} has unsupported wire type ${wire}`);
    }
    if (valueEnd > end) {
      fail(
        ctx,
        path,
        tagStart,
        `field ${number} ends at byte ${valueEnd}, past the end of its message at ${end}`,
      );
    }
    visit({ number, wire, tagStart, start: valueStart, end: valueEnd, value });
    pos = valueEnd;
  }
}

/** Throws unless `f` has the expected wire type. */
export function expectWire(ctx: WireContext, f: Field, wire: number, path: string): void {
  if (f.wire !== wire) {
    fail(ctx, path, f.tagStart, `field ${f.number} has wire type ${f.wire}, expected ${wire}`);
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Decodes a LEN field as UTF-8. */
export function readString(ctx: WireContext, f: Field, path: string): string {
  expectWire(ctx, f, LEN, path);
  try {
    return utf8.decode(ctx.bytes.subarray(f.start, f.end));
  } catch {
    return fail(ctx, path, f.start, "string is not UTF-8");
  }
}

/** Reads a signed int64 VARINT (two's complement) as a number; throws past 2^53. */
export function readInt64(ctx: WireContext, f: Field, path: string): number {
  expectWire(ctx, f, VARINT, path);
  if (f.value >= 2 ** 63) {
    const [lo, hi] = twoWords(ctx, f, path);
    const v = -(Number(~hi >>> 0) * 2 ** 32 + Number(~lo >>> 0) + 1);
    if (!Number.isSafeInteger(v)) fail(ctx, path, f.start, "integer is out of the safe range");
    return v;
  }
  if (!Number.isSafeInteger(f.value)) fail(ctx, path, f.start, "integer is out of the safe range");
  return f.value;
}

function twoWords(ctx: WireContext, f: Field, path: string): [number, number] {
  let lo = 0;
  let hi = 0;
  let pos = f.start;
  for (let shift = 0; pos < f.end; shift += 7, pos++) {
    const bits = ctx.bytes[pos] & 0x7f;
    if (shift < 28) lo |= bits << shift;
    else if (shift === 28) (lo |= (bits & 0x0f) << 28, hi |= bits >> 4);
    else hi |= bits << (shift - 32);
  }
  if (pos !== f.end) fail(ctx, path, f.start, "bad varint");
  return [lo >>> 0, hi >>> 0];
}

/** Reads repeated int64 values, packed or not, appending to `out`. */
export function readInt64s(ctx: WireContext, f: Field, path: string, out: number[]): void {
  if (f.wire === VARINT) {
    out.push(readInt64(ctx, f, path));
    return;
  }
  expectWire(ctx, f, LEN, path);
  let pos = f.start;
  while (pos < f.end) {
    const start = pos;
    const [value, next] = readVarint(ctx, pos, f.end, path);
    out.push(
      readInt64(
        ctx,
        { number: f.number, wire: VARINT, tagStart: start, start, end: next, value },
        path,
      ),
    );
    pos = next;
  }
}

/** Reads a fixed32 float. */
export function readFloat(ctx: WireContext, f: Field, path: string): number {
  expectWire(ctx, f, FIXED32, path);
  return new DataView(ctx.bytes.buffer, ctx.bytes.byteOffset + f.start, 4).getFloat32(0, true);
}
