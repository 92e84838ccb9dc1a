// Temporary folders for tests, removed when the test process ends (Deno, Bun and Node alike).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

const made: string[] = [];

function removeAll(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

// Node and Bun emit `exit`; Deno's test runner does not, but dispatches `unload`.
process.once("exit", removeAll);
globalThis.addEventListener?.("unload", removeAll);

/**
 * A fresh folder under the system's temporary folder, removed with everything in it when the
 * process ends.
 *
 * @param prefix The start of the folder's name (`nncompress-cli-` ...).
 */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
