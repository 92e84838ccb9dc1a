// Real-photo inputs for the tfjs graph models `@vladmandic/human` ships: the photos of
// tests/fixtures/photos (from human's own assets, MIT; see tests/fixtures/README.md) decoded by
// jpeg-js, cut and resized by tfjs (`tf.image.cropAndResize`, as human does) and normalised the
// way human feeds each model (src/face/*.ts, src/body/movenet*.ts, src/hand/handtrack.ts,
// src/object/centernet.ts of human 3.3.6). Half the crops choose (`calibrate`), the other half
// score (`score`), so a choice made on photos is checked on other photos.
import { readFileSync } from "node:fs";
import jpeg from "jpeg-js";
import type { TfjsInputSet } from "../../src/compress/compare_tfjs.ts";
import { tf } from "./_models.ts";
import { jpegToRgb, type Rgb } from "../../src/cli/commands/_images.ts";

/** A decoded photo: RGB values in [0, 255], row-major `[height, width, 3]`. */
export type Photo = Rgb;

/** Decodes a JPEG into RGB floats in [0, 255] (the CLI's decoder of `--calibration photos/`). */
export function decodePhoto(bytes: Uint8Array): Photo {
  return jpegToRgb(jpeg as unknown as Record<string, unknown>, bytes);
}

/** A crop in pixels of a photo: `[x0, y0, x1, y1]` (x1, y1 excluded). */
export type Box = readonly [number, number, number, number];

const FIXTURES = new URL("../fixtures/photos/", import.meta.url);
const cache = new Map<string, Photo>();
function photo(name: "faces.jpg" | "scenes.jpg"): Photo {
  let p = cache.get(name);
  if (p === undefined) {
    p = decodePhoto(new Uint8Array(readFileSync(new URL(name, FIXTURES))));
    cache.set(name, p);
  }
  return p;
}

// faces.jpg: two rows of 18 face tiles (human's face crops, 106.67 x 110 px each, a score line
// at the top and an age/gender line at the bottom of each); the face is the tile without them.
const FACE_COLUMNS = 18;
function faceBoxes(): Box[] {
  const out: Box[] = [];
  const w = 1920 / FACE_COLUMNS;
  for (let row = 0; row < 2; row++) {
    for (let c = 0; c < FACE_COLUMNS; c++) {
      const x0 = c * w;
      const y0 = row * 110;
      out.push([x0 + 0.1 * w, y0 + 0.14 * 110, x0 + 0.9 * w, y0 + 0.84 * 110]);
    }
  }
  return out;
}

// scenes.jpg: eight photos side by side (human's samples strip), 158 px high.
const SCENES: Box[] = [
  [0, 0, 158, 158],
  [166, 0, 317, 158],
  [326, 0, 525, 158],
  [548, 0, 634, 158],
  [641, 0, 789, 158],
  [797, 0, 903, 158],
  [911, 0, 1122, 158],
  [1130, 0, 1272, 158],
];

/**
 * The eye crops of a face box, as human's iris model gets them: a square about 2.3 eye widths
 * wide around each eye (landmarks from the mesh in human; fixed positions in a face crop here),
 * flipped left to right.
 */
function eyeBoxes(face: Box): Box[] {
  const [x0, y0, x1, y1] = face;
  const w = x1 - x0;
  const h = y1 - y0;
  const side = 0.36 * w;
  return [0.32, 0.68].map((cx) => {
    const x = x0 + cx * w;
    const y = y0 + 0.42 * h;
    return [x - side / 2, y - side / 2, x + side / 2, y + side / 2] as const;
  });
}

/** Square crops of a scene (hand-sized regions: human's hand detector would pick them). */
function handBoxes(scene: Box): Box[] {
  const [x0, y0, x1, y1] = scene;
  const side = Math.min(x1 - x0, y1 - y0) * 0.6;
  const cy = y0 + (y1 - y0) * 0.55;
  return [0.3, 0.7].map((f) => {
    const cx = x0 + (x1 - x0) * f;
    return [cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2] as const;
  });
}

type Tensor = ReturnType<typeof tf.tensor>;

/** How human makes one model's input from a crop of a photo (values in [0, 255]). */
interface Recipe {
  readonly photo: "faces.jpg" | "scenes.jpg";
  /** The crops made from one face tile or scene (default: the whole of it). */
  readonly crops?: (b: Box) => Box[];
  readonly size: readonly [number, number];
  /** The model takes one image per run (its batch dim is 1). */
  readonly single: boolean;
  /** Pad the crop to a square before resizing (movenet). */
  readonly square?: boolean;
  readonly flip?: boolean;
  /** From the resized crop `[n, h, w, 3]` in [0, 255] to the model's input. */
  readonly normalise: (t: Tensor) => Tensor;
  readonly int32?: boolean;
}

const unit = (t: Tensor) => tf.div(t, 255);

