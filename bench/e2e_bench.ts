/**
 * End-to-end runs of the CLI on a model-sized file, each against copies of the same bytes in the
 * same run: the time of every run as a ratio to `cp` (into the page cache: the plain I/O floor)
 * and to a durable copy (`cp`, then `sync` of the copy, which fsyncs it: the floor of an output
 * that is flushed to disk, as every output of the CLI is), and its peak resident memory.
 *
 * Default: a generated 1.07 GB safetensors (16 x [4096, 4096] float32 + biases) and
 * - `prune` Level 50%, per layer and with one global group;
 * - `quantize` int8 per channel with integer storage (streamed) and default storage (in memory).
 * `--large` adds a sharded float16 checkpoint shaped like a 7B-parameter decoder (32 layers of
 * q/k/v/o [4096, 4096] and gate/up/down [11008, 4096], embeddings and head [32000, 4096]; about
 * 13.5 GB over 4 shards with a `model.safetensors.index.json`), pruned with one global group and
 * quantized to int4 in blocks of 128; it needs about 30 GB of free disk.
 *
 *   deno run -A bench/e2e_bench.ts [--dir /tmp] [--large | --only-large]
 *     [--large-runs prune,quantize] [--keep]
 *     [--out bench/results/e2e.json]
 *   deno run -A bench/e2e_bench.ts --threads-compare [--reps 3] [--only prune,global,quantize]
 *     [--layers 16] [--settle 5] [--out bench/results/e2e_threads.json] [--node]
 *     [--env NAME=VALUE] [--baseline-cli <cli.ts> | --baseline-env NAME=VALUE]
 *     [--floor [--floor-piece 1]]
 *
 * `--threads-compare` times `--threads 1` against `--threads 2` on the 1.07 GB file (prune Level
 * 50%, per layer and with one global group, quantize int8 per channel with integer storage),
 * interleaved (1, 2, 1, 2, …) so that other work on the machine falls on both alike, each after
 * a `sync` and a pause (`--settle`, 5 s; see `settle`), with both
 * copies timed before each repetition (the ratios use the copies' medians); each run also
 * records the load average, the whole machine's busy cores while it ran (/proc/stat), the
 * child's CPU seconds, and those of its main thread and of each worker thread. `--only a,b`
 * keeps the runs whose label starts with one of the words (`prune`, `global`, `quantize`);
 * `--baseline-cli <path to another checkout's cli.ts>` runs that CLI too, next to this one each
 * time (same threads; the two take turns going first), for a before/after comparison under the
 * same load;
 * `--baseline-env NAME=VALUE` runs a baseline of this CLI (or of `--baseline-cli`) with that
 * environment variable, and `--env NAME=VALUE` sets one for this CLI's runs. `--node` runs the
 * npm build's CLI under Node (`dist/npm/cli.js`, from `npm run build:npm`) in place of `cli.ts`
 * under Deno; Node names no threads, so its rows give no per-worker CPU. `--floor` times
 * Deno's own copy of the file too (`_copy_floor.ts`: the CLI's reads, writes and final `fsync`
 * without its work; reads of `--floor-piece` MiB, default 1) on one and two threads in each
 * repetition, and gives each run's time over that copy's median on as many threads (`x Deno's
 * copy`).
 *
 * `--layers N` makes the generated file N [4096, 4096] weights (and biases) instead of 16: with
 * 64 (4.3 GB) the fixed costs of a run (start-up, each worker's first tensor, the final flush)
 * weigh a quarter as much against the per-tensor work, which is what more threads share.
 *
 * `--keep` leaves the working folder and the generated files in place (for timing runs by hand:
 * `--threads-compare --only none --keep` only generates the file).
 *
 * Peak memory is the child's `VmHWM` (Linux), read from /proc while it runs. Writes JSON and
 * prints a table.
 *
 * @module
 */

import { writeFileAtomic } from "../src/io/fs.ts";
import { shardIndexText } from "../src/io/safetensors/shard_index.ts";
import {
  type SafetensorsStreamInput,
  streamSafetensors,
} from "../src/io/safetensors/write_safetensors.ts";
import { benchValues, parseArgs } from "./_harness.ts";

const args = parseArgs(Deno.args);
const dir = await Deno.makeTempDir({ dir: args.values.get("dir") ?? "/tmp", prefix: "e2e-" });
const outPath = args.values.get("out") ??
  (args.flags.has("threads-compare") ? "bench/results/e2e_threads.json" : "bench/results/e2e.json");
