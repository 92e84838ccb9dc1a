/**
 * A one-line progress bar on standard error, drawn only on terminals.
 *
 * @module
 */

import type { CliIO } from "./cli_io.ts";
import type { Progress } from "../compress/compress_model.ts";

/** A progress callback with a `done()` that clears the line. */
export interface ProgressBar {
  /** Reports `done` of `total` items of a stage. */
  readonly update: Progress;
  /** Clears the bar. */
  done(): void;
}

/**
 * A progress bar (`label stage [#####-----] 12/47`) redrawn at most every 80 ms; a no-op when
 * disabled (standard error not a terminal, or `--json`).
 *
 * @param io Where to draw.
 * @param label A prefix (the command and file).
 * @param enabled Whether to draw at all.
 * @returns The bar.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { progressBar } from "./progress.ts";
 *
 * let out = "";
 * const bar = progressBar({ stderr: (s: string) => (out += s) } as never, "prune", true);
 * bar.update("metrics", 5, 10);
 * bar.done();
 * assert.ok(out.includes("metrics [##########----------] 5/10"));
 * ```
 */
export function progressBar(io: CliIO, label: string, enabled: boolean): ProgressBar {
  if (!enabled) return { update: () => {}, done: () => {} };
  let last = 0;
  let drawn = false;
  return {
    update(stage, done, total) {
      const now = Date.now();
      if (done !== 0 && done !== total && now - last < 80) return;
      last = now;
      const width = 20;
      const filled = total <= 0 ? width : Math.round((done / total) * width);
      io.stderr(
        `\r\x1b[2K${label} ${stage} [${"#".repeat(filled)}${
          "-".repeat(width - filled)
        }] ${done}/${total}`,
      );
      drawn = true;
    },
    done() {
      if (drawn) io.stderr("\r\x1b[2K");
      drawn = false;
    },
  };
}
