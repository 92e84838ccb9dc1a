import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLS, npmProject, ROOT, run } from "./_npm.ts";

const DOC = readFileSync(`${ROOT}docs/packages.md`, "utf8");

/** The first fenced block of a language in a section of docs/packages.md. */
function snippet(section: string, lang: string): string {
  const start = DOC.indexOf(`## ${section}`);
  assert.ok(start >= 0, `docs/packages.md has a "${section}" section`);
  const block = DOC.slice(start).match(new RegExp("```" + lang + "\\n([\\s\\S]*?)```"));
  assert.ok(block, `the "${section}" section has a ${lang} block`);
  return block[1];
}

test("node on the PATH is Node 20 or later", async () => {
  const r = await run("node", ["--version"], ROOT);
  assert.equal(r.code, 0);
  assert.ok(Number(r.stdout.trim().slice(1).split(".")[0]) >= 20, r.stdout);
});

test("the npm build writes the entries, declarations and a package.json with exports and bin", async () => {
  const { pkg } = await npmProject();
  const manifest = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8"));
  const deno = JSON.parse(readFileSync(`${ROOT}deno.json`, "utf8"));
  assert.equal(manifest.version, deno.version);
  assert.equal(manifest.type, "module");
  assert.equal(manifest.bin.nncompress, "./cli.js");
  // Every deno.json export but the CLI (the bin) is an npm export with its declarations.
  const entries = Object.entries(deno.exports as Record<string, string>)
    .filter(([key]) => key !== "./cli");
  assert.ok(entries.length >= 12, "an entry per area");
  for (const [entry, file] of entries) {
    const e = manifest.exports[entry];
    assert.ok(e !== undefined, `npm export ${entry}`);
    assert.ok(existsSync(join(pkg, e.default)), `${entry} → ${e.default}`);
    assert.equal(e.types, `./types/${file.slice(2).replace(/\.ts$/, ".d.ts")}`);
    assert.ok(existsSync(join(pkg, e.types)), e.types);
  }
  assert.equal(manifest.peerDependenciesMeta["onnxruntime-node"].optional, true);
  assert.match(readFileSync(join(pkg, "cli.js"), "utf8"), /^#!\/usr\/bin\/env node\n/);
  const dts = readFileSync(join(pkg, "types/mod.d.ts"), "utf8");
  assert.match(dts, /from "\.\/src\/config\/config_error\.js"/);
  assert.doesNotMatch(dts, /from "\.[^"]*\.ts"/);
});

test("the core entry imports no Node built-in and no package, directly or through its chunks", async () => {
  const { pkg } = await npmProject();
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(join(pkg, file), "utf8");
    for (const m of text.matchAll(/(?:^|\n)(?:import|export)\b[^;]*?from\s*"([^"]+)"/g)) {
      assert.match(m[1], /^\.\//, `${file} imports ${m[1]}`);
      visit(m[1].slice(2));
    }
  };
  visit("index.js");
  assert.ok(seen.size > 1);
  const js = readdirSync(pkg).filter((f) => f.endsWith(".js"));
  assert.ok(js.length >= 4, js.join(", "));
});

test("Node imports the package, resolves a config list and computes a mask", async () => {
  const p = await npmProject();
  const code = `
    import { getKernels, resolveTargetSettings, ConfigError, validateConfigList } from "nncompress";
    const modules = [{ name: "fc1", type: "Linear", params: { weight: [2, 3], bias: [2] } }];
    const { targets } = resolveTargetSettings(
      modules, [{ op_types: ["Linear"], sparse_ratio: 0.5 }], "pruning", { algorithm: "LevelPruner" });
    const weight = new Float32Array([0.3, -0.1, 2, 0.05, -4, 1]);
    const mask = getKernels().kSmallestMask(weight.map(Math.abs), 3);
    let issue;
    try { validateConfigList([{ sparse_ratio: 1.5, op_types: ["Linear"] }], "pruning"); }
    catch (e) { issue = e instanceof ConfigError ? e.issues[0].path : String(e); }
    console.log(JSON.stringify({ targets: targets.map((t) => t.module + "." + t.target), mask: [...mask], issue }));
  `;
  const r = await p.node("--input-type=module", "-e", code);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    targets: ["fc1.weight", "fc1.bias"],
    mask: [0, 0, 1, 0, 1, 1],
    issue: "[0].sparse_ratio",
  });
});