const CLI = new URL("../cli.ts", import.meta.url).pathname;
const LAYERS = Number(args.values.get("layers") ?? 16);
if (!Number.isInteger(LAYERS) || LAYERS < 1) {
  throw new RangeError(`--layers must be a positive integer`);
}
/** The generated file's label: 1.07 GB with the default 16 layers. */
const MODEL = `${(LAYERS * (4096 * 4096 + 4096) * 4 / 1e9).toFixed(2)} GB float32 safetensors`;

/** The same values as float16 bit patterns (small magnitudes: exponent from the top bits). */
function f16(n: number, seed: number): Uint16Array {
  const a = new Uint16Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    // sign, exponent 8-13 (|x| in [2^-7, 2^-1)), random mantissa
    a[i] = ((s >>> 31) << 15) | ((8 + ((s >>> 24) % 6)) << 10) | (s & 0x3ff);
  }
  return a;
}

async function writeFile(path: string, tensors: SafetensorsStreamInput[]): Promise<void> {
  await writeFileAtomic(path, (sink) => streamSafetensors(tensors, sink));
}

/** Busy and total jiffies of the whole machine (/proc/stat). */
function machineJiffies(): { busy: number; total: number } {
  const f = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1)
    .map(Number);
  const idle = f[3] + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/**
 * Runs a command; returns its wall time, peak RSS (VmHWM, polled from /proc), its CPU seconds
 * (utime + stime of all its threads, last polled) and the machine's busy cores meanwhile.
 */
