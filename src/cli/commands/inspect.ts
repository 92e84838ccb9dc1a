// `nncompress inspect <model>`: the modules a config list can select.
import { inspect } from "../../model/inspect.ts";
import { UsageError } from "../cli_error.ts";
import { readModelFile } from "../../compress/read_model_file.ts";
import { modelFileBytes } from "../../compress/load_model.ts";
import { type Command, printJson } from "./_context.ts";

/** Prints the module listing of a model. */
export const inspectCommand: Command = async (args, ctx) => {
  const [path, ...rest] = args.positionals;
  if (path === undefined) throw new UsageError("inspect needs a model file", "inspect");
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`, "inspect");
  const bar = ctx.progress(`inspect ${path}`);
  // Data files are checked, not read: listing a model larger than memory works.
  const model = await readModelFile(path, bar.update, { readExternalData: false });
  bar.done();
  const summary = inspect(model.graph);
  if (ctx.json) {
    printJson(ctx, {
      file: path,
      format: model.format,
      fileBytes: modelFileBytes(model),
      modules: summary.modules,
      elements: summary.elements,
      bytes: summary.bytes,
    });
  } else {
    ctx.io.stdout(`${path}: ${model.format}, ${model.graph.modules.length} modules\n\n`);
    ctx.io.stdout(summary.text + "\n");
    const quantized = summary.modules.filter((m) => m.quantized !== undefined);
    if (quantized.length > 0) {
      ctx.io.stdout(
        `\n${quantized.length} module${quantized.length === 1 ? " is" : "s are"} pre-quantized ` +
          "(their weights are stored as integer codes): prune and quantize skip them; dequantize " +
          "the model first, or start from the float original, to compress them\n",
      );
    }
  }
  return 0;
};
