/**
 * `quantizationConfigPath` and `writeQuantizationConfig`: the `config.json` that goes with a
 * compressed-tensors safetensors file, so vLLM and Hugging Face transformers find its
 * `quantization_config`.
 *
 * @module
 */

import { FileError } from "../io/file_error.ts";
import { fileIdentity, readFile, writeFileAtomic } from "../io/fs.ts";
import { ModelFormatError } from "../io/model_format_error.ts";

function folderOf(path: string): string {
  return path.slice(0, Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1);
}

function stemOf(path: string): string {
  return path.slice(folderOf(path).length).replace(/(\.safetensors)?(\.index\.json)?$/i, "");
}

/**
 * Where the config of `output` goes: `config.json` in the output's folder, unless that file is the
 * `config.json` beside `input` (the output is in the input's folder), which describes the original
 * model and is never replaced — then `<output stem>.config.json` (rename it to `config.json` in a
 * folder of its own to load the model).
 *
 * @param input The input model file (or shard index).
 * @param output The output model file (or shard index).
 * @returns The path, and whether it is the side file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { quantizationConfigPath } from "./quantization_config_file.ts";
 *
 * const where = await quantizationConfigPath("/nonexistent/in/m.safetensors", "/nonexistent/out/m.safetensors");
 * assert.deepEqual(where, { path: "/nonexistent/out/config.json", beside: false });
 * ```
 */
export async function quantizationConfigPath(
  input: string,
  output: string,
): Promise<{ path: string; beside: boolean }> {
  const mine = `${folderOf(output)}config.json`;
  const theirs = `${folderOf(input)}config.json`;
  const id = await fileIdentity(theirs);
  const same = folderOf(input) === folderOf(output) ||
    (id !== undefined && id === await fileIdentity(mine));
  return same
    ? { path: `${folderOf(output)}${stemOf(output)}.config.json`, beside: true }
    : { path: mine, beside: false };
}

/**
 * Writes the config of a compressed-tensors output (path from `quantizationConfigPath`): the
 * `config.json` beside `input` when there is one (a Hugging Face model folder), with its
 * `quantization_config` set to `config`, or `{ "quantization_config": config }` alone.
 *
 * @param input The input model file (or shard index).
 * @param output The output model file (or shard index).
 * @param config The `quantization_config`.
 * @returns The path written and the bytes.
 * @throws {ModelFormatError} When the input's `config.json` is not a JSON object.
 * @throws {FileError} When a file cannot be read or written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { writeQuantizationConfig } from "./quantization_config_file.ts";
 *
 * const dir = mkdtempSync(`${tmpdir()}/qc-`);
 * mkdirSync(`${dir}/in`);
 * writeFileSync(`${dir}/in/config.json`, JSON.stringify({ model_type: "llama" }));
 * const { path } = await writeQuantizationConfig(`${dir}/in/m.safetensors`, `${dir}/out.safetensors`, { quant_method: "compressed-tensors" });
 * const written = JSON.parse(readFileSync(path, "utf8"));
 * assert.deepEqual(written, { model_type: "llama", quantization_config: { quant_method: "compressed-tensors" } });
 * rmSync(dir, { recursive: true });
 * ```
 */
export async function writeQuantizationConfig(
  input: string,
  output: string,
  config: object,
): Promise<{ path: string; bytes: number }> {
  const theirs = `${folderOf(input)}config.json`;
  let base: Record<string, unknown> = {};
  if (await fileIdentity(theirs) !== undefined) {
    let text: string;
    try {
      text = new TextDecoder().decode(await readFile(theirs));
    } catch (e) {
      throw FileError.from("read", "model config", theirs, e);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new ModelFormatError(`config.json is not JSON: ${(e as Error).message}`, {
        file: theirs,
        cause: e,
      });
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new ModelFormatError(
        `config.json must be a JSON object: current value is ${JSON.stringify(parsed)}`,
        { file: theirs },
      );
    }
    base = parsed as Record<string, unknown>;
  }
  const { path } = await quantizationConfigPath(input, output);
  const bytes = new TextEncoder().encode(
    `${JSON.stringify({ ...base, quantization_config: config }, null, 2)}\n`,
  );
  await writeFileAtomic(path, bytes, { label: "model config" });
  return { path, bytes: bytes.length };
}
