// `--calibration <images>`: a folder of .jpg/.png files (or one) as the rows of a model's image
// input, resized and scaled by `--image-*`; the same result as the values given as a file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encode as encodePng } from "fast-png";
import jpeg from "jpeg-js";
import { readTfjsFiles, saveTfjsFiles } from "../../src/io/tfjs/save_tfjs.ts";
import { writeSafetensors } from "../../src/io/safetensors/write_safetensors.ts";
import { readImageRows } from "../../src/cli/commands/_images.ts";
import { CliError, UsageError } from "../../src/cli/cli_error.ts";
import { graphModelFiles } from "../tfjs/_models.ts";
import { cli, CLS, tempDir } from "./_run.ts";

const QUANT = [{
  op_types: ["Conv2d", "Linear"],
  target_names: ["weight"],
  quant_dtype: "uint8",
  quant_scheme: "affine",
}];

/** An RGB image of `w` x `h` with deterministic pixels (seed). */
function pixels(w: number, h: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37 + seed * 101) % 256);
}

const png = (w: number, h: number, data: Uint8Array, channels = 3) =>
  encodePng({ width: w, height: h, data, channels, depth: 8 });

const PLAIN = { range: [0, 1], mean: [0], std: [1] } as const;

test("images become rows: NHWC and NCHW, range, mean and std per channel, gray, bilinear resize", async () => {
  const dir = tempDir();
  const a = pixels(2, 2, 1);
  writeFileSync(`${dir}/a.png`, png(2, 2, a));
  // NHWC, no resize: pixel / 255 * 2 - 1, then (v - mean[c]) / std[c].
  const nhwc = await readImageRows(`${dir}/a.png`, { name: "x", dims: [-1, 2, 2, 3] }, {
    range: [-1, 1],
    mean: [0, 0.5, -0.5],
    std: [1, 2, 4],
  });
  assert.deepEqual(nhwc.tensor.dims, [1, 2, 2, 3]);
  const want = Float32Array.from(
    a,
    (p, i) => (p / 255 * 2 - 1 - [0, 0.5, -0.5][i % 3]) / [1, 2, 4][i % 3],
  );
  assert.deepEqual([...nhwc.tensor.data as Float32Array], [...want]);
  // NCHW: the same values, planes per channel.
  const nchw = await readImageRows(`${dir}/a.png`, { name: "x", dims: ["n", 3, 2, 2] }, PLAIN);
  assert.deepEqual(nchw.tensor.dims, [1, 3, 2, 2]);
  const planes = nchw.tensor.data as Float32Array;
  for (let p = 0; p < 4; p++) {
    for (let c = 0; c < 3; c++) assert.equal(planes[c * 4 + p], Math.fround(a[p * 3 + c] / 255));
  }
  // One channel: luma.
  const gray = await readImageRows(`${dir}/a.png`, { name: "x", dims: [1, 2, 2, 1] }, PLAIN);
  const luma = (0.299 * a[0] + 0.587 * a[1] + 0.114 * a[2]) / 255;
  assert.ok(Math.abs((gray.tensor.data as Float32Array)[0] - luma) < 1e-6);
  // 4 x 4 to 2 x 2 with half-pixel centres: each output pixel the mean of a 2 x 2 block.
  const big = pixels(4, 4, 2);
  writeFileSync(`${dir}/big.png`, png(4, 4, big));
  const small = await readImageRows(`${dir}/big.png`, { name: "x", dims: [1, 2, 2, 3] }, PLAIN);
  const at = (x: number, y: number, c: number) => big[(y * 4 + x) * 3 + c];
  for (let y = 0; y < 2; y++) {
    for (let x = 0; x < 2; x++) {
      for (let c = 0; c < 3; c++) {
        const mean = (at(2 * x, 2 * y, c) + at(2 * x + 1, 2 * y, c) + at(2 * x, 2 * y + 1, c) +
          at(2 * x + 1, 2 * y + 1, c)) / 4 / 255;
        const got = (small.tensor.data as Float32Array)[(y * 2 + x) * 3 + c];
        assert.ok(Math.abs(got - mean) < 1e-6, `${got} against ${mean}`);
      }
    }
  }
  // A gray + alpha PNG fills the three channels from its gray value.
  writeFileSync(`${dir}/ga.png`, png(1, 1, Uint8Array.of(51, 7), 2));
  const ga = await readImageRows(`${dir}/ga.png`, { name: "x", dims: [1, 1, 1, 3] }, PLAIN);
  assert.deepEqual([...ga.tensor.data as Float32Array], [0.2, 0.2, 0.2].map(Math.fround));
  // 16-bit PNG: 65535 is 255.
  writeFileSync(
    `${dir}/deep.png`,
    encodePng({
      width: 1,
      height: 1,
      data: Uint16Array.of(65535, 0, 13107),
      channels: 3,
      depth: 16,
    }),
  );
  const deep = await readImageRows(`${dir}/deep.png`, { name: "x", dims: [1, 1, 1, 3] }, PLAIN);
  assert.deepEqual([...deep.tensor.data as Float32Array], [1, 0, 0.2].map(Math.fround));
  // A JPEG decodes (lossy: near its pixels).
  const flat = new Uint8Array(8 * 8 * 4).fill(200);
  writeFileSync(
    `${dir}/j.jpg`,
    jpeg.encode({ data: flat, width: 8, height: 8 }, 95).data,
  );
  const j = await readImageRows(`${dir}/j.jpg`, { name: "x", dims: [1, 8, 8, 3] }, PLAIN);
  assert.ok((j.tensor.data as Float32Array).every((v) => Math.abs(v - 200 / 255) < 0.02));
});