/** Per model of human 3.3.6 (file name without `.json`). */
export const HUMAN_INPUTS: Readonly<Record<string, Recipe>> = {
  // src/face/blazeface.ts: the frame resized, / 127.5 - 1.
  blazeface: {
    photo: "scenes.jpg",
    size: [256, 256],
    single: true,
    normalise: (t) => tf.sub(tf.div(t, 127.5), 1),
  },
  // src/face/facemesh.ts (facemeshutil cutAndResize): the face crop / 255.
  facemesh: { photo: "faces.jpg", size: [192, 192], single: false, normalise: unit },
  // src/face/faceres.ts: the face crop (in [0, 1]) resized, * 255.
  faceres: { photo: "faces.jpg", size: [224, 224], single: false, normalise: (t) => t },
  // src/face/antispoof.ts, liveness.ts: the face crop in [0, 1] resized.
  antispoof: { photo: "faces.jpg", size: [128, 128], single: false, normalise: unit },
  liveness: { photo: "faces.jpg", size: [32, 32], single: false, normalise: unit },
  // src/gear/emotion.ts (one channel): grayscale (0.2989, 0.587, 0.114) of the crop in [0, 1],
  // minus 0.5, times 2.
  emotion: {
    photo: "faces.jpg",
    size: [64, 64],
    single: false,
    normalise: (t) =>
      tf.mul(
        tf.sub(tf.sum(tf.mul(unit(t), tf.tensor1d([0.2989, 0.587, 0.114])), 3, true), 0.5),
        2,
      ),
  },
  // src/face/iris.ts: each eye's crop of the face in [0, 1], flipped left to right.
  iris: {
    photo: "faces.jpg",
    crops: eyeBoxes,
    size: [64, 64],
    single: false,
    flip: true,
    normalise: unit,
  },
  // src/hand/handtrack.ts: the hand's crop / 255.
  "handlandmark-lite": {
    photo: "scenes.jpg",
    crops: handBoxes,
    size: [224, 224],
    single: true,
    normalise: unit,
  },
  // src/body/movenetfix.ts padInput: padded to a square, resized, cast to int32.
  "movenet-lightning": {
    photo: "scenes.jpg",
    size: [192, 192],
    single: true,
    square: true,
    normalise: (t) => t,
    int32: true,
  },
  // src/object/centernet.ts: the frame resized, values in [0, 255].
  centernet: {
    photo: "scenes.jpg",
    size: [512, 512],
    single: true,
    normalise: (t) => t,
  },
};

/** The box of a crop padded to a square around its centre (in pixels; may leave the photo). */
function squared(b: Box): Box {
  const [x0, y0, x1, y1] = b;
  const side = Math.max(x1 - x0, y1 - y0);
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  return [cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2];
}

/**
 * The inputs of one model of human from the fixture photos: every crop made as human makes it,
 * from the even-numbered face tiles or scenes for `calibrate` (at most `limit` input sets when
 * the model takes one image per run) and from the odd-numbered ones for `score`. A model that
 * takes a batch gets one set holding every crop.
 */
export function humanInputs(
  model: string,
  split: "calibrate" | "score",
  limit = 4,
): TfjsInputSet[] {
  const r = HUMAN_INPUTS[model];
  if (r === undefined) {
    throw new RangeError(
      `no photo recipe for the model "${model}": known models are ${
        Object.keys(HUMAN_INPUTS).join(", ")
      }`,
    );
  }
  const p = photo(r.photo);
  const all = r.photo === "faces.jpg" ? faceBoxes() : SCENES;
  let boxes = all.filter((_, i) => i % 2 === (split === "calibrate" ? 0 : 1))
    .flatMap((b) => r.crops === undefined ? [b] : r.crops(b));
  if (r.single && split === "calibrate") boxes = boxes.slice(0, limit);
  const out = tf.tidy(() => {
    const image = tf.tensor4d(p.data, [1, p.height, p.width, 3]);
    // cropAndResize takes [y0, x0, y1, x1] normalised by (size - 1) for pixel centres; zero
    // outside the photo, as tf.pad would give.
    const norm = boxes.map((b) => r.square === true ? squared(b) : b).map(([x0, y0, x1, y1]) => [
      y0 / (p.height - 1),
      x0 / (p.width - 1),
      (y1 - 1) / (p.height - 1),
      (x1 - 1) / (p.width - 1),
    ]);
    let crops = tf.image.cropAndResize(
      image,
      tf.tensor2d(norm, [norm.length, 4]),
      tf.tensor1d(norm.map(() => 0), "int32"),
      [r.size[0], r.size[1]],
      "bilinear",
      0,
    );
    if (r.flip === true) crops = tf.image.flipLeftRight(crops);
    const x = r.normalise(crops);
    return r.int32 === true ? tf.cast(x, "int32") : x;
  });
  const dims = out.shape;
  const data = r.int32 === true
    ? Int32Array.from(out.dataSync() as Int32Array)
    : Float32Array.from(out.dataSync() as Float32Array);
  out.dispose();
  if (!r.single) return [[{ data, dims }]];
  const per = data.length / dims[0];
  return boxes.map((_, i) => [{
    data: data.slice(i * per, (i + 1) * per),
    dims: [1, ...dims.slice(1)],
  }]);
}
