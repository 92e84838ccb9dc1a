import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, stat } from "node:fs/promises";
import { readFile } from "../../src/io/fs.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { decodeTensorProto } from "../../src/io/onnx/decode_tensor_proto.ts";
import { encodeOnnx, type OnnxReplacement } from "../../src/io/onnx/encode_onnx.ts";
import { readOnnxTensor } from "../../src/io/onnx/read_onnx_tensor.ts";
import type { DType } from "../../src/tensor/dtype.ts";
import { loadOrt, type Ort } from "./_ocr.ts";

/** Debian's `libonnx-testdata` (`apt-get install libonnx-testdata`). */
const ROOT = "/usr/share/libonnx-testdata/data";
const present = await stat(ROOT).then(() => true, () => false);

const ORT_TYPES: Partial<Record<DType, [string, new (b: ArrayBuffer) => ArrayBufferView]>> = {
  F32: ["float32", Float32Array],
  F64: ["float64", Float64Array],
  F16: ["float16", Uint16Array],
  I8: ["int8", Int8Array],
  U8: ["uint8", Uint8Array],
  I16: ["int16", Int16Array],
  U16: ["uint16", Uint16Array],
  I32: ["int32", Int32Array],
  U32: ["uint32", Uint32Array],
  I64: ["int64", BigInt64Array],
  U64: ["uint64", BigUint64Array],
  BOOL: ["bool", Uint8Array],
};

async function models(): Promise<string[]> {
  const out: string[] = [];
  for (const group of (await readdir(ROOT)).sort()) {
    for (const name of (await readdir(`${ROOT}/${group}`)).sort()) {
      if (await stat(`${ROOT}/${group}/${name}/model.onnx`).then(() => true, () => false)) {
        out.push(`${ROOT}/${group}/${name}`);
      }
    }
  }
  return out;
}

/** Feeds from `test_data_set_0/input_*.pb`, or undefined when an input cannot be fed. */
async function feeds(
  ort: Ort,
  dir: string,
  names: readonly string[],
): Promise<Record<string, unknown> | undefined> {
  const files = (await readdir(`${dir}/test_data_set_0`).catch(() => [] as string[])).filter((f) =>
    f.startsWith("input_")
  );
  if (files.length === 0 || files.length > names.length) return undefined;
  const out: Record<string, unknown> = {};
  for (let i = 0; i < files.length; i++) {
    try {
      const file = decodeTensorProto(await readFile(`${dir}/test_data_set_0/input_${i}.pb`));
      const t = file.tensor;
      const type = t.dtype && ORT_TYPES[t.dtype];
      if (!type) return undefined;
      const bytes = (await readOnnxTensor(file, t)).slice();
      out[t.name || names[i]] = new ort.Tensor(type[0], new type[1](bytes.buffer), [...t.dims]);
    } catch {
      return undefined; // sequences, optionals and maps are not tensors
    }
  }
  return out;
}

async function run(
  ort: Ort,
  bytes: Uint8Array,
  input: Record<string, unknown>,
): Promise<Uint8Array[] | undefined> {
  let session;
  try {
    session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: 1,
      logSeverityLevel: 4,
    });
    const out = await session.run(input);
    return session.outputNames.map((n: string) => {
      const d = out[n].data;
      return ArrayBuffer.isView(d)
        ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice()
        : new TextEncoder().encode(JSON.stringify(d));
    });
  } catch {
    return undefined;
  } finally {
    await session?.release?.();
  }
}

test(
  "the libonnx-testdata models decode, write back byte for byte, and run identically after a rewrite",
  {
    skip: present ? false : "libonnx-testdata is not installed (apt-get install libonnx-testdata)",
  },
  async () => {
    const ort = await loadOrt();
    const counts = { models: 0, identicalBytes: 0, rewritten: 0, ran: 0, notRunnable: 0 };
    for (const dir of await models()) {
      const bytes = await readFile(`${dir}/model.onnx`);
      const onnx = decodeOnnx(bytes, { file: `${dir}/model.onnx` });
      counts.models++;
      assert.deepEqual(encodeOnnx(onnx, new Map()), bytes, dir);
      const replacements = new Map<string, OnnxReplacement>();
      for (const t of onnx.tensors) {
        if (t.dtype !== undefined && t.storage.kind !== "external" && !replacements.has(t.name)) {
          replacements.set(t.name, { bytes: (await readOnnxTensor(onnx, t)).slice() });
        }
      }
      const rewritten = encodeOnnx(onnx, replacements);
      const same = rewritten.length === bytes.length && rewritten.every((b, i) => b === bytes[i]);
      if (same) counts.identicalBytes++;
      else counts.rewritten++;
      const initNames = new Set(onnx.graph.initializers.map((t) => t.name));
      const input = await feeds(ort, dir, onnx.graph.inputs.filter((n) => !initNames.has(n)));
      const before = input && await run(ort, bytes, input);
      if (before === undefined) {
        counts.notRunnable++;
        continue;
      }
      counts.ran++;
      if (!same) assert.deepEqual(await run(ort, rewritten, input!), before, dir);
    }
    console.log(`libonnx-testdata: ${JSON.stringify(counts)}`);
    assert.ok(counts.models > 1000 && counts.ran > 700, JSON.stringify(counts));
  },
);
