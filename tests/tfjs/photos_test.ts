// The real-photo inputs of tests/tfjs/_photos.ts: decoded, cut and normalised as human feeds
// each model, split into disjoint calibration and scoring crops; and the models see what they
// were trained on (blazeface finds faces in the scenes, which random inputs do not give it).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { loadGraphModel } from "@tensorflow/tfjs-converter";
import {
  compareTfjsOutputs,
  tfjsMemoryHandler,
  type TfjsRuntime,
} from "../../src/compress/compare_tfjs.ts";
import { decodePhoto, HUMAN_INPUTS, humanInputs } from "./_photos.ts";
import { tf } from "./_models.ts";

const HUMAN = new URL("../../node_modules/@vladmandic/human/models/", import.meta.url).pathname;
const runtime: TfjsRuntime = { tf, loadGraphModel: (h) => loadGraphModel(h) };

function files(name: string): Map<string, Uint8Array> {
  const json = readFileSync(`${HUMAN}${name}.json`);
  const manifest = JSON.parse(new TextDecoder().decode(json)).weightsManifest as {
    paths: string[];
  }[];
  const out = new Map<string, Uint8Array>([["model.json", new Uint8Array(json)]]);
  for (const p of manifest.flatMap((g) => g.paths)) {
    out.set(p, new Uint8Array(readFileSync(`${HUMAN}${p}`)));
  }
  return out;
}

function range(d: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < d.length; i++) {
    lo = Math.min(lo, d[i]);
    hi = Math.max(hi, d[i]);
  }
  return [lo, hi];
}

test("the fixture photos decode to RGB in [0, 255]", () => {
  const p = decodePhoto(
    new Uint8Array(readFileSync(new URL("../fixtures/photos/scenes.jpg", import.meta.url))),
  );
  assert.deepEqual([p.width, p.height, p.data.length], [1280, 158, 1280 * 158 * 3]);
  const [lo, hi] = range(p.data);
  assert.ok(lo >= 0 && hi <= 255 && hi - lo > 200, `${lo}..${hi}`);
});

test("every model's inputs have its shape, dtype and human's value range", () => {
  const want: Record<string, { dims: number[]; lo: number; hi: number; int?: boolean }> = {
    blazeface: { dims: [1, 256, 256, 3], lo: -1, hi: 1 },
    facemesh: { dims: [18, 192, 192, 3], lo: 0, hi: 1 },
    faceres: { dims: [18, 224, 224, 3], lo: 0, hi: 255 },
    antispoof: { dims: [18, 128, 128, 3], lo: 0, hi: 1 },
    liveness: { dims: [18, 32, 32, 3], lo: 0, hi: 1 },
    emotion: { dims: [18, 64, 64, 1], lo: -1, hi: 1 },
    iris: { dims: [36, 64, 64, 3], lo: 0, hi: 1 },
    "handlandmark-lite": { dims: [1, 224, 224, 3], lo: 0, hi: 1 },
    "movenet-lightning": { dims: [1, 192, 192, 3], lo: 0, hi: 255, int: true },
    centernet: { dims: [1, 512, 512, 3], lo: 0, hi: 255 },
  };
  assert.deepEqual(Object.keys(HUMAN_INPUTS).sort(), Object.keys(want).sort());
  for (const [name, w] of Object.entries(want)) {
    for (const split of ["calibrate", "score"] as const) {
      const sets = humanInputs(name, split);
      assert.ok(sets.length >= 1);
      for (const [x] of sets) {
        assert.deepEqual(x.dims, w.dims, `${name} ${split}`);
        assert.equal(x.data instanceof Int32Array, w.int === true, name);
        const [lo, hi] = range(x.data);
        // Real images span most of the range (blank crops would not).
        assert.ok(lo >= w.lo - 1e-4 && hi <= w.hi + 1e-4, `${name}: ${lo}..${hi}`);
        assert.ok(hi - lo > 0.5 * (w.hi - w.lo), `${name}: ${lo}..${hi}`);
      }
    }
  }
  // One-image models: calibration takes at most `limit` crops, scoring all of its half.
  assert.equal(humanInputs("handlandmark-lite", "calibrate").length, 4);
  assert.equal(humanInputs("handlandmark-lite", "score").length, 8);
  assert.equal(humanInputs("blazeface", "calibrate", 2).length, 2);
  assert.throws(() => humanInputs("nope", "score"), /no photo recipe for the model "nope"/);
});

test("calibration and scoring crops are different photos", () => {
  for (const name of ["faceres", "blazeface", "iris"]) {
    const a = humanInputs(name, "calibrate")[0][0].data;
    const b = humanInputs(name, "score")[0][0].data;
    let diff = 0;
    for (let i = 0; i < Math.min(a.length, b.length); i++) diff += Math.abs(a[i] - b[i]);
    assert.ok(diff / Math.min(a.length, b.length) > 0.01, name);
  }
});

test("blazeface finds faces in the scenes, not in random inputs", async () => {
  const f = files("blazeface");
  const model = await loadGraphModel(tfjsMemoryHandler(tf, f));
  const best = (x: ReturnType<typeof tf.tensor>) => {
    const res = model.execute(x) as ReturnType<typeof tf.tensor>[];
    // [1, 512, 1] and [1, 384, 1]: the logit of a face at each anchor.
    let m = -Infinity;
    for (const t of res.filter((t) => t.shape.at(-1) === 1)) {
      for (const v of t.dataSync()) m = Math.max(m, v);
    }
    tf.dispose(res);
    return 1 / (1 + Math.exp(-m));
  };
  const scores = humanInputs("blazeface", "score").map(([x]) => {
    const t = tf.tensor(x.data as Float32Array, [...x.dims]);
    const s = best(t);
    t.dispose();
    return s;
  });
  assert.ok(scores.filter((s) => s > 0.75).length >= 2, JSON.stringify(scores));
  const noise = tf.randomUniform([1, 256, 256, 3], -1, 1, "float32", 5);
  assert.ok(best(noise) < 0.75);
  noise.dispose();
  model.dispose();
  // And compareTfjsOutputs takes the photos: a model against itself agrees exactly.
  const same = await compareTfjsOutputs(runtime, f, f, {
    inputs: humanInputs("blazeface", "score"),
  });
  assert.ok(same.every((o) => Math.abs(o.cosine - 1) < 1e-12 && o.maxAbsDiff === 0));
});
