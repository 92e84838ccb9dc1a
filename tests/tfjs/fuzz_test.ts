// Malformed TensorFlow.js models: mutated model.json structures and shards give a
// ModelFormatError (file, weight, byte offset) and nothing else; whatever loads is also seen
// through the module view and read in full.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadModel } from "../../src/compress/load_model.ts";
import { ModelFormatError } from "../../src/io/model_format_error.ts";
import { readTfjs } from "../../src/io/tfjs/read_tfjs.ts";
import { encodeTfjs } from "../../src/io/tfjs/write_tfjs.ts";
import {
  tfjsChannelScaleSites,
  withTfjsChannelScales,
} from "../../src/quantization/channel_scales_tfjs.ts";
import {
  functionalModelFiles,
  graphModelFiles,
  layersModelFiles,
  nestedModelFiles,
} from "./_models.ts";

/** A seeded xorshift generator. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

const ODD: unknown[] = [null, -1, 1e300, "x", [], {}, [1e9, 1e9], true, 0.5, [-3], "uint8"];

/** Replaces one value somewhere in the JSON tree with an odd value. */
function mutate(value: unknown, pick: (n: number) => number, depth = 0): unknown {
  if (Array.isArray(value) && value.length > 0) {
    const copy = [...value];
    const i = pick(copy.length);
    copy[i] = pick(4) === 0 || depth > 6 ? ODD[pick(ODD.length)] : mutate(copy[i], pick, depth + 1);
    return copy;
  }
  if (typeof value === "object" && value !== null) {
    const keys = Object.keys(value);
    if (keys.length === 0) return ODD[pick(ODD.length)];
    const k = keys[pick(keys.length)];
    const copy: Record<string, unknown> = { ...value as Record<string, unknown> };
    if (pick(8) === 0) delete copy[k];
    else {
      copy[k] = pick(4) === 0 || depth > 6
        ? ODD[pick(ODD.length)]
        : mutate(copy[k], pick, depth + 1);
    }
    return copy;
  }
  return ODD[pick(ODD.length)];
}

async function check(files: Map<string, Uint8Array>) {
  try {
    const model = loadModel(files.get("model.json")!, "model.json", files);
    const names = model.graph.modules.map((m) => m.name);
    assert.equal(new Set(names).size, names.length, `module names repeat: ${names}`);
    for (const m of model.graph.modules) for (const p of Object.values(m.params)) await p.data();
  } catch (e) {
    if (!(e instanceof ModelFormatError)) throw e;
    assert.match(e.message, /invalid model file "model\.json"/);
  }
}

/** A weights manifest alone (face-api.js's form): the graph model's manifest as a list. */
function manifestFiles(): Map<string, Uint8Array> {
  const files = graphModelFiles();
  const json = JSON.parse(new TextDecoder().decode(files.get("model.json")!));
  files.set("model.json", new TextEncoder().encode(JSON.stringify(json.weightsManifest)));
  return files;
}

test("900 mutated model.json structures, weights manifests and shards: a ModelFormatError or a readable model", async () => {
  const bases = [await layersModelFiles(), graphModelFiles(), manifestFiles()];
  const pick = rng(20261204);
  for (let i = 0; i < 900; i++) {
    const base = bases[i % 3];
    const files = new Map(base);
    const json = JSON.parse(new TextDecoder().decode(base.get("model.json")!));
    if (i % 5 === 4) {
      // A shard cut short, dropped or grown.
      const shards = [...files.keys()].filter((k) => k !== "model.json");
      const name = shards[pick(shards.length)];
      const bytes = files.get(name)!;
      if (pick(3) === 0) files.delete(name);
      else {files.set(
          name,
          pick(2) === 0 ? bytes.subarray(0, pick(bytes.length)) : new Uint8Array(bytes.length + 3),
        );}
    } else {
      const mutated = mutate(json, pick);
      files.set("model.json", new TextEncoder().encode(JSON.stringify(mutated)));
    }
    await check(files);
  }
  // Text that is not JSON.
  await check(new Map([["model.json", new TextEncoder().encode("{ not json")]]));
});

test("400 mutated layers topologies: channel scales go to every site found, and the result reads back", async () => {
  const bases = [await layersModelFiles(), await functionalModelFiles(), await nestedModelFiles()];
  const pick = rng(20261206);
  let rewritten = 0;
  for (let i = 0; i < 400; i++) {
    const base = bases[i % 3];
    const json = JSON.parse(new TextDecoder().decode(base.get("model.json")!));
    json.modelTopology = mutate(json.modelTopology, pick);
    const files = new Map(base);
    files.set("model.json", new TextEncoder().encode(JSON.stringify(json)));
    let model;
    try {
      model = readTfjs(files.get("model.json")!, files);
    } catch (e) {
      if (!(e instanceof ModelFormatError)) throw e;
      continue;
    }
    const sites = tfjsChannelScaleSites(model);
    const scales = new Map([...sites].map(([k, s]) => [k, new Float32Array(s.channels).fill(2)]));
    const out = withTfjsChannelScales(model, scales);
    assert.equal(out.weights.size, sites.size);
    const written = encodeTfjs(out.model, new Map());
    const back = readTfjs(written.modelJson, written.shards);
    assert.equal(
      back.weights.length,
      model.weights.length + [...out.weights].length +
        [...sites.values()].filter((s) => s.extraBytes !== undefined).length * 2,
    );
    if (sites.size > 0) rewritten++;
  }
  assert.ok(rewritten > 100, `${rewritten} of 400 had sites`);
});