async function run(
  cmd: string,
  argv: string[],
  env: Record<string, string> = {},
): Promise<{
  seconds: number;
  peakMiB: number;
  cpuSeconds: number;
  mainCpuSeconds: number;
  workerCpuSeconds: number[];
  machineBusyCores: number;
}> {
  const t0 = performance.now();
  const j0 = machineJiffies();
  const child = new Deno.Command(cmd, { args: argv, env, stdout: "null", stderr: "piped" })
    .spawn();
  let peak = 0;
  let cpu = 0;
  // CPU seconds of the main thread and of each worker thread (named "worker-N" by Deno), last
  // polled: what the main thread does serially bounds the speed-up of the workers.
  let mainCpu = 0;
  const workers = new Map<string, number>();
  const seconds = (stat: string) => {
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  };
  let ticks = 0;
  const poll = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${child.pid}/status`));
      if (m) peak = Math.max(peak, Number(m[1]) / 1024);
      cpu = seconds(Deno.readTextFileSync(`/proc/${child.pid}/stat`));
      if (ticks++ % 10 !== 0) return;
      for (const t of Deno.readDirSync(`/proc/${child.pid}/task`)) {
        const stat = Deno.readTextFileSync(`/proc/${child.pid}/task/${t.name}/stat`);
        const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
        if (t.name === String(child.pid)) mainCpu = seconds(stat);
        else if (/^worker-\d+$/.test(comm)) workers.set(t.name, seconds(stat));
      }
    } catch {
      // exited
    }
  }, 20);
  const out = await child.output();
  clearInterval(poll);
  const wall = (performance.now() - t0) / 1000;
  const j1 = machineJiffies();
  if (!out.success) {
    throw new Error(`${cmd} ${argv.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  const cores = navigator.hardwareConcurrency;
  return {
    seconds: wall,
    peakMiB: Math.round(peak),
    cpuSeconds: +cpu.toFixed(1),
    mainCpuSeconds: +mainCpu.toFixed(1),
    workerCpuSeconds: [...workers.values()].map((v) => +v.toFixed(1)),
    machineBusyCores: +(((j1.busy - j0.busy) / (j1.total - j0.total)) * cores).toFixed(2),
  };
}

/**
 * Copies `input` to a scratch path twice, as the baselines: `cp` alone (the copy stays in the
 * page cache) and `cp` then `sync` of the copy (flushed to disk, as the CLI's outputs are: each
 * is fsynced before it is renamed into place), each after the pause every timed run gets
 * (`settle`). Returns both times in seconds.
 */
async function copyBaselines(input: string): Promise<{ cp: number; durable: number }> {
  const folder = input.endsWith(".index.json");
  const source = folder ? input.slice(0, input.lastIndexOf("/")) : input;
  const copy = folder ? dir + "/copy-dir" : `${dir}/copy.safetensors`;
  // Each copy starts as the timed runs do (`settle`): the same pause, so its fresh pages cost
  // what theirs do.
  await settle();
  const cp = await run("cp", folder ? ["-r", source, copy] : [source, copy]);
  // Removed at once: its pages are dropped, not written back during the next timing.
  await Deno.remove(copy, { recursive: true });
  await settle();
  const durable = await run("sh", [
    "-c",
    folder ? 'cp -r "$0" "$1" && sync "$1"/*' : 'cp "$0" "$1" && sync "$1"',
    source,
    copy,
  ]);
  await Deno.remove(copy, { recursive: true });
  return { cp: cp.seconds, durable: durable.seconds };
}

const deno = Deno.execPath();
/** An option's `NAME=VALUE`, as environment variables for the CLI (none when absent). */
function envOption(name: string): Record<string, string> {
  const v = args.values.get(name);
  if (v === undefined) return {};
  const eq = v.indexOf("=");
  if (eq <= 0) throw new RangeError(`--${name} must be NAME=VALUE: got "${v}"`);
  return { [v.slice(0, eq)]: v.slice(eq + 1) };
}
const cliEnv = envOption("env");
/** `--node`: the npm build's CLI under Node (`npm run build:npm` first) instead of `cli.ts`. */
const NPM_CLI = new URL("../dist/npm/cli.js", import.meta.url).pathname;
const onNode = args.flags.has("node");
if (onNode && !(await Deno.stat(NPM_CLI).then(() => true, () => false))) {
  throw new Error(`--node runs ${NPM_CLI}: build it first with npm run build:npm`);
}
const thisCli = (a: string[]): [string, string[]] =>
  onNode ? ["node", [NPM_CLI, ...a]] : [deno, ["run", "-A", CLI, ...a]];
const cli = (...a: string[]) => run(...thisCli(a), cliEnv);
/**
 * `--floor`: the runtime's own copy of the file (`_copy_floor.ts`: the CLI's reads, writes and
 * final `fsync`, none of its work) on one and two threads, timed in each repetition, and each
 * run's time over its median on as many threads: the part of a run that is the CLI's own.
 */
const FLOOR = args.flags.has("floor");
const FLOOR_SCRIPT = new URL("./_copy_floor.ts", import.meta.url).pathname;
/** `--floor-piece <MiB>`: the copy's reads (default 1 MiB, as a Level prune reads a weight). */
const FLOOR_PIECE = args.values.get("floor-piece") ?? "1";
const FLOOR_LABEL = `Deno's own copy (${FLOOR_PIECE} MiB reads, 256 KiB writes, fsync)`;
if (FLOOR && onNode) throw new Error("--floor times Deno's copy: leave out --node");
const baselineCli = args.values.get("baseline-cli");
const baselineEnv = args.values.has("baseline-env") ? envOption("baseline-env") : undefined;
const baselineLabel = baselineCli !== undefined
  ? "baseline CLI"
  : `baseline ${args.values.get("baseline-env")}`;
const rows: Record<string, unknown>[] = [];
const load = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");

async function suite(name: string, input: string, bytes: number, runs: [string, string[]][]) {
  const cp = await copyBaselines(input);
  rows.push({
    model: name,
    run: "cp",
    seconds: +cp.cp.toFixed(2),
    ratio: 1,
    ratioDurable: +(cp.cp / cp.durable).toFixed(2),
    peakMiB: 0,
  });
  rows.push({
    model: name,
    run: "cp + sync (durable copy)",
    seconds: +cp.durable.toFixed(2),
    ratio: +(cp.durable / cp.cp).toFixed(1),
    ratioDurable: 1,
    peakMiB: 0,
  });
  for (const [label, argv] of runs) {
    await settle();
    const r = await cli(...argv);
    rows.push({
      model: name,
      run: label,
      seconds: +r.seconds.toFixed(2),
      ratio: +(r.seconds / cp.cp).toFixed(1),
      ratioDurable: +(r.seconds / cp.durable).toFixed(2),
      peakMiB: r.peakMiB,
      peakOverFile: +((r.peakMiB * 1048576) / bytes).toFixed(2),
      loadavg: load(),
    });
    console.error(JSON.stringify(rows[rows.length - 1]));
    // Outputs go; the output folder of a sharded run stays for the next run.
    for (const f of Deno.readDirSync(dir)) {
      if (f.name.startsWith("out")) await Deno.remove(`${dir}/${f.name}`, { recursive: true });
    }
    await Deno.mkdir(`${dir}/out`, { recursive: true });
  }
}

const prune = '[{"op_types":["Linear"],"sparse_ratio":0.5}]';
const global = '[{"op_types":["Linear"],"sparse_ratio":0.5,"global_group_id":0}]';
const int8 =
  '[{"op_types":["Linear"],"target_names":["weight"],"quant_dtype":"int8","granularity":"out_channel"}]';
/**
 * The streamed runs on the generated file: Level 50%, one global group, int8 with integer
 * storage and with the default storage.
 */
function streamedRuns(file: string, out: string): [string, string[]][] {
  return [
    ["prune Level 50%", ["prune", file, "-c", prune, "-o", out]],
    ["prune Level 50%, one global group", ["prune", file, "-c", global, "-o", out]],
    [
      "quantize int8 per channel, --storage int",
      ["quantize", file, "-c", int8, "-o", out, "--storage", "int"],
    ],
    // The default storage: compressed-tensors (a config.json is written beside the output).
    ["quantize int8 per channel, default storage", ["quantize", file, "-c", int8, "-o", out]],
  ];
}

/**
 * Before each timed run: `sync`, then a second's pause, so that no run pays for the writeback or
 * the freed blocks of the one before (a run's time otherwise varied by up to 1.5x here).
 */
/**
 * The pause before each timed run, after a `sync` (`--settle <s>`, default 5). On a VM with free
 * page reporting (Linux's `page_reporting`, as this machine's Firecracker guest has), memory freed
 * more than about 2 s before is handed back to the host, and the next run's fresh pages (the
 * output's page cache) fault in from the host at about 3.5 s per GiB instead of 0.26 s
 * (`bench/fresh_pages_bench.ts`). A pause of 1 s, the default until these were measured, left
 * runs on either side of that delay; 5 s puts every run past it, so runs compare.
 */
const SETTLE_SECONDS = Number(args.values.get("settle") ?? 5);

async function settle(): Promise<void> {
  await run("sync", []);
  await new Promise((r) => setTimeout(r, SETTLE_SECONDS * 1000));
}

/** `--threads 1` against `--threads 2`, interleaved, on the generated file. */
async function threadsCompare(file: string, bytes: number, reps: number) {
  const out = `${dir}/out.safetensors`;
  const only = args.values.get("only")?.split(",");
  const all = streamedRuns(file, out);
  const word = (label: string) => label.includes("global") ? "global" : label.split(" ")[0];
  const runs = only === undefined ? all : all.filter(([label]) => only.includes(word(label)));
  const median = (a: number[]) => {
    const b = [...a].sort((x, y) => x - y);
    const m = Math.floor(b.length / 2);
    return b.length % 2 === 1 ? b[m] : (b[m - 1] + b[m]) / 2;
  };
  const copies = { cp: [] as number[], durable: [] as number[] };
  const floors: Record<string, number[]> = { 1: [], 2: [] };
  const results: { label: string; threads: string; row: Record<string, unknown> }[] = [];
  for (const [label, argv] of runs) {
    const times: Record<string, number[]> = { 1: [], 2: [] };
    for (let i = 0; i < reps; i++) {
      const c = await copyBaselines(file);
      copies.cp.push(c.cp);
      copies.durable.push(c.durable);
      rows.push({
        model: MODEL,
        run: "cp / cp + sync (durable copy)",
        seconds: +c.cp.toFixed(2),
        durableSeconds: +c.durable.toFixed(2),
        loadavg: load(),
      });
      console.error(JSON.stringify(rows[rows.length - 1]));
      if (FLOOR) {
        for (const threads of ["1", "2"]) {
          await settle();
          const copy = `${dir}/floor.safetensors`;
          const r = await run(deno, ["run", "-A", FLOOR_SCRIPT, file, copy, threads, FLOOR_PIECE]);
          await Deno.remove(copy);
          floors[threads].push(r.seconds);
          rows.push({
            model: MODEL,
            run: `${FLOOR_LABEL}, ${threads} thread${threads === "1" ? "" : "s"}`,
            seconds: +r.seconds.toFixed(2),
            peakMiB: r.peakMiB,
            cpuSeconds: r.cpuSeconds,
            loadavg: load(),
          });
          console.error(JSON.stringify(rows[rows.length - 1]));
        }
      }
      for (const threads of ["1", "2"]) {
        // One run of this CLI, or of the baseline (`--baseline-cli`, `--baseline-env`).
        const once = async (baseline: boolean) => {
          await settle();
          const a = [...argv, "--threads", threads];
          const [cmd, cmdArgs] = baseline && baselineCli !== undefined
            ? [deno, ["run", "-A", baselineCli, ...a]]
            : thisCli(a);
          const r = await run(cmd, cmdArgs, baseline ? baselineEnv ?? cliEnv : cliEnv);
          if (!baseline) times[threads].push(r.seconds);
          rows.push({
            model: MODEL,
            run: `${label}, --threads ${threads}${baseline ? `, ${baselineLabel}` : ""}`,
            seconds: +r.seconds.toFixed(2),
            peakMiB: r.peakMiB,
            ...(baseline ? {} : { peakOverFile: +((r.peakMiB * 1048576) / bytes).toFixed(2) }),
            cpuSeconds: r.cpuSeconds,
            mainCpuSeconds: r.mainCpuSeconds,
            workerCpuSeconds: r.workerCpuSeconds,
            ...(baseline ? {} : { machineBusyCores: r.machineBusyCores }),
            loadavg: load(),
          });
          results.push({ label, threads, row: rows[rows.length - 1] });
          console.error(JSON.stringify(rows[rows.length - 1]));
          await Deno.remove(out).catch(() => {});
        };
        const current = () => once(false);
        const baseline = () => once(true);
        if (baselineCli === undefined && baselineEnv === undefined) await current();
        // The two sides take turns going first: the second of two runs in a row came out up to
        // 18% faster when both were the same program (bench/results/e2e_threads_aa_noise.json,
        // docs/performance.md), so a fixed order favours one side.
        else if (i % 2 === 0) await baseline().then(current);
        else await current().then(baseline);
      }
    }
    rows.push({
      model: MODEL,
      run: `${label}: speed-up of 2 threads over 1 (medians)`,
      seconds: +median(times[2]).toFixed(2),
      speedup: +(median(times[1]) / median(times[2])).toFixed(2),
    });
    console.error(JSON.stringify(rows[rows.length - 1]));
  }
  // Each run's time over the copies' medians (every copy of the whole comparison).
  const cp = median(copies.cp);
  const durable = median(copies.durable);
  for (const { row, threads } of results) {
    row.ratio = +((row.seconds as number) / cp).toFixed(1);
    row.ratioDurable = +((row.seconds as number) / durable).toFixed(2);
    // Over the runtime's own copy on as many threads (`--floor`).
    if (FLOOR) row.ratioFloor = +((row.seconds as number) / median(floors[threads])).toFixed(2);
  }
  if (FLOOR) {
    rows.push({
      model: MODEL,
      run: `${FLOOR_LABEL} (medians): 1 thread, speed-up of 2 threads over 1`,
      seconds: +median(floors[1]).toFixed(2),
      speedup: +(median(floors[1]) / median(floors[2])).toFixed(2),
    });
  }
  rows.push({
    model: MODEL,
    run: "copies (medians): cp / cp + sync",
    seconds: +cp.toFixed(2),
    durableSeconds: +durable.toFixed(2),
  });
}

try {
  const file = `${dir}/model.safetensors`;
  if (args.flags.has("only-large")) {
    // --only-large: the 7B-shaped checkpoint alone.
  } else {
    await writeFile(
      file,
      Array.from({ length: LAYERS }, (_, i) => [
        {
          name: `layers.${i}.weight`,
          dtype: "F32" as const,
          shape: [4096, 4096],
          data: () => benchValues(4096 * 4096, i + 1),
        },
        {
          name: `layers.${i}.bias`,
          dtype: "F32" as const,
          shape: [4096],
          data: () => benchValues(4096, -i),
        },
      ]).flat(),
    );
    const bytes = (await Deno.stat(file)).size;
    const out = `${dir}/out.safetensors`;
    if (args.flags.has("threads-compare")) {
      await threadsCompare(file, bytes, Number(args.values.get("reps") ?? 3));
    } else {
      await suite(MODEL, file, bytes, [
        ...streamedRuns(file, out),
        ["quantize int8 per channel, --storage float", [
          "quantize",
          file,
          "-c",
          int8,
          "-o",
          out,
          "--storage",
          "float",
        ]],
      ]);
    }
    if (!args.flags.has("keep")) await Deno.remove(file);
  }

  if (args.flags.has("large") || args.flags.has("only-large")) {
    const ckpt = `${dir}/ckpt`;
    await Deno.mkdir(ckpt);
    const H = 4096, F = 11008, V = 32000, L = 32;
    const tensors: { name: string; shape: number[] }[] = [
      { name: "model.embed_tokens.weight", shape: [V, H] },
    ];
    for (let l = 0; l < L; l++) {
      const p = `model.layers.${l}`;
      for (const n of ["q_proj", "k_proj", "v_proj", "o_proj"]) {
        tensors.push({ name: `${p}.self_attn.${n}.weight`, shape: [H, H] });
      }
      tensors.push({ name: `${p}.mlp.gate_proj.weight`, shape: [F, H] });
      tensors.push({ name: `${p}.mlp.up_proj.weight`, shape: [F, H] });
      tensors.push({ name: `${p}.mlp.down_proj.weight`, shape: [H, F] });
      tensors.push({ name: `${p}.input_layernorm.weight`, shape: [H] });
    }
    tensors.push({ name: "lm_head.weight", shape: [V, H] });
    const SHARDS = 4;
    const per = Math.ceil(tensors.length / SHARDS);
    const map = new Map<string, string>();
    let total = 0;
    let size = 0;
    for (let s = 0; s < SHARDS; s++) {
      const name = `model-0000${s + 1}-of-0000${SHARDS}.safetensors`;
      const part = tensors.slice(s * per, (s + 1) * per);
      for (const t of part) {
        map.set(t.name, name);
        total += t.shape.reduce((a, b) => a * b, 1) * 2;
      }
      await writeFile(
        `${ckpt}/${name}`,
        part.map((t, i) => ({
          name: t.name,
          dtype: "F16" as const,
          shape: t.shape,
          data: () => f16(t.shape.reduce((a, b) => a * b, 1), s * 1000 + i + 1),
        })),
      );
      size += (await Deno.stat(`${ckpt}/${name}`)).size;
    }
    const index = `${ckpt}/model.safetensors.index.json`;
    await Deno.writeTextFile(index, shardIndexText(map, total));
    const outIndex = `${dir}/out/model.safetensors.index.json`;
    await Deno.mkdir(`${dir}/out`, { recursive: true });
    const int4 =
      '[{"op_types":["Linear"],"target_names":["weight"],"quant_dtype":"int4","granularity":[1,128]}]';
    // --large-runs prune,quantize (default both) picks the runs on the checkpoint.
    const wanted = (args.values.get("large-runs") ?? "prune,quantize").split(",");
    const runs: [string, string[]][] = [
      ["prune Level 50%, one global group", ["prune", index, "-c", global, "-o", outIndex]],
      ["quantize int4, blocks of 128, --storage int", [
        "quantize",
        index,
        "-c",
        int4,
        "-o",
        outIndex,
        "--storage",
        "int",
      ]],
    ];
    await suite(
      "7B-shaped float16 checkpoint, 4 shards",
      index,
      size,
      runs.filter(([label]) => wanted.includes(label.split(" ")[0])),
    );
  }
} finally {
  if (!args.flags.has("keep")) await Deno.remove(dir, { recursive: true });
}

const result = { runtime: `deno ${Deno.version.deno}`, cores: navigator.hardwareConcurrency, rows };
await Deno.writeTextFile(outPath, JSON.stringify(result, null, 2) + "\n");
console.log(
  "| model | run | s | x cp (or speed-up) | x durable copy | x Deno's copy | peak RSS MiB | x file | load |",
);
console.log("|---|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  const seconds = r.durableSeconds === undefined ? r.seconds : `${r.seconds} / ${r.durableSeconds}`;
  console.log(
    `| ${r.model} | ${r.run} | ${seconds} | ${r.ratio ?? r.speedup ?? ""} | ${
      r.ratioDurable ?? ""
    } | ${r.ratioFloor ?? ""} | ${r.peakMiB ?? ""} | ${r.peakOverFile ?? ""} | ${
      r.loadavg ?? ""
    } |`,
  );
}
