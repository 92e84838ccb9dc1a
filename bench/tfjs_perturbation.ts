/**
 * How much each output of a tfjs model of `@vladmandic/human` moves when every float weight is
 * multiplied by `1 + eps·u` (`u` uniform in [-1, 1), deterministic), scored like
 * `bench/tfjs_models_table.ts` on the scoring photos (tests/tfjs/_photos.ts): the floor below
 * which an output's cosine says nothing about a compression method, since any change to the
 * weights as small as `eps` already costs that much.
 *
 *   deno run -A bench/tfjs_perturbation.ts [--models centernet,handlandmark-lite]
 *     [--eps 0.0001,0.001] [--out bench/results/tfjs_perturbation.json]
 *
 * Prints one line per model and eps, writes JSON.
 */

import { loadGraphModel } from "@tensorflow/tfjs-converter";
import { compareTfjsOutputs, type TfjsRuntime } from "../src/compress/compare_tfjs.ts";
import { readTfjs, tfjsWeightValues } from "../src/io/tfjs/read_tfjs.ts";
import { encodeTfjs, type TfjsReplacement } from "../src/io/tfjs/write_tfjs.ts";
import { writeFileAtomic } from "../src/io/fs.ts";
import { readModelFile } from "../src/compress/read_model_file.ts";
import { tf } from "../tests/tfjs/_models.ts";
import { humanInputs } from "../tests/tfjs/_photos.ts";
import { benchValues, parseArgs } from "./_harness.ts";

const args = parseArgs(Deno.args);
const names = (args.values.get("models") ?? "centernet,handlandmark-lite").split(",");
const epsilons = (args.values.get("eps") ?? "0.0001,0.001").split(",").map(Number);
const out = args.values.get("out") ?? "bench/results/tfjs_perturbation.json";
const HUMAN = new URL("../node_modules/@vladmandic/human/models/", import.meta.url).pathname;
const runtime: TfjsRuntime = { tf, loadGraphModel: (h) => loadGraphModel(h) };

const rows: Record<string, unknown>[] = [];
for (const name of names) {
  const read = await readModelFile(`${HUMAN}${name}.json`, () => {});
  if (read.format !== "tfjs") throw new TypeError(`${name} is not a tfjs model`);
  const files = new Map(read.files);
  const model = readTfjs(files.get("model.json")!, files);
  const score = humanInputs(name, "score");
  for (const eps of epsilons) {
    const replacements = new Map<string, TfjsReplacement>();
    let seed = 1;
    for (const w of model.weights) {
      if (w.spec.dtype !== "float32") continue;
      const v = tfjsWeightValues(w) as Float32Array;
      const u = benchValues(v.length, seed++);
      // Stored as float32: the perturbed values are kept whatever the source's storage.
      replacements.set(w.spec.name, {
        values: v.map((x, i) => x * (1 + 2 * eps * u[i])),
        storage: "float32",
      });
    }
    const written = encodeTfjs(model, replacements, { shardBytes: Number.MAX_SAFE_INTEGER });
    const cmp = await compareTfjsOutputs(
      runtime,
      new Map([["model.json", written.modelJson], ...written.shards]),
      files,
      { inputs: score },
    );
    rows.push({
      model: name,
      eps,
      outputs: cmp.map((c) => ({ name: c.name, cosine: c.cosine, maxAbsDiff: c.maxAbsDiff })),
    });
    console.log(
      `${name} eps ${eps}: ${cmp.map((c) => `${c.name} ${c.cosine.toFixed(4)}`).join(", ")}`,
    );
  }
}
await writeFileAtomic(
  out,
  new TextEncoder().encode(JSON.stringify({ bench: "tfjs_perturbation", rows }, null, 2) + "\n"),
);
