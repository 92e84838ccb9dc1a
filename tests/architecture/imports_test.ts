// The import structure of src/: no cycle between areas (src/io/onnx and src/io/safetensors count
// as src/io), src/tensor imports nothing else from src/, and a file whose name starts with `_`
// is imported only from its own folder. Imports are read with TypeScript's own pre-processor,
// so imports shown in doc comments and strings are not counted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Imports of `_` files from another folder, each with the reason it is allowed. */
const PRIVATE_EXCEPTIONS: readonly { from: string; to: string; reason: string }[] = [
  ...[
    "src/training/create_distiller.ts",
    "src/training/create_adaptive_distiller.ts",
    "src/training/_io_target.ts",
    "src/training/_distiller_part.ts",
  ].map((from) => ({
    from,
    to: "src/distillation/_targets.ts",
    reason:
      "the tfjs distillers in src/training check and normalise targets exactly like the losses of src/distillation; the helpers are not public API",
  })),
  {
    from: "src/cli/main.ts",
    to: "src/cli/commands/_context.ts",
    reason: "the CLI entry builds the context its own sub-commands share (one area, src/cli)",
  },
];

interface Import {
  /** The importing file, relative to the repository (`src/io/onnx/x.ts`). */
  readonly from: string;
  /** The imported file, relative to the repository. */
  readonly to: string;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...sourceFiles(path));
    else if (e.name.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

/** The relative imports (static, dynamic, re-exports, type-only) of every file under src/. */
function srcImports(): Import[] {
  const out: Import[] = [];
  for (const from of sourceFiles("src")) {
    const text = readFileSync(join(ROOT, from), "utf8");
    const { importedFiles } = ts.preProcessFile(text, true, true);
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith(".")) continue;
      const to = normalize(join(dirname(from), fileName)).replaceAll("\\", "/");
      if (to.startsWith("src/")) out.push({ from, to });
    }
  }
  return out;
}

/** The area of a file: its first folder under src/. */
function area(path: string): string {
  const parts = path.split("/");
  return parts.length > 2 ? `src/${parts[1]}` : path;
}

const show = (i: Import) => `${i.from} imports ${i.to}`;

/** The cycles of the area graph, each as its list of edges with one example import each. */
function areaCycles(imports: readonly Import[]): string[] {
  const edges = new Map<string, Map<string, Import>>();
  for (const i of imports) {
    const [a, b] = [area(i.from), area(i.to)];
    if (a === b) continue;
    if (!edges.has(a)) edges.set(a, new Map());
    if (!edges.get(a)!.has(b)) edges.get(a)!.set(b, i);
  }
  const cycles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (a: string) => {
    state.set(a, "open");
    stack.push(a);
    for (const [b, via] of edges.get(a) ?? []) {
      if (state.get(b) === "open") {
        const loop = [...stack.slice(stack.indexOf(b)), b];
        const steps = loop.slice(1).map((to, k) => {
          const step = k === loop.length - 2 ? via : edges.get(loop[k])!.get(to)!;
          return `${loop[k]} -> ${to} (${show(step)})`;
        });
        cycles.push(steps.join(", "));
      } else if (state.get(b) === undefined) visit(b);
    }
    stack.pop();
    state.set(a, "done");
  };
  for (const a of [...edges.keys()].sort()) if (state.get(a) === undefined) visit(a);
  return cycles;
}

const imports = srcImports();

test("the import reader sees real imports and ignores imports in comments", () => {
  assert.ok(imports.length > 500, `only ${imports.length} imports read`);
  const fs = imports.filter((i) => i.from === "src/io/fs.ts").map((i) => i.to);
  assert.ok(fs.includes("src/io/model_format_error.ts"));
  // src/io/fs.ts shows `import { onnxModel } from "../model/onnx_model.ts"` in a doc example.
  assert.ok(!fs.includes("src/model/onnx_model.ts"));
  const cycle = areaCycles([
    { from: "src/io/onnx/a.ts", to: "src/model/b.ts" },
    { from: "src/model/c.ts", to: "src/io/safetensors/d.ts" },
  ]);
  assert.deepEqual(cycle, [
    "src/io -> src/model (src/io/onnx/a.ts imports src/model/b.ts), src/model -> src/io (src/model/c.ts imports src/io/safetensors/d.ts)",
  ]);
});

