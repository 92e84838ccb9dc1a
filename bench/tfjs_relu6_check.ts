/**
 * Equalization through ReLU6 on real photos, checked: the channels of each ReLU6 output that
 * stay below 6 on the calibration photos are rescaled (`equalizeTfjs` with `activationMax`,
 * float16 weights too), and on the other photos (the scoring half of tests/tfjs/_photos.ts) this
 * bench counts the rescaled channels that now reach 6 there (where the function changed) and
 * compares the float outputs of the equalized model with the original's (no quantization).
 *
 *   deno run -A bench/tfjs_relu6_check.ts [--models handlandmark-lite,centernet] [--margin 2]
 */

import { loadGraphModel } from "@tensorflow/tfjs-converter";
import {
  compareTfjsOutputs,
  tfjsChannelStats,
  type TfjsRuntime,
} from "../src/compress/compare_tfjs.ts";
import { readModelFile } from "../src/compress/read_model_file.ts";
import { encodeTfjs } from "../src/io/tfjs/write_tfjs.ts";
import { equalizeTfjs } from "../src/quantization/equalize_tfjs.ts";
import { tf } from "../tests/tfjs/_models.ts";
import { humanInputs } from "../tests/tfjs/_photos.ts";
import { parseArgs } from "./_harness.ts";

const args = parseArgs(Deno.args);
const HUMAN = new URL("../node_modules/@vladmandic/human/models/", import.meta.url).pathname;
const names = args.values.get("models")?.split(",") ?? ["handlandmark-lite", "centernet"];
const margin = Number(args.values.get("margin") ?? 2);
const runtime: TfjsRuntime = { tf, loadGraphModel: (h) => loadGraphModel(h) };

for (const name of names) {
  const m = await readModelFile(`${HUMAN}${name}.json`, () => {});
  if (m.format !== "tfjs") continue;
  const nodes = (m.tfjs.json.modelTopology as {
    node: { name: string; op: string; attr?: { fused_ops?: { list?: { s?: string[] } } } }[];
  }).node;
  const relu6 = nodes.filter((n) =>
    n.op === "Relu6" || (n.attr?.fused_ops?.list?.s ?? []).some((s) => atob(s) === "Relu6")
  ).map((n) => n.name);
  const calibrate = humanInputs(name, "calibrate");
  const score = humanInputs(name, "score");
  const cal = await tfjsChannelStats(runtime, m.files, calibrate, relu6);
  const activationMax = new Map([...cal].map(([k, v]) => [k, v.max]));
  const eq = equalizeTfjs(m.tfjs, { activationMax, float16: true, margin });
  const written = encodeTfjs(eq.model, new Map());
  const files = new Map([["model.json", written.modelJson], ...written.shards]);
  // On the scoring photos: channels below 6 / margin on calibration (every ReLU6 output; those
  // of a pair were rescaled) that reach 6 now.
  const after = await tfjsChannelStats(runtime, files, score, relu6);
  let below = 0;
  let reach = 0;
  for (const [k, v] of cal) {
    const now = after.get(k)!.max;
    for (let c = 0; c < v.max.length; c++) {
      if (v.max[c] >= 6 / margin * (1 - 1e-6)) continue;
      below++;
      if (now[c] >= 6 * (1 - 1e-6)) reach++;
    }
  }
  const photos = await compareTfjsOutputs(runtime, files, m.files, { inputs: score });
  const random = await compareTfjsOutputs(runtime, files, m.files);
  const low = (c: { cosine: number }[]) => Math.min(...c.map((o) => o.cosine)).toFixed(6);
  const rel = (c: { relativeError: number }[]) =>
    Math.max(...c.map((o) => o.relativeError)).toExponential(1);
  console.log(
    `${name} (margin ${margin}): ${eq.pairs.length} pairs, ${eq.relu6.pairs} through a ReLU6 ` +
      `(${eq.relu6.clipped} of ${eq.relu6.channels} channels reach 6 / margin on the calibration ` +
      `photos and keep scale 1); on the scoring photos ${reach} of the ${below} ReLU6 channels ` +
      `below 6 / margin on calibration reach 6; float outputs vs the original: ` +
      `photos cosine ${low(photos)} (relative L2 ${rel(photos)}), random inputs cosine ` +
      `${low(random)} (relative L2 ${rel(random)})`,
  );
}
