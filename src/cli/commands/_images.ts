// `--calibration <photos/ | photo.jpg | photo.png>`: images as the rows of a model's image
// input. Each image is decoded (JPEG by jpeg-js, PNG by fast-png, loaded on first use), resized
// to the input's height and width (bilinear, half-pixel centres, as PIL and OpenCV resize), laid
// out as the input is (NHWC, as tfjs models take, or NCHW, as most ONNX models), its 8-bit values
// mapped to `--image-range` (default [0, 1]) and then normalised by `--image-mean` /
// `--image-std` per channel (ImageNet models: mean 0.485,0.456,0.406, std 0.229,0.224,0.225).
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { readFile } from "../../io/fs.ts";
import type { InputTensor } from "../../compress/input_feeds.ts";
import { CliError, UsageError } from "../cli_error.ts";

/** The extensions read as images. */
const EXTENSIONS = [".jpg", ".jpeg", ".png"];

const isImageName = (p: string) => EXTENSIONS.some((e) => p.toLowerCase().endsWith(e));

/** The flags that say how images become values. */
export const IMAGE_FLAGS = ["image-range", "image-mean", "image-std", "image-size"] as const;

/** How images become an input's values (`--image-*`). */
export interface ImageOptions {
  /** The values of pixel values 0 and 255 (default [0, 1]). */
  readonly range: readonly [number, number];
  /** Subtracted per channel after the range (one value, or one per channel). */
  readonly mean: readonly number[];
  /** Divides per channel after the mean. */
  readonly std: readonly number[];
  /** Height and width when the input leaves them open. */
  readonly size?: readonly [number, number];
  /** The command whose usage a usage error points to (default `quantize`). */
  readonly command?: string;
}

/** The image options when no flag is given: values in [0, 1]. */
export const PLAIN_IMAGES: ImageOptions = { range: [0, 1], mean: [0], std: [1] };

/** `--image-range`, `--image-mean`, `--image-std`, `--image-size` from the command line. */
export function imageOptionsOf(values: Record<string, unknown>, command: string): ImageOptions {
  const list = (flag: string, count: number[]): number[] | undefined => {
    const v = values[flag] as string | undefined;
    if (v === undefined) return undefined;
    const parts = v.split(/[,x]/).map((s) => Number(s.trim()));
    if (!count.includes(parts.length) || parts.some((p) => !Number.isFinite(p))) {
      throw new UsageError(
        `--${flag} takes ${
          count.join(" or ")
        } number(s) separated by commas: current value is ${v}`,
        command,
      );
    }
    return parts;
  };
  const range = list("image-range", [2]) ?? PLAIN_IMAGES.range;
  const mean = list("image-mean", [1, 3]) ?? PLAIN_IMAGES.mean;
  const std = list("image-std", [1, 3]) ?? PLAIN_IMAGES.std;
  if (std.some((s) => s === 0)) {
    throw new UsageError(`--image-std must not be 0: current value is ${std.join(",")}`, command);
  }
  const size = list("image-size", [2]);
  if (size !== undefined && size.some((d) => !Number.isInteger(d) || d < 1 || d > 8192)) {
    throw new UsageError(
      `--image-size takes HxW, whole numbers from 1 to 8192: current value is ${
        values["image-size"]
      }`,
      command,
    );
  }
  return {
    command,
    range: [range[0], range[1]],
    mean,
    std,
    ...(size === undefined ? {} : { size: [size[0], size[1]] as const }),
  };
}

