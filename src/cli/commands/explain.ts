// `nncompress explain <model> --config <c>`: what a config list does on a model.
import { explain } from "../../config/explain.ts";
import { formatExplain } from "../../config/format_explain.ts";
import { type Mode, MODES } from "../../config/types.ts";
import { UsageError } from "../cli_error.ts";
import { readConfigList } from "../read_config.ts";
import { readModelFile } from "../read_model_file.ts";
import { moduleInfos } from "../../model/module_infos.ts";
import { type Command, printJson } from "./_context.ts";

/** Prints the explanation; exit code 1 when the list has issues. */
export const explainCommand: Command = async (args, ctx) => {
  const [path, ...rest] = args.positionals;
  if (path === undefined) throw new UsageError("explain needs a model file", "explain");
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`, "explain");
  const config = args.values.config;
  if (typeof config !== "string") throw new UsageError("explain needs --config", "explain");
  const mode = (args.values.mode ?? "pruning") as string;
  if (!(MODES as readonly string[]).includes(mode)) {
    throw new UsageError(
      `--mode must be one of ${MODES.join(", ")}: current value is ${mode}`,
      "explain",
    );
  }
  const { configList } = await readConfigList(config);
  const bar = ctx.progress(`explain ${path}`);
  const model = await readModelFile(path, bar.update);
  bar.done();
  const algorithm = args.values.algorithm as string | undefined;
  const result = explain(moduleInfos(model.graph), configList, mode as Mode, {
    ...(algorithm === undefined ? {} : { algorithm }),
  });
  if (ctx.json) printJson(ctx, { ok: result.issues.length === 0, ...result });
  else ctx.io.stdout(formatExplain(result) + "\n");
  return result.issues.length === 0 ? 0 : 1;
};
