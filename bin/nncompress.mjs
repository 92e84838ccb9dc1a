#!/usr/bin/env node
// `npx nncompress …` in a clone of the repository: runs cli.ts with the project's Deno (an npm
// devDependency), installing the npm dependencies on first use. Installed copies of the npm
// package run the compiled CLI instead (dist/npm, see scripts/build_npm.mjs).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const deno = join(root, "node_modules", ".bin", "deno");
if (!existsSync(deno)) {
  process.stderr.write("Installing npm dependencies (npm ci), once…\n");
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const install = spawnSync(npm, ["ci", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
    env: {
      ...process.env,
      ONNXRUNTIME_NODE_INSTALL: process.env.ONNXRUNTIME_NODE_INSTALL ?? "skip",
    },
  });
  if (install.status !== 0) process.exit(install.status ?? 1);
}
const run = spawnSync(deno, [
  "run",
  "-A",
  "--quiet",
  join(root, "cli.ts"),
  ...process.argv.slice(2),
], {
  stdio: "inherit",
});
if (run.signal) process.kill(process.pid, run.signal);
process.exit(run.status ?? 1);