test("images that cannot feed the input get errors that say what and where", async () => {
  const dir = tempDir();
  writeFileSync(`${dir}/a.png`, png(2, 2, pixels(2, 2, 1)));
  writeFileSync(`${dir}/fake.jpg`, "not an image");
  mkdirSync(`${dir}/empty`);
  writeFileSync(`${dir}/empty/notes.txt`, "x");
  const fails = async (
    path: string,
    dims: (number | string)[],
    re: RegExp,
    kind: abstract new (...a: never[]) => Error = CliError,
  ) =>
    await assert.rejects(readImageRows(path, { name: "x", dims }, PLAIN), (e: unknown) => {
      assert.ok(e instanceof kind, String(e));
      assert.match((e as Error).message, re);
      return true;
    });
  await fails(`${dir}/fake.jpg`, [1, 2, 2, 3], /fake\.jpg" is neither a JPEG nor a PNG/);
  // A PNG whose header claims 100000 x 100000 pixels is refused before any decoding.
  const huge = png(2, 2, pixels(2, 2, 1));
  new DataView(huge.buffer, huge.byteOffset).setUint32(16, 100000);
  new DataView(huge.buffer, huge.byteOffset).setUint32(20, 100000);
  writeFileSync(`${dir}/huge.png`, huge);
  await fails(`${dir}/huge.png`, [1, 2, 2, 3], /huge\.png": the image is 100000 x 100000 pixels/);
  await fails(`${dir}/empty`, [1, 2, 2, 3], /folder ".*empty" holds no images/);
  await fails(`${dir}/a.png`, [1, 16], /input "x" is not an image input: .* dims are \[1, 16\]/);
  await fails(
    `${dir}/a.png`,
    [-1, -1, -1, 3],
    /leaves its height and width open: give them with --image-size/,
    UsageError,
  );
  await assert.rejects(
    readImageRows(`${dir}/a.png`, { name: "x", dims: [1, 2, 2, 3] }, { ...PLAIN, mean: [1, 2] }),
    /--image-mean has 2 values: input "x" has 3 channel/,
  );
  // An open size is taken from --image-size.
  const r = await readImageRows(`${dir}/a.png`, { name: "x", dims: [-1, -1, -1, 3] }, {
    ...PLAIN,
    size: [3, 5],
  });
  assert.deepEqual(r.tensor.dims, [1, 3, 5, 3]);
});

test("CLI: --calibration <folder of images> calibrates a tfjs model as the same values in a safetensors file do", async () => {
  const dir = tempDir();
  await saveTfjsFiles(`${dir}/model.json`, graphModelFiles());
  writeFileSync(`${dir}/q.json`, JSON.stringify(QUANT));
  mkdirSync(`${dir}/photos`);
  // Five 6 x 6 images (the model's input is [n, 6, 6, 3]), in name order.
  const images = [0, 1, 2, 3, 4].map((k) => pixels(6, 6, k + 3));
  images.forEach((im, k) => writeFileSync(`${dir}/photos/im${k}.png`, png(6, 6, im)));
  writeFileSync(`${dir}/photos/readme.txt`, "not an image");
  const values = Float32Array.from(images.flatMap((im) => [...im]), (p) => p / 127.5 - 1);
  writeFileSync(
    `${dir}/same.safetensors`,
    writeSafetensors([{ name: "x", dtype: "F32", shape: [5, 6, 6, 3], data: values }]),
  );
  const run = (calibration: string, out: string, ...more: string[]) =>
    cli(
      "quantize",
      `${dir}/model.json`,
      "-c",
      `${dir}/q.json`,
      "--bias-correction",
      "--gptq-rounding",
      "--calibration",
      calibration,
      "--batch-size",
      "2",
      "-o",
      `${dir}/${out}`,
      "--json",
      ...more,
    );
  // A value starting with "-" goes after "=" (the argument parser takes "-1,1" for a flag).
  const fromImages = await run(`${dir}/photos`, "a.json", "--image-range=-1,1");
  assert.equal(fromImages.code, 0, fromImages.stderr);
  const fromFile = await run(`${dir}/same.safetensors`, "b.json");
  assert.equal(fromFile.code, 0, fromFile.stderr);
  const warnings: string[] = JSON.parse(fromImages.stdout).report.warnings;
  assert.match(warnings.join("\n"), /on 3 input set\(s\)/);
  const a = await readTfjsFiles(`${dir}/a.json`);
  const b = await readTfjsFiles(`${dir}/b.json`);
  // The shards are named after the output file: compared in order.
  assert.deepEqual([...a.shards.values()], [...b.shards.values()]);
  // Without the range the values differ, and so do the corrected biases.
  const plain = await run(`${dir}/photos`, "c.json");
  assert.equal(plain.code, 0, plain.stderr);
  const c = await readTfjsFiles(`${dir}/c.json`);
  assert.notDeepEqual([...c.shards.values()], [...a.shards.values()]);
  // The flags need image calibration and well-formed values.
  const stray = await cli(
    "quantize",
    `${dir}/model.json`,
    "-c",
    `${dir}/q.json`,
    "--image-range",
    "0,1",
    "-o",
    `${dir}/d.json`,
  );
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /--image-range goes with --calibration <images>/);
  const bad = await run(`${dir}/photos`, "e.json", "--image-std", "1,0,1");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--image-std must not be 0/);
  const badSize = await run(`${dir}/photos`, "e.json", "--image-size", "12");
  assert.equal(badSize.code, 2);
  assert.match(badSize.stderr, /--image-size takes 2 number\(s\)/);
  assert.equal(readFileSync(`${dir}/q.json`, "utf8"), JSON.stringify(QUANT));
});

