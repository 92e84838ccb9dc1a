// A `--runner` for `nncompress eval` on face-api's weights manifests (@vladmandic/face-api):
// it builds one of face-api's networks from the weights it is given, as face-api loads them
// (`loadFromWeightMap`), and runs it on crops of tests/fixtures/photos, the same each call.
//
//   nncompress eval out/face_landmark_68_tiny_model-weights_manifest.json \
//     --reference node_modules/@vladmandic/face-api/model/face_landmark_68_tiny_model-weights_manifest.json \
//     --runner examples/face_api/runner.mjs
//
// FACE_API_NET picks the network (default FaceLandmark68TinyNet): TinyFaceDetector,
// SsdMobilenetv1, FaceLandmark68Net, FaceLandmark68TinyNet, FaceRecognitionNet,
// FaceExpressionNet or AgeGenderNet.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import process from "node:process";

const require = createRequire(import.meta.url);
const PHOTOS = new URL("../../tests/fixtures/photos/", import.meta.url);

let api;
function faceApi() {
  if (api === undefined) {
    api = require("@vladmandic/face-api/dist/face-api.node-wasm.js");
  }
  return api;
}

function photo(fa, name) {
  const jpeg = require("jpeg-js");
  const image = jpeg.decode(readFileSync(new URL(name, PHOTOS)), { useTArray: true });
  const rgb = new Uint8Array(image.width * image.height * 3);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    rgb[i] = image.data[j];
    rgb[i + 1] = image.data[j + 1];
    rgb[i + 2] = image.data[j + 2];
  }
  return fa.tf.tensor3d(rgb, [image.height, image.width, 3], "int32");
}

/** Face tiles of faces.jpg for the face networks, parts of scenes.jpg for the detectors. */
function inputs(fa, detector) {
  const image = photo(fa, detector ? "scenes.jpg" : "faces.jpg");
  const boxes = detector
    ? [[0, 0, 158, 158], [326, 0, 199, 158], [911, 0, 211, 158]]
    : [0, 3, 6, 9, 12, 15].map((c) => [Math.round(c * 1920 / 18), 0, 106, 110]);
  const out = boxes.map(([x, y, w, h]) => fa.tf.slice(image, [y, x, 0], [h, w, 3]));
  image.dispose();
  return out;
}

/**
 * The network's outputs on every input: `{ output_<k>: values }`.
 *
 * @param {ReadonlyMap<string, { dtype: string, shape: number[], values: ArrayLike<number> }>} weights
 */
export default async function run(weights) {
  const fa = faceApi();
  await fa.tf.setBackend("cpu");
  await fa.tf.ready();
  const name = process.env.FACE_API_NET ?? "FaceLandmark68TinyNet";
  if (typeof fa[name] !== "function") throw new Error(`face-api has no network ${name}`);
  const map = {};
  for (const [n, w] of weights) map[n] = fa.tf.tensor(w.values, w.shape, w.dtype);
  const net = new fa[name]();
  net.loadFromWeightMap(map);
  const detector = name === "TinyFaceDetector" || name === "SsdMobilenetv1";
  const outputs = {};
  let k = 0;
  for (const x of inputs(fa, detector)) {
    const r = name === "TinyFaceDetector" ? await net.forward(x, 416) : await net.forward(x);
    const tensors = name === "SsdMobilenetv1"
      ? [...r.boxes, ...r.scores]
      : name === "AgeGenderNet"
      ? [r.age, r.gender]
      : [r];
    for (const t of tensors) outputs[`output_${k++}`] = { dims: t.shape, data: t.dataSync() };
    fa.tf.dispose([...tensors, x]);
  }
  net.dispose();
  fa.tf.dispose(Object.values(map));
  return outputs;
}
