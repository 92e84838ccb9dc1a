// `--registry <json|file>`: extra default targets per module class, like NNI's
// `ModuleSetting.register(cls_name, setting)`.
import { readConfigList } from "../../compress/read_config_list.ts";
import { ConfigError } from "../../config/config_error.ts";
import type { ExtraRegistry, Mode } from "../../config/types.ts";
import { registryByMode } from "../../config/default_registry.ts";
import { UsageError } from "../cli_error.ts";

/**
 * Reads `--registry`: inline JSON or a JSON file, either `{mode: {Class: {target: setting}}}`
 * (the library's `registry` option) or `{Class: {target: setting}}` for the command's mode.
 * The entries themselves are checked with the config list (issues under `registry.…`).
 */
export async function readRegistry(
  value: unknown,
  mode: Mode,
  command: string,
): Promise<ExtraRegistry | undefined> {
  if (value === undefined) return undefined;
  let data: unknown;
  try {
    data = (await readConfigList(String(value))).configList;
  } catch (e) {
    const message = e instanceof ConfigError
      ? e.issues.map((i) => i.message).join("; ")
      : (e as Error).message;
    throw new UsageError(`--registry: ${message}`, command);
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new UsageError(
      `--registry must be a JSON object {Class: {target: setting}} or {mode: {Class: {target: setting}}}: current value is ${
        Array.isArray(data) ? "an array" : JSON.stringify(data)
      }`,
      command,
    );
  }
  return registryByMode(data, mode) as ExtraRegistry;
}
