/**
 * `readConfigList`: a config list from a JSON file or from inline JSON.
 *
 * @module
 */

import { readFile } from "../io/fs.ts";
import { CliError } from "./cli_error.ts";

/** Line and column (1-based) of a character offset. */
function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split("\n");
  return `line ${before.length}, column ${before[before.length - 1].length + 1}`;
}

/**
 * Reads a config list: inline JSON when the value starts with `[` or `{`, else the JSON file at
 * that path. An object with a `config_list` key yields that key's value; anything else is
 * returned as parsed (the config layer validates it).
 *
 * @param value The `--config` value.
 * @returns The parsed JSON and a label of where it came from.
 * @throws {CliError} When the file cannot be read or is not JSON (with line and column).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readConfigList } from "./read_config.ts";
 *
 * const { configList } = await readConfigList('[{"op_types": ["Linear"], "sparse_ratio": 0.5}]');
 * assert.deepEqual(configList, [{ op_types: ["Linear"], sparse_ratio: 0.5 }]);
 * ```
 */
export async function readConfigList(
  value: string,
): Promise<{ configList: unknown; source: string }> {
  const inline = /^\s*[[{]/.test(value);
  const source = inline ? "inline --config" : `config file "${value}"`;
  let text = value;
  if (!inline) {
    try {
      text = new TextDecoder().decode(await readFile(value));
    } catch (e) {
      throw new CliError(`cannot read ${source}: ${(e as Error).message}`, {
        hint: "--config takes a JSON file path or inline JSON starting with [ or {",
        cause: e,
      });
    }
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    const m = /position (\d+)/.exec((e as Error).message);
    const where = m ? ` at ${lineColumn(text, Number(m[1]))}` : "";
    throw new CliError(`${source} is not valid JSON${where}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const wrapped = typeof data === "object" && data !== null && !Array.isArray(data) &&
    "config_list" in data;
  return { configList: wrapped ? (data as { config_list: unknown }).config_list : data, source };
}