/** Whether `--calibration` names images: a folder, or a .jpg/.jpeg/.png file. */
export async function isImageSource(path: string): Promise<boolean> {
  if (isImageName(path)) return true;
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** The image files a source names: the file itself, or a folder's images in name order. */
async function imageFiles(path: string): Promise<string[]> {
  if (isImageName(path) && !(await stat(path).catch(() => undefined))?.isDirectory()) {
    return [path];
  }
  let names: string[];
  try {
    names = await readdir(path);
  } catch (e) {
    throw new CliError(`cannot read calibration folder "${path}": ${(e as Error).message}`, {
      cause: e,
    });
  }
  const files = names.filter(isImageName).sort().map((n) => join(path, n));
  if (files.length === 0) {
    throw new CliError(
      `calibration folder "${path}" holds no images (${EXTENSIONS.join(", ")} files)`,
    );
  }
  return files;
}

/** A decoded image: RGB values in [0, 255], row-major `[height, width, 3]`. */
export interface Rgb {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array;
}

/** The pixel count above which an image is refused (bounded memory: 8192 x 8192). */
const MAX_PIXELS = 8192 * 8192;

/** The most values all images together become (1 GiB of float32). */
const MAX_VALUES = 2 ** 28;

async function decodeImage(file: string): Promise<Rgb> {
  const bytes = await readFile(file).catch((e) => {
    throw new CliError(`cannot read calibration image "${file}": ${(e as Error).message}`, {
      cause: e,
    });
  });
  const png = bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e;
  const jpeg = bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  if (!png && !jpeg) {
    throw new CliError(
      `calibration image "${file}" is neither a JPEG nor a PNG (its first bytes are ${
        [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join(" ")
      })`,
    );
  }
  if (png && bytes.length >= 24) {
    // The IHDR's width and height, checked before the decoder allocates the pixels.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    try {
      checkSize(view.getUint32(16), view.getUint32(20));
    } catch (e) {
      throw new CliError(`calibration image "${file}": ${(e as Error).message}`, { cause: e });
    }
  }
  const pkg = png ? "fast-png" : "jpeg-js";
  let mod: Record<string, unknown>;
  try {
    mod = await import(pkg);
  } catch (e) {
    throw new CliError(`cannot load ${pkg} to decode "${file}": ${(e as Error).message}`, {
      hint: `install it with: npm i -D ${pkg}`,
      cause: e,
    });
  }
  try {
    return png ? fromPng(mod, bytes) : jpegToRgb(mod, bytes);
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot decode calibration image "${file}": ${(e as Error).message}`, {
      cause: e,
    });
  }
}

function checkSize(width: number, height: number) {
  if (!(width > 0 && height > 0 && width * height <= MAX_PIXELS)) {
    throw new CliError(
      `the image is ${width} x ${height} pixels: at most ${MAX_PIXELS} pixels are read`,
    );
  }
}

/** A JPEG decoded by the given jpeg-js module into RGB values in [0, 255] (alpha dropped). */
export function jpegToRgb(mod: Record<string, unknown>, bytes: Uint8Array): Rgb {
  const jpeg = (mod.default ?? mod) as {
    decode(b: Uint8Array, o: Record<string, unknown>): {
      width: number;
      height: number;
      data: Uint8Array;
    };
  };
  const im = jpeg.decode(bytes, {
    useTArray: true,
    formatAsRGBA: true,
    maxResolutionInMP: MAX_PIXELS / 1e6,
    maxMemoryUsageInMB: 1024,
  });
  checkSize(im.width, im.height);
  const data = new Float32Array(im.width * im.height * 3);
  for (let i = 0, j = 0; i < data.length; i += 3, j += 4) {
    data[i] = im.data[j];
    data[i + 1] = im.data[j + 1];
    data[i + 2] = im.data[j + 2];
  }
  return { width: im.width, height: im.height, data };
}

interface DecodedPng {
  width: number;
  height: number;
  depth: number;
  channels: number;
  data: Uint8Array | Uint16Array;
  palette?: unknown;
}

function fromPng(mod: Record<string, unknown>, bytes: Uint8Array): Rgb {
  const png = mod as {
    decode(b: Uint8Array): DecodedPng;
    convertIndexedToRgb(d: DecodedPng): Uint8Array;
  };
  const im = png.decode(bytes);
  checkSize(im.width, im.height);
  let values: ArrayLike<number> = im.data;
  let channels = im.channels;
  let max = 2 ** im.depth - 1;
  if (im.palette !== undefined) {
    const rgb = png.convertIndexedToRgb(im);
    channels = rgb.length / (im.width * im.height);
    values = rgb;
    max = 255;
  }
  const n = im.width * im.height;
  const data = new Float32Array(n * 3);
  const k = 255 / max;
  for (let p = 0; p < n; p++) {
    const at = p * channels;
    // Gray (and gray + alpha) fill the three channels; alpha is dropped.
    const gray = channels <= 2;
    data[p * 3] = values[at] * k;
    data[p * 3 + 1] = values[gray ? at : at + 1] * k;
    data[p * 3 + 2] = values[gray ? at : at + 2] * k;
  }
  return { width: im.width, height: im.height, data };
}

/** Bilinear resize with half-pixel centres (edges clamped) to `h` x `w`. */
function resize(im: Rgb, h: number, w: number): Float32Array {
  if (im.height === h && im.width === w) return im.data;
  const out = new Float32Array(h * w * 3);
  const sy = im.height / h;
  const sx = im.width / w;
  for (let y = 0; y < h; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), im.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, im.height - 1);
    const dy = fy - y0;
    for (let x = 0; x < w; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), im.width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, im.width - 1);
      const dx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const a = im.data[(y0 * im.width + x0) * 3 + c];
        const b = im.data[(y0 * im.width + x1) * 3 + c];
        const d = im.data[(y1 * im.width + x0) * 3 + c];
        const e = im.data[(y1 * im.width + x1) * 3 + c];
        out[(y * w + x) * 3 + c] = (a * (1 - dx) + b * dx) * (1 - dy) +
          (d * (1 - dx) + e * dx) * dy;
      }
    }
  }
  return out;
}

/**
 * The layout of an image input from its dims: `[n, h, w, c]` (NHWC) or `[n, c, h, w]` (NCHW)
 * with 1 or 3 channels; a dim that is not a positive number is open.
 */
function layoutOf(
  dims: readonly (number | string | null)[] | undefined,
  input: string,
): { nchw: boolean; channels: number; h?: number; w?: number } {
  const known = (d: number | string | null | undefined) =>
    typeof d === "number" && d > 0 ? d : undefined;
  if (dims?.length === 4) {
    const last = known(dims[3]);
    const second = known(dims[1]);
    if (last === 1 || last === 3) {
      return { nchw: false, channels: last, h: known(dims[1]), w: known(dims[2]) };
    }
    if (second === 1 || second === 3) {
      return { nchw: true, channels: second, h: known(dims[2]), w: known(dims[3]) };
    }
  }
  throw new CliError(
    `input "${input}" is not an image input: images feed an input of dims [n, h, w, c] or ` +
      `[n, c, h, w] with 1 or 3 channels, and its dims are ${
        dims === undefined ? "not given" : `[${dims.map((d) => d ?? "?").join(", ")}]`
      }`,
    { hint: "give the calibration rows as a safetensors or .npy file instead" },
  );
}

/**
 * Reads images as the rows of one image input: `[count, h, w, c]` or `[count, c, h, w]`
 * float32. Height and width come from the input's dims, else `options.size`.
 */
export async function readImageRows(
  path: string,
  input: { readonly name: string; readonly dims?: readonly (number | string | null)[] },
  options: ImageOptions,
): Promise<{ tensor: InputTensor; count: number }> {
  const layout = layoutOf(input.dims, input.name);
  const h = layout.h ?? options.size?.[0];
  const w = layout.w ?? options.size?.[1];
  if (h === undefined || w === undefined) {
    throw new UsageError(
      `input "${input.name}" leaves its height and width open: give them with --image-size ` +
        `HxW (e.g. --image-size 224x224)`,
      options.command ?? "quantize",
    );
  }
  for (const [flag, v] of [["mean", options.mean], ["std", options.std]] as const) {
    if (v.length !== 1 && v.length !== layout.channels) {
      throw new UsageError(
        `--image-${flag} has ${v.length} values: input "${input.name}" has ${layout.channels} ` +
          `channel(s)`,
        options.command ?? "quantize",
      );
    }
  }
  const files = await imageFiles(path);
  const c = layout.channels;
  const plane = h * w;
  if (files.length * plane * c > MAX_VALUES) {
    throw new CliError(
      `the ${files.length} images of "${path}" at ${h} x ${w} x ${c} are ${
        files.length * plane * c
      } float32 values: at most ${MAX_VALUES} (1 GiB) are read for calibration`,
      { hint: "calibrate on fewer images: a few dozen are enough" },
    );
  }
  const data = new Float32Array(files.length * plane * c);
  const [lo, hi] = options.range;
  const value = (pixel: number, ch: number) => {
    const v = lo + pixel / 255 * (hi - lo);
    const m = options.mean[options.mean.length === 1 ? 0 : ch];
    return (v - m) / options.std[options.std.length === 1 ? 0 : ch];
  };
  for (let f = 0; f < files.length; f++) {
    let rgb: Float32Array;
    try {
      rgb = resize(await decodeImage(files[f]), h, w);
    } catch (e) {
      if (e instanceof CliError && !e.message.includes(files[f])) {
        throw new CliError(`calibration image "${files[f]}": ${e.message}`, { cause: e });
      }
      throw e;
    }
    const base = f * plane * c;
    for (let p = 0; p < plane; p++) {
      const r = rgb[p * 3];
      const g = rgb[p * 3 + 1];
      const b = rgb[p * 3 + 2];
      for (let ch = 0; ch < c; ch++) {
        // One channel: luma (ITU-R BT.601), as grayscale conversions do.
        const pixel = c === 1 ? 0.299 * r + 0.587 * g + 0.114 * b : ch === 0 ? r : ch === 1 ? g : b;
        data[base + (layout.nchw ? ch * plane + p : p * c + ch)] = value(pixel, ch);
      }
    }
  }
  const dims = layout.nchw ? [files.length, c, h, w] : [files.length, h, w, c];
  return { tensor: { data, dims, type: "float32" }, count: files.length };
}