test("CLI: images calibrate an ONNX model's NCHW input (open size from --image-size) as the same values in a file do", async () => {
  const dir = tempDir();
  // The PP-OCR classifier [n, 3, ?, ?]: int8 weights and per-tensor int8 inputs of its convs.
  const config = join(dir, "q.json");
  writeFileSync(
    config,
    JSON.stringify([
      { op_types: ["Conv2d"], target_names: ["weight", "_input_0"], quant_dtype: "int8" },
    ]),
  );
  mkdirSync(join(dir, "lines"));
  const images = [0, 1, 2].map((k) => pixels(192, 48, k + 11));
  images.forEach((im, k) => writeFileSync(join(dir, "lines", `l${k}.png`), png(192, 48, im)));
  // (pixel / 255 - 0.5) / 0.5 as PP-OCR normalises, laid out NCHW.
  const values = new Float32Array(3 * 3 * 48 * 192);
  images.forEach((im, k) => {
    for (let p = 0; p < 48 * 192; p++) {
      for (let c = 0; c < 3; c++) {
        values[k * 3 * 48 * 192 + c * 48 * 192 + p] = (im[p * 3 + c] / 255 - 0.5) / 0.5;
      }
    }
  });
  writeFileSync(
    join(dir, "lines.safetensors"),
    writeSafetensors([{ name: "x", dtype: "F32", shape: [3, 3, 48, 192], data: values }]),
  );
  const run = (calibration: string, out: string, ...more: string[]) =>
    cli("quantize", CLS, "-c", config, "--calibration", calibration, "-o", join(dir, out), ...more);
  const open = await run(join(dir, "lines"), "x.onnx");
  assert.equal(open.code, 2);
  assert.match(open.stderr, /input "x" leaves its height and width open: .*--image-size/);
  const a = await run(
    join(dir, "lines"),
    "a.onnx",
    "--image-size",
    "48x192",
    "--image-mean",
    "0.5",
    "--image-std",
    "0.5",
  );
  assert.equal(a.code, 0, a.stderr);
  const b = await run(join(dir, "lines.safetensors"), "b.onnx");
  assert.equal(b.code, 0, b.stderr);
  assert.deepEqual(readFileSync(join(dir, "a.onnx")), readFileSync(join(dir, "b.onnx")));
});

