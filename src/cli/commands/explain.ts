// `nncompress explain <model> --config <c>`: what a config list does on a model.
import { explain } from "../../config/explain.ts";
import { formatExplain } from "../../config/format_explain.ts";
import { type Mode, MODES } from "../../config/types.ts";
import { type Compressor, compressorFor, inferMode } from "../../config/algorithms.ts";
import { UsageError } from "../cli_error.ts";
import { readConfigList } from "../../compress/read_config_list.ts";
import { readModelFile } from "../../compress/read_model_file.ts";
import { moduleInfos, noActivationsReason } from "../../model/module_infos.ts";
import { type Command, printJson } from "./_context.ts";
import { readRegistry } from "./_registry.ts";
import {
  autoDependencyGroups,
  type AutoGroup,
  type ChannelGroup,
  channelGroups,
} from "../../pruning/channel_groups.ts";
import type { PruningTarget } from "../../pruning/types.ts";

/** Prints the explanation; exit code 1 when the list has issues. */
export const explainCommand: Command = async (args, ctx) => {
  const [path, ...rest] = args.positionals;
  if (path === undefined) throw new UsageError("explain needs a model file", "explain");
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`, "explain");
  const config = args.values.config;
  if (typeof config !== "string") throw new UsageError("explain needs --config", "explain");
  const given = args.values.mode as string | undefined;
  if (given !== undefined && !(MODES as readonly string[]).includes(given)) {
    throw new UsageError(
      `--mode must be one of ${MODES.join(", ")}: current value is ${given}`,
      "explain",
    );
  }
  const { configList } = await readConfigList(config);
  const inferred = given === undefined ? inferMode(configList) : undefined;
  const mode = (given ?? inferred?.mode ?? "pruning") as Mode;
  const modeNote = given !== undefined
    ? "given with --mode"
    : inferred !== undefined
    ? `inferred from ${inferred.reason}`
    : "the default: no key of the list names a mode (use --mode)";
  let compressor: Compressor;
  try {
    compressor = compressorFor(mode, args.values.algorithm as string | undefined);
  } catch (e) {
    throw new UsageError(`--algorithm: ${(e as Error).message}`, "explain");
  }
  const registry = await readRegistry(args.values.registry, mode, "explain");
  const bar = ctx.progress(`explain ${path}`);
  // Data files are checked, not read: explaining a model larger than memory works.
  const model = await readModelFile(path, bar.update, { readExternalData: false });
  bar.done();
  const noActivations = mode === "quantization" ? noActivationsReason(model.graph) : undefined;
  const result = explain(moduleInfos(model.graph), configList, mode, {
    ...(mode === "distillation" ? {} : { algorithm: compressor.algorithm }),
    ...(registry === undefined ? {} : { registry }),
    ...(noActivations === undefined ? {} : { noActivations }),
  });
  // Pruning an ONNX model: the modules whose channels are coupled, and the groups that
  // prune --remove-channels would give one mask.
  let groups: { all: ChannelGroup[]; selected: AutoGroup[] } | undefined;
  if (mode === "pruning" && model.format === "onnx") {
    const all = channelGroups(model.onnx, model.graph);
    const selected = autoDependencyGroups(
      result.targets as unknown as PruningTarget[],
      all,
    ).groups;
    groups = { all, selected };
  }
  const run = {
    mode,
    modeSource: modeNote,
    algorithm: compressor.algorithm,
    algorithmSource: compressor.isDefault ? "the default; -a changes it" : "given with -a",
  };
  if (ctx.json) {
    printJson(ctx, {
      ok: result.issues.length === 0,
      ...result,
      run,
      ...(groups === undefined ? {} : { channelGroups: groups }),
    });
  } else {
    const head = mode === "distillation"
      ? `mode: ${mode} (${modeNote})`
      : `mode: ${mode} (${modeNote}); algorithm: ${compressor.algorithm} (${run.algorithmSource})`;
    ctx.io.stdout(`${head}\n${formatExplain(result)}\n`);
    if (groups !== undefined) ctx.io.stdout(formatGroups(groups));
  }
  return result.issues.length === 0 ? 0 : 1;
};

/** The channel groups section of `explain` on an ONNX model (pruning). */
function formatGroups(groups: { all: ChannelGroup[]; selected: AutoGroup[] }): string {
  const lines = [
    `channel groups: ${groups.all.length} sets of modules with coupled output channels; ` +
    `prune --remove-channels gives the ${groups.selected.length} the list selects one mask:`,
  ];
  for (const g of groups.selected) {
    lines.push(`  ${g.id}: ${g.targets.join(", ")}`);
    for (const r of g.reasons.slice(0, 3)) lines.push(`    because ${r}`);
    if (g.reasons.length > 3) lines.push(`    (${g.reasons.length - 3} more couplings)`);
  }
  const frozen = groups.all.filter((g) => g.frozen !== undefined);
  for (const g of frozen) {
    lines.push(`  kept whole: ${g.members.join(", ")}: channels ${g.frozen}`);
  }
  return lines.join("\n") + "\n";
}
