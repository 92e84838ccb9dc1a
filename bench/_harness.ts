/**
 * Small helpers shared by the benchmarks: argument parsing, timing (median of repeated runs),
 * and output as JSON plus a table with ratios against baselines measured in the same run.
 *
 * @module
 */

/** One timed measurement. */
export interface Row {
  kernel: string;
  impl: string;
  n: number;
  seconds: number;
  runs: number;
  gbPerSecond: number;
}

/**
 * Deterministic values in [-0.5, 0.5), a new sequence per seed (a linear congruential
 * generator): the weights of the generated benchmark models, written into `out` when given.
 */
export function benchValues(n: number, seed: number, out = new Float32Array(n)): Float32Array {
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

/** Parsed `--name value` and `--flag` arguments. */
export interface Args {
  values: Map<string, string>;
  flags: Set<string>;
}

/** Parses `--name value` pairs and bare `--flag`s. */
export function parseArgs(argv: readonly string[]): Args {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) throw new TypeError(`unexpected argument "${a}"`);
    const name = a.slice(2);
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith("--")) {
      values.set(name, next);
      i++;
    } else {
      flags.add(name);
    }
  }
  return { values, flags };
}

/**
 * Runs `fn` once to warm up, then repeatedly until `minSeconds` have passed (at least 3 and at
 * most 50 runs) and returns the median time of one run.
 */
export function timeIt(fn: () => unknown, minSeconds: number): { seconds: number; runs: number } {
  fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 50) {
    const t0 = performance.now();
    fn();
    times.push((performance.now() - t0) / 1000);
    if (times.length >= 3 && (performance.now() - start) / 1000 >= minSeconds) break;
  }
  times.sort((a, b) => a - b);
  return { seconds: times[Math.floor(times.length / 2)], runs: times.length };
}

function fmt(x: number, digits = 2): string {
  return x >= 100 ? x.toFixed(0) : x.toFixed(digits);
}

/**
 * Writes the rows as JSON (with per-row ratios: WASM speed-up over the reference, and time
 * relative to the WASM streaming sum of the same size) and prints a table.
 */
export function writeResults(path: string, rows: Row[], sizes: number[]): void {
  const find = (kernel: string, impl: string, n: number) =>
    rows.find((r) => r.kernel === kernel && r.impl === impl && r.n === n);
  const baselineName = rows.find((r) => r.impl === "wasm")?.kernel ?? "";
  const enriched = rows.map((r) => {
    const ref = find(r.kernel, "reference", r.n);
    const base = find(baselineName, "wasm", r.n);
    const loop = rows.find((l) => l.impl === "js" && l.n === r.n);
    return {
      ...r,
      speedupVsReference: r.impl === "wasm" && ref ? ref.seconds / r.seconds : null,
      timeVsStreamingSum: base ? r.seconds / base.seconds : null,
      timeVsPlainLoopSum: loop ? r.seconds / loop.seconds : null,
    };
  });
  const result = {
    benchmark: "kernels",
    date: new Date().toISOString(),
    runtime: `deno ${Deno.version.deno}, v8 ${Deno.version.v8}`,
    baseline: `${baselineName} (wasm, copies included) of the same size; also a plain JS loop sum`,
    sizes,
    rows: enriched,
  };
  const dir = path.replace(/\/[^/]*$/, "");
  if (dir !== path) Deno.mkdirSync(dir, { recursive: true });
  Deno.writeTextFileSync(path, JSON.stringify(result, null, 2) + "\n");

  const header = ["kernel", "n", "wasm GB/s", "ref GB/s", "wasm/ref", "x sum", "x JS sum"];
  const lines = [header];
  for (const n of sizes) {
    for (const r of enriched.filter((r) => r.n === n && r.impl === "wasm")) {
      const ref = find(r.kernel, "reference", n);
      lines.push([
        r.kernel,
        String(n),
        fmt(r.gbPerSecond),
        ref ? fmt(ref.gbPerSecond) : "-",
        r.speedupVsReference ? `${fmt(r.speedupVsReference, 1)}x` : "-",
        r.timeVsStreamingSum ? fmt(r.timeVsStreamingSum) : "-",
        r.timeVsPlainLoopSum ? fmt(r.timeVsPlainLoopSum) : "-",
      ]);
    }
  }
  const widths = header.map((_, c) => Math.max(...lines.map((l) => l[c].length)));
  for (const l of lines) {
    console.log(
      l.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  "),
    );
  }
  console.log(`\nJSON written to ${path}`);
}