test("CLI: eval --images compares a tfjs model and an ONNX model on photos instead of random values", async () => {
  const dir = tempDir();
  await saveTfjsFiles(`${dir}/model.json`, graphModelFiles());
  writeFileSync(`${dir}/q.json`, JSON.stringify(QUANT));
  mkdirSync(`${dir}/photos`);
  [0, 1, 2].forEach((k) => writeFileSync(`${dir}/photos/p${k}.png`, png(6, 6, pixels(6, 6, k))));
  const q = await cli(
    "quantize",
    `${dir}/model.json`,
    "-c",
    `${dir}/q.json`,
    "-o",
    `${dir}/q8.json`,
  );
  assert.equal(q.code, 0, q.stderr);
  const evalImages = (...more: string[]) =>
    cli("eval", `${dir}/q8.json`, "--reference", `${dir}/model.json`, ...more);
  const e = await evalImages("--images", `${dir}/photos`, "--image-range=-1,1");
  assert.equal(e.code, 0, e.stderr);
  assert.match(
    e.stdout,
    /on the same images \(.*photos: 3 images in 1 input set\(s\)\) \(tfjs cpu\)/,
  );
  // The measures are those of the same values given to the library.
  const j = await evalImages("--images", `${dir}/photos`, "--image-range=-1,1", "--json");
  const random = await evalImages("--json");
  assert.notEqual(
    JSON.parse(j.stdout).outputs[0].cosine,
    JSON.parse(random.stdout).outputs[0].cosine,
  );
  const noRef = await cli("eval", `${dir}/q8.json`, "--images", `${dir}/photos`);
  assert.equal(noRef.code, 2);
  assert.match(noRef.stderr, /--images are the inputs of a comparison/);
  const stray = await evalImages("--image-size", "6x6");
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /--image-size goes with --images/);
  // ONNX: the classifier's NCHW input, its size given.
  const c = await cli(
    "eval",
    CLS,
    "--reference",
    CLS,
    "--images",
    `${dir}/photos`,
    "--image-size",
    "48x192",
    "--runs",
    "0",
  );
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /on the same inputs \(3 image\(s\) of .*photos\)/);
  assert.match(c.stdout, /1\.000000/);
});