test("Node imports the area entries by their subpaths (nncompress/pruning, /onnx, /kernels, …)", async () => {
  const p = await npmProject();
  const code = `
    import { PRUNERS, ratioMask } from "nncompress/pruning";
    import { qdqOnnx, quantizeTensor } from "nncompress/quantization";
    import { decodeOnnx } from "nncompress/onnx";
    import { readSafetensors, writeSafetensors } from "nncompress/safetensors";
    import { referenceKernels } from "nncompress/kernels";
    import { explain } from "nncompress/config";
    import { describeError } from "nncompress/compress";
    const file = readSafetensors(writeSafetensors([{ name: "w", dtype: "F32", shape: [2], data: new Float32Array([1, 2]) }]));
    console.log(JSON.stringify({
      pruners: PRUNERS.length,
      fns: [ratioMask, qdqOnnx, quantizeTensor, decodeOnnx, explain, describeError].every((f) => typeof f === "function"),
      names: file.tensors.map((t) => t.name),
      mask: [...referenceKernels.kSmallestMask(new Float32Array([3, 1, 2]), 1)],
    }));
  `;
  const r = await p.node("--input-type=module", "-e", code);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { pruners: 6, fns: true, names: ["w"], mask: [1, 0, 1] });
});

test("the bundled CLI prints the classifier's modules with inspect --json under Node", async () => {
  const p = await npmProject();
  const r = await p.node(join(p.pkg, "cli.js"), "inspect", CLS, "--json");
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.format, "onnx");
  assert.equal(out.fileBytes, statSync(CLS).size);
  const conv = out.modules.find((m: { name: string }) => m.name === "conv2d_0");
  assert.equal(conv.type, "Conv2d");
  assert.deepEqual(conv.params[0].shape, [8, 3, 3, 3]);
  const usage = await p.node(join(p.pkg, "cli.js"), "prune", "model.onnx", "--bogus");
  assert.equal(usage.code, 2);
});

test("the declarations type-check a consumer under moduleResolution nodenext", async () => {
  const p = await npmProject();
  writeFileSync(
    join(p.dir, "use.ts"),
    `import { type CompressionReport, compressModel, getKernels, loadModel } from "nncompress";
import { readFile } from "nncompress/fs";
const model = loadModel(await readFile("model.onnx"), "model.onnx");
const { report }: { report: CompressionReport } = await compressModel(model, {
  mode: "pruning",
  configList: [{ op_types: ["Linear"], sparse_ratio: 0.5 }],
});
const mask: Uint8Array = getKernels().kSmallestMask(new Float32Array(4), 2);
// @ts-expect-error the bytes come first
loadModel("model.onnx", new Uint8Array());
export const result: [number, Uint8Array] = [report.after.fileBytes, mask];
`,
  );
  writeFileSync(
    join(p.dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "es2022",
        module: "nodenext",
        moduleResolution: "nodenext",
        lib: ["es2023", "dom"],
        types: [],
        strict: true,
        noEmit: true,
      },
      files: ["use.ts"],
    }),
  );
  const r = await run(`${ROOT}node_modules/.bin/tsc`, ["-p", p.dir], p.dir);
  assert.equal(r.code, 0, r.stdout + r.stderr);
});

test("the three lines of 'Compress your own model' quantize a real model under Node", async () => {
  const p = await npmProject();
  writeFileSync(join(p.dir, "own.mjs"), snippet("Compress your own model", "js"));
  const r = await p.node("own.mjs");
  assert.equal(r.code, 0, r.stderr);
  const size = statSync(join(p.dir, "model.int8.onnx")).size;
  assert.ok(size < statSync(CLS).size * 0.5, `model.int8.onnx has ${size} bytes`);
  const check = await p.node(
    join(p.pkg, "cli.js"),
    "eval",
    "model.int8.onnx",
    "--reference",
    "model.onnx",
    "--task",
    "compare",
    "--shape",
    "2,3,48,192",
    "--json",
  );
  assert.equal(check.code, 0, check.stderr);
  const [output] = JSON.parse(check.stdout).outputs;
  assert.ok(output.relativeError < 0.1, check.stdout);
});

test("the CLI line of 'Compress your own model' runs with npx from the installed package", async () => {
  const p = await npmProject();
  const line = snippet("Compress your own model", "sh").trim().replace(
    "model.int8.onnx",
    "model.cli.onnx",
  );
  assert.match(line, /^npx nncompress quantize /);
  const r = await run("bash", ["-c", line], p.dir);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(statSync(join(p.dir, "model.cli.onnx")).size < statSync(CLS).size * 0.5);
});

test("README's 'Compress your own model' snippets, when present, are the ones tested here", () => {
  const readme = readFileSync(`${ROOT}README.md`, "utf8");
  const start = readme.indexOf("## Compress your own model");
  if (start < 0) return;
  const section = readme.slice(start);
  for (const lang of ["js", "sh"]) {
    const block = section.match(new RegExp("```" + lang + "\\n([\\s\\S]*?)```"));
    assert.ok(block, `README's section has a ${lang} block`);
    assert.equal(block[1], snippet("Compress your own model", lang));
  }
});
