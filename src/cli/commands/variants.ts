// `nncompress variants <model.onnx> -o <dir>`: the transformers.js variant files.
import { compressVariants, VARIANT_MODES, type VariantMode } from "../../compress/variants.ts";
import { readConfigList } from "../../compress/read_config_list.ts";
import { readModelFile } from "../../compress/read_model_file.ts";
import { makeDir, writeFileAtomic } from "../../io/fs.ts";
import { formatTable } from "../../report/format_table.ts";
import { CliError, UsageError, withConfigSource } from "../cli_error.ts";
import { type Command, printJson } from "./_context.ts";
import { loadOrt } from "./_ocr.ts";
import { readInputSpecs } from "./_inputs.ts";
import { EXIT_UNCHANGED, parseBlockOps } from "./compress.ts";

const COMMAND = "variants";

/** `--modes fp16,q4` (or `all`). */
function parseModes(value: unknown): readonly VariantMode[] {
  if (value === undefined || value === "all") return VARIANT_MODES;
  const modes = String(value).split(",").map((s) => s.trim()).filter((s) => s !== "");
  const bad = modes.find((m) => !VARIANT_MODES.includes(m as VariantMode));
  if (bad !== undefined || modes.length === 0) {
    throw new UsageError(
      `--modes takes a comma-separated list of ${
        VARIANT_MODES.join(", ")
      } (or all): current value is ${String(value)}`,
      COMMAND,
    );
  }
  return [...new Set(modes)] as VariantMode[];
}

function parseOps(value: unknown): string[] | undefined {
  return value === undefined ? undefined : parseBlockOps(String(value));
}

const mb = (b: number) => b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : `${(b / 1e3).toFixed(1)} kB`;

/** The `variants` command. */
export const variantsCommand: Command = async (args, ctx) => {
  const [path, ...rest] = args.positionals;
  if (path === undefined) throw new UsageError("variants needs an ONNX model file", COMMAND);
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`, COMMAND);
  if (!path.toLowerCase().endsWith(".onnx")) {
    throw new UsageError(`variants takes an ONNX model (.onnx): current value is ${path}`, COMMAND);
  }
  const dir = args.values.output;
  if (typeof dir !== "string" || dir === "") {
    throw new UsageError(
      "variants needs --output <dir>, the folder for the variant files",
      COMMAND,
    );
  }
  const modes = parseModes(args.values.modes);
  const opBlockList = parseOps(args.values["block-ops"]);
  const evaluate = args.values["no-eval"] !== true;
  const inputs = await readInputSpecs(args.values.input as string[] | undefined, COMMAND);
  const config = args.values.config as string | undefined;
  const read = config === undefined ? undefined : await readConfigList(config);
  const model = await readModelFile(path, () => {});
  if (model.format !== "onnx") {
    throw new CliError(`variants are made from an ONNX model: "${path}" is ${model.format}`);
  }
  const ort = evaluate ? await loadOrt(ctx) : undefined;
  try {
    await makeDir(dir);
  } catch (e) {
    throw new CliError(`cannot create the output folder "${dir}": ${(e as Error).message}`, {
      cause: e,
    });
  }
  const folder = dir.replace(/[\\/]+$/, "") + "/";
  const total = modes.length;
  let index = 0;
  let result;
  try {
    result = await compressVariants(model, {
      modes,
      ...(read === undefined ? {} : { configList: read.configList }),
      ...(opBlockList === undefined ? {} : { float16: { opBlockList } }),
      ...(args.values["per-tensor"] === true ? { perTensor: true } : {}),
      ...(ort === undefined ? {} : { evaluate: { ort, inputs } }),
      onVariant: (e) => {
        if (e.phase === "start") {
          index++;
          return;
        }
        if (ctx.json) return;
        if (e.phase === "failed") {
          ctx.io.stderr(`[${index}/${total}] ${e.mode}: failed: ${e.error.message}\n`);
          return;
        }
        const v = e.variant;
        const worst = v.comparison === undefined
          ? ""
          : `, cosine ${Math.min(...v.comparison.map((c) => c.cosine)).toFixed(6)}`;
        ctx.io.stderr(
          `[${index}/${total}] ${v.mode}: ${folder}${v.file} ${mb(v.bytes.length)} in ${
            (v.timeMs / 1000).toFixed(2)
          } s${worst}\n`,
        );
      },
    });
  } catch (e) {
    if (read !== undefined) withConfigSource(e, read.source);
    throw e;
  }
  if (result.unchanged !== undefined) {
    if (ctx.json) printJson(ctx, { ok: false, unchanged: result.unchanged, variants: [] });
    ctx.io.stderr(
      `warning: ${result.unchanged}: no variant was written\nhint: check the list with "nncompress explain"\n`,
    );
    return EXIT_UNCHANGED;
  }
  for (const v of result.variants) await writeFileAtomic(folder + v.file, v.bytes);
  const rows = result.variants.map((v) => {
    const c = v.comparison ?? [];
    return {
      mode: v.mode,
      file: folder + v.file,
      bytes: v.bytes.length,
      ratio: v.bytes.length / model.bytes.length,
      timeMs: v.timeMs,
      ...(c.length === 0 ? {} : {
        cosine: Math.min(...c.map((o) => o.cosine)),
        maxAbsDiff: Math.max(...c.map((o) => o.maxAbsDiff)),
        relativeError: Math.max(...c.map((o) => o.relativeError)),
      }),
      warnings: v.report.warnings,
    };
  });
  const failed = result.failed.map((f) => ({ mode: f.mode, file: f.file, error: f.error.message }));
  if (ctx.json) {
    printJson(ctx, {
      ok: failed.length === 0,
      model: path,
      originalBytes: model.bytes.length,
      variants: rows,
      failed,
    });
    return failed.length === 0 ? 0 : 1;
  }
  const table = [["mode", "file", "size", "× original", "time s", "cosine", "max |diff|"]];
  table.push(["original", path, mb(model.bytes.length), "1.000", "-", "-", "-"]);
  for (const r of rows) {
    table.push([
      r.mode,
      r.file,
      mb(r.bytes),
      r.ratio.toFixed(3),
      (r.timeMs / 1000).toFixed(2),
      r.cosine === undefined ? "-" : r.cosine.toFixed(6),
      r.maxAbsDiff === undefined ? "-" : r.maxAbsDiff.toExponential(3),
    ]);
  }
  for (const f of failed) table.push([f.mode, "(not written)", "-", "-", "-", "-", "-"]);
  ctx.io.stdout(`${formatTable(table)}\n`);
  for (const f of failed) ctx.io.stdout(`error: ${f.mode}: ${f.error}\n`);
  return failed.length === 0 ? 0 : 1;
};
