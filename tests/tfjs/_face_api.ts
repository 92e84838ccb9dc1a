// face-api's networks, as @vladmandic/face-api 1.7.15 ships them: weights manifests alone
// (`<name>-weights_manifest.json` and one `.bin`), the networks built in its code. Its CommonJS
// build (on @tensorflow/tfjs, CPU backend) runs a manifest's weights as face-api would load them
// (`tf.io.decodeWeights`, `loadFromWeightMap`), on crops of the fixture photos.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import jpeg from "jpeg-js";
import { jpegToRgb } from "../../src/cli/commands/_images.ts";

/** The folder of face-api's manifests. */
export const FACE_API_MODELS =
  new URL("../../node_modules/@vladmandic/face-api/model/", import.meta.url).pathname;

// deno-lint-ignore no-explicit-any
type Any = any;

let api: Any;
/** face-api, on the CPU backend of its tfjs. */
export async function faceApi(): Promise<Any> {
  if (api === undefined) {
    api = createRequire(import.meta.url)("@vladmandic/face-api/dist/face-api.node-wasm.js");
    await api.tf.setBackend("cpu");
    await api.tf.ready();
  }
  return api;
}

/** How each network is built and run, and what it sees. */
export const FACE_API_NETS: Readonly<
  Record<string, { readonly net: string; readonly input: "faces" | "scene" }>
> = {
  tiny_face_detector_model: { net: "TinyFaceDetector", input: "scene" },
  ssd_mobilenetv1_model: { net: "SsdMobilenetv1", input: "scene" },
  face_landmark_68_model: { net: "FaceLandmark68Net", input: "faces" },
  face_landmark_68_tiny_model: { net: "FaceLandmark68TinyNet", input: "faces" },
  face_recognition_model: { net: "FaceRecognitionNet", input: "faces" },
  face_expression_model: { net: "FaceExpressionNet", input: "faces" },
  age_gender_model: { net: "AgeGenderNet", input: "faces" },
};

const PHOTOS = new URL("../fixtures/photos/", import.meta.url);
const photo = (name: string) =>
  jpegToRgb(
    jpeg as unknown as Record<string, unknown>,
    new Uint8Array(readFileSync(new URL(name, PHOTOS))),
  );

/**
 * The inputs: `faces`, six face tiles of faces.jpg (106 x 110 px each); `scene`, three photos of
 * scenes.jpg. face-api resizes and normalises them itself.
 */
function inputs(fa: Any, kind: "faces" | "scene"): Any[] {
  const p = photo(kind === "faces" ? "faces.jpg" : "scenes.jpg");
  const image = fa.tf.tensor3d(p.data, [p.height, p.width, 3]);
  const boxes = kind === "faces"
    ? [0, 3, 6, 9, 12, 15].map((c) => [Math.round(c * 1920 / 18), 0, 106, 110])
    : [[0, 0, 158, 158], [326, 0, 199, 158], [911, 0, 211, 158]];
  const out = boxes.map(([x, y, w, h]) => fa.tf.slice(image, [y, x, 0], [h, w, 3]));
  image.dispose();
  return out;
}

/**
 * Runs one face-api network on the weights of a manifest and its shards (by the manifest's
 * paths): every output, flattened, per input.
 */
export async function runFaceApi(
  model: string,
  manifest: Uint8Array,
  shards: ReadonlyMap<string, Uint8Array>,
): Promise<Float32Array[]> {
  const fa = await faceApi();
  const { tf } = fa;
  const groups = JSON.parse(new TextDecoder().decode(manifest)) as {
    paths: string[];
    weights: unknown[];
  }[];
  const parts = groups.flatMap((g) => g.paths.map((p) => shards.get(p)!));
  const data = new Uint8Array(parts.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of parts) {
    data.set(b, at);
    at += b.length;
  }
  const map = tf.io.decodeWeights(data.buffer, groups.flatMap((g) => g.weights));
  const { net: cls, input } = FACE_API_NETS[model];
  const net = new fa[cls]();
  net.loadFromWeightMap(map);
  const out: Float32Array[] = [];
  for (const x of inputs(fa, input)) {
    const r = cls === "TinyFaceDetector" ? await net.forward(x, 416) : await net.forward(x);
    const tensors = cls === "SsdMobilenetv1"
      ? [...r.boxes, ...r.scores]
      : cls === "AgeGenderNet"
      ? [r.age, r.gender]
      : [r];
    const flat = tensors.map((t: Any) => t.dataSync() as Float32Array);
    out.push(Float32Array.from(flat.flatMap((f: Float32Array) => [...f])));
    tf.dispose([...tensors, x]);
  }
  net.dispose();
  return out;
}
