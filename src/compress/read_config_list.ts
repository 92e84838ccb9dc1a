/**
 * `readConfigList`: a config list from a JSON file or from inline JSON.
 *
 * @module
 */

import { readFileBounded } from "../io/fs.ts";
import { ConfigError } from "../config/config_error.ts";

/** The largest config list read by default (16 MiB). */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** Options of `readConfigList`. */
export interface ReadConfigListOptions {
  /** The largest file or inline text accepted, in bytes (default `MAX_CONFIG_BYTES`). */
  readonly maxBytes?: number;
  /** Read FIFOs and devices too (at most `maxBytes` bytes). */
  readonly allowSpecial?: boolean;
}

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
 * @param options The size limit and whether special files (FIFOs, devices) are read.
 * @returns The parsed JSON and a label of where it came from.
 * @throws {FileError} When the file cannot be read, is not a regular file or is too large.
 * @throws {ConfigError} When the text is not JSON (code `invalid_json`, with line and column).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readConfigList } from "./read_config_list.ts";
 *
 * const { configList } = await readConfigList('[{"op_types": ["Linear"], "sparse_ratio": 0.5}]');
 * assert.deepEqual(configList, [{ op_types: ["Linear"], sparse_ratio: 0.5 }]);
 * ```
 */
export async function readConfigList(
  value: string,
  options: ReadConfigListOptions = {},
): Promise<{ configList: unknown; source: string }> {
  const inline = /^\s*[[{]/.test(value);
  const source = inline ? "inline config" : `config file "${value}"`;
  const maxBytes = options.maxBytes ?? MAX_CONFIG_BYTES;
  let text = value;
  if (!inline) {
    const bytes = await readFileBounded(value, {
      maxBytes,
      label: "config file",
      ...(options.allowSpecial === undefined ? {} : { allowSpecial: options.allowSpecial }),
    });
    text = new TextDecoder().decode(bytes);
  } else if (value.length > maxBytes) {
    throw new ConfigError([{
      code: "too_large",
      path: "",
      message:
        `the inline config must be at most ${maxBytes} characters: current length is ${value.length}`,
    }]);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    const m = /position (\d+)/.exec((e as Error).message);
    const where = m ? ` at ${lineColumn(text, Number(m[1]))}` : "";
    throw new ConfigError([{
      code: "invalid_json",
      path: "",
      message: `${source} is not valid JSON${where}: ${(e as Error).message}`,
    }]);
  }
  const wrapped = typeof data === "object" && data !== null && !Array.isArray(data) &&
    "config_list" in data;
  return { configList: wrapped ? (data as { config_list: unknown }).config_list : data, source };
}
