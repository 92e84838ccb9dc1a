// Builds the npm package of nncompress into one folder (default dist/npm/):
//   index.js     mod.ts, the in-memory API (no Node built-ins: runs in browsers and edge functions)
//   fs.js        fs.ts, the file-system helpers (Deno, Bun, Node)
//   training.js  training.ts (@tensorflow/tfjs-core and -layers stay external)
//   cli.js       the `nncompress` executable for Node (onnxruntime-node stays external)
//   *-HASH.js    chunks shared by the entries (so classes like ConfigError exist once)
//   types/       TypeScript declarations (tsc, declarations only; `.ts` specifiers become `.js`)
//   package.json npm/package.base.json plus the version of deno.json
//
//   node scripts/build_npm.mjs [--out <dir>] [--no-types]
//
// The output stays two folders below the repository (dist/npm/) so that the CLI finds the
// repository's OCR fixtures and models (`eval`, `--calibration ocr-lines:<n>`) at the same
// relative place as src/compress/ does.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// The entries are deno.json's exports (one source of truth for JSR and npm): "." becomes
// index.js, "./x" becomes x.js; "./cli" is bundled from npm/bin.ts (cli.ts behind a hashbang).
const DENO_EXPORTS = JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8")).exports;
const ENTRIES = Object.fromEntries(
  Object.entries(DENO_EXPORTS).map(([key, file]) => {
    const name = key === "." ? "index" : key.slice(2);
    return [name, name === "cli" ? "npm/bin.ts" : file.replace(/^\.\//, "")];
  }),
);
const TYPE_ROOTS = Object.entries(DENO_EXPORTS)
  .filter(([key]) => key !== "./cli")
  .map(([, file]) => file.replace(/^\.\//, ""));
// tsc knows no `Deno` global; the sources only touch it behind a runtime check.
const SHIM = "declare const Deno: any;\n";

/** Bundles the four entries as ES modules with shared chunks; returns the output sizes. */
async function bundle(outDir) {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: {
      ...Object.fromEntries(
        Object.entries(ENTRIES).map(([name, file]) => [name, join(ROOT, file)]),
      ),
      // The worker-thread module (`new URL("./_tensor_worker.ts", import.meta.url)`), renamed
      // in the chunks below: esbuild leaves worker URLs alone.
      tensor_worker: join(ROOT, "src/compress/_tensor_worker.ts"),
    },
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    packages: "external",
    external: ["node:*"],
    outdir: outDir,
    metafile: true,
    logLevel: "silent",
    legalComments: "none",
  });
  for (const file of Object.keys(result.metafile.outputs)) {
    const path = resolve(ROOT, file);
    const text = readFileSync(path, "utf8");
    if (text.includes('"./_tensor_worker.ts"')) {
      writeFileSync(path, text.replaceAll('"./_tensor_worker.ts"', '"./tensor_worker.js"'));
    }
  }
  return Object.fromEntries(
    Object.entries(result.metafile.outputs).map((
      [k, v],
    ) => [relative(outDir, resolve(ROOT, k)), v.bytes]),
  );
}

/** Rewrites relative `.ts` specifiers (imports, exports, `import()` types) to `.js`. */
export function rewriteSpecifiers(text) {
  return text.replace(/((?:from|import)\s*\(?\s*["'])(\.{1,2}\/[^"']+)\.ts(["'])/g, "$1$2.js$3");
}

/** Emits declarations with the TypeScript compiler API; returns the count and diagnostics. */
async function declarations(outDir) {
  const ts = (await import("typescript")).default;
  const shim = join(outDir, ".deno-shim.d.ts");
  writeFileSync(shim, SHIM);
  const options = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2023.d.ts", "lib.dom.d.ts", "lib.dom.iterable.d.ts"],
    types: ["node"],
    typeRoots: [join(ROOT, "node_modules/@types")],
    strict: true,
    skipLibCheck: true,
    declaration: true,
    emitDeclarationOnly: true,
    allowImportingTsExtensions: true,
    rootDir: ROOT,
    outDir: join(outDir, "types"),
  };
  const program = ts.createProgram([...TYPE_ROOTS.map((f) => join(ROOT, f)), shim], options);
  let files = 0;
  const emit = program.emit(
    undefined,
    (file, text) => {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, rewriteSpecifiers(text));
      files++;
    },
    undefined,
    true,
  );
  rmSync(shim);
  const format = (d) =>
    d.file
      ? `${relative(ROOT, d.file.fileName)}:${
        d.file.getLineAndCharacterOfPosition(d.start).line + 1
      }: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`
      : ts.flattenDiagnosticMessageText(d.messageText, " ");
  return {
    files,
    // Declaration-emit problems make the declarations wrong: they fail the build.
    errors: emit.diagnostics.map(format),
    // Type errors that only tsc (not `deno check`) reports, e.g. from other @types versions.
    warnings: ts.getPreEmitDiagnostics(program).map(format),
  };
}

/** The declaration file of a source file, as tsc writes it under types/. */
function typesOf(file) {
  return "./types/" + file.replace(/^\.\//, "").replace(/\.ts$/, ".d.ts");
}

/**
 * The package.json: the base manifest with the version of deno.json and one export per
 * deno.json export (the cli is the bin, not an import).
 */
function manifest() {
  const base = JSON.parse(readFileSync(join(ROOT, "npm/package.base.json"), "utf8"));
  const { version } = JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8"));
  const exports = {};
  for (const [key, file] of Object.entries(DENO_EXPORTS)) {
    if (key === "./cli") continue;
    const name = key === "." ? "index" : key.slice(2);
    exports[key] = { types: typesOf(file), default: `./${name}.js` };
  }
  exports["./package.json"] = "./package.json";
  return { name: base.name, version, ...base, exports };
}

/**
 * Builds the package into `outDir` (emptied first).
 *
 * @param {{ outDir?: string, types?: boolean }} options
 * @returns {Promise<{ outDir: string, sizes: Record<string, number>, types?: object }>}
 */
export async function buildNpm({ outDir = join(ROOT, "dist/npm"), types = true } = {}) {
  outDir = resolve(outDir);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const sizes = await bundle(outDir);
  writeFileSync(join(outDir, "package.json"), JSON.stringify(manifest(), null, 2) + "\n");
  copyFileSync(join(ROOT, "npm/README.md"), join(outDir, "README.md"));
  copyFileSync(join(ROOT, "LICENSE"), join(outDir, "LICENSE"));
  return { outDir, sizes, ...(types ? { types: await declarations(outDir) } : {}) };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values } = parseArgs({
    options: { out: { type: "string" }, "no-types": { type: "boolean" } },
  });
  const started = performance.now();
  const result = await buildNpm({
    ...(values.out === undefined ? {} : { outDir: values.out }),
    types: values["no-types"] !== true,
  });
  for (const [file, bytes] of Object.entries(result.sizes)) {
    console.log(`${file.padEnd(24)} ${(bytes / 1024).toFixed(1).padStart(7)} KiB`);
  }
  if (result.types) {
    console.log(`types/                   ${result.types.files} declaration files`);
    for (const w of result.types.warnings.slice(0, 5)) console.log(`tsc warning: ${w}`);
    if (result.types.warnings.length > 5) {
      console.log(`tsc warning: … and ${result.types.warnings.length - 5} more`);
    }
    for (const e of result.types.errors) console.error(`declaration error: ${e}`);
  }
  console.log(`built ${result.outDir} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (result.types?.errors.length) process.exit(1);
}