test("no import cycle between the folders of src/", () => {
  const cycles = areaCycles(imports);
  assert.deepEqual(cycles, [], `import cycles:\n${cycles.join("\n")}`);
});

test("src/tensor imports nothing else from src/", () => {
  const bad = imports.filter((i) => area(i.from) === "src/tensor" && area(i.to) !== "src/tensor");
  assert.deepEqual(bad.map(show), [], "src/tensor must be the lowest layer");
});

test("files starting with _ are imported only from their own folder", () => {
  const allowed = new Set(PRIVATE_EXCEPTIONS.map((e) => `${e.from} ${e.to}`));
  const bad = imports.filter((i) =>
    i.to.split("/").at(-1)!.startsWith("_") && dirname(i.to) !== dirname(i.from) &&
    !allowed.has(`${i.from} ${i.to}`)
  );
  assert.deepEqual(bad.map(show), [], "private files imported from another folder");
  const seen = new Set(imports.map((i) => `${i.from} ${i.to}`));
  const stale = PRIVATE_EXCEPTIONS.filter((e) => !seen.has(`${e.from} ${e.to}`));
  assert.deepEqual(stale, [], "exceptions that no longer occur must be removed");
});

test("relative imports resolve to files that exist", () => {
  const files = new Set(sourceFiles("src"));
  const missing = imports.filter((i) => !files.has(i.to) && !i.to.endsWith(".js"));
  assert.deepEqual(missing.map(show), []);
});

/**
 * The layers of DESIGN.md, lowest first: an area may import its own layer or lower ones, never a
 * higher one (`cli/web/edge/demo -> compress -> pruning/quantization/distillation/report ->
 * model -> io -> kernels/config -> tensor`; training builds on pruning, quantization and
 * distillation for TensorFlow.js models).
 */
const LAYER: Readonly<Record<string, number>> = {
  "src/tensor": 0,
  "src/kernels": 1,
  "src/config": 1,
  "src/io": 2,
  "src/model": 3,
  "src/pruning": 4,
  "src/quantization": 4,
  "src/distillation": 4,
  "src/report": 4,
  "src/compress": 5,
  "src/training": 5,
  "src/cli": 6,
};

test("imports run downward only: no area imports a higher layer", () => {
  const areas = new Set(imports.flatMap((i) => [area(i.from), area(i.to)]));
  const unknown = [...areas].filter((a) => LAYER[a] === undefined);
  assert.deepEqual(unknown, [], "every area of src/ has a layer");
  const up = imports.filter((i) => LAYER[area(i.to)] > LAYER[area(i.from)]);
  assert.deepEqual(up.map(show), [], "imports of a higher layer");
});

test("nothing but cli.ts and src/cli/ imports src/cli/", () => {
  const dirs = ["src", "web", "edge", "demo", "examples", "bench"];
  const roots = ["mod.ts", "fs.ts", "training.ts"];
  const files = [...dirs.flatMap((d) => sourceFiles(d)), ...roots];
  const bad: string[] = [];
  for (const from of files) {
    if (from.startsWith("src/cli/")) continue;
    const { importedFiles } = ts.preProcessFile(readFileSync(join(ROOT, from), "utf8"), true, true);
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith(".")) continue;
      const to = normalize(join(dirname(from), fileName)).replaceAll("\\", "/");
      if (to.startsWith("src/cli/")) bad.push(`${from} imports ${to}`);
    }
  }
  assert.deepEqual(bad, [], "the CLI is an entry point, not a library");
});
