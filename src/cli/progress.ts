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

/** How progress is shown: `bar` redrawn on one line, `lines` periodic log lines, `none`. */
export type ProgressMode = "bar" | "lines" | "none";

/** `--progress auto|bar|lines|none`: `auto` is a bar on a terminal and nothing otherwise. */
export function progressMode(
  value: string | undefined,
  stderrIsTTY: boolean,
  json: boolean,
): ProgressMode | undefined {
  if (value === undefined || value === "auto") return stderrIsTTY && !json ? "bar" : "none";
  return value === "bar" || value === "lines" || value === "none" ? value : undefined;
}

function eta(started: number, now: number, done: number, total: number): string {
  if (done <= 0 || done >= total) return "";
  const left = ((now - started) / done) * (total - done) / 1000;
  return left < 60 ? ` ETA ${left.toFixed(0)} s` : ` ETA ${(left / 60).toFixed(1)} min`;
}

/**
 * Progress on standard error: a bar (`label stage [#####-----] 12/47 ETA 8 s`) redrawn at most
 * every 80 ms, or log lines (`label: stage 12/47, 3.1 s, ETA 8 s`) when a stage starts or ends
 * and at most every 2 s in between, for logs where a redrawn line would pile up; `none` draws
 * nothing.
 *
 * @param io Where to draw.
 * @param label A prefix (the command and file).
 * @param mode `bar`, `lines` or `none` (`true`/`false` for a bar or nothing).
 * @returns The progress callback.
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
 * let log = "";
 * const lines = progressBar({ stderr: (s: string) => (log += s) } as never, "prune", "lines");
 * lines.update("metrics", 0, 10);
 * lines.update("metrics", 10, 10);
 * assert.match(log, /^prune: metrics 0\/10, \d+\.\d s\nprune: metrics 10\/10, \d+\.\d s\n$/);
 * ```
 */
export function progressBar(
  io: CliIO,
  label: string,
  mode: ProgressMode | boolean,
): ProgressBar {
  const kind = mode === true ? "bar" : mode === false ? "none" : mode;
  if (kind === "none") return { update: () => {}, done: () => {} };
  const started = Date.now();
  if (kind === "lines") {
    let last = 0;
    let stage = "";
    return {
      update(current, done, total) {
        const now = Date.now();
        const edge = current !== stage || done === 0 || done === total;
        if (!edge && now - last < 2000) return;
        last = now;
        stage = current;
        io.stderr(
          `${label}: ${current} ${done}/${total}, ${((now - started) / 1000).toFixed(1)} s${
            eta(started, now, done, total)
          }\n`,
        );
      },
      done() {},
    };
  }
  let last = 0;
  let drawn = false;
  let stage = "";
  let stageStart = started;
  return {
    update(current, done, total) {
      const now = Date.now();
      if (current !== stage) {
        stage = current;
        stageStart = now;
      }
      if (done !== 0 && done !== total && now - last < 80) return;
      last = now;
      const width = 20;
      const filled = total <= 0 ? width : Math.round((done / total) * width);
      io.stderr(
        `\r\x1b[2K${label} ${current} [${"#".repeat(filled)}${
          "-".repeat(width - filled)
        }] ${done}/${total}${eta(stageStart, now, done, total)}`,
      );
      drawn = true;
    },
    done() {
      if (drawn) io.stderr("\r\x1b[2K");
      drawn = false;
    },
  };
}
