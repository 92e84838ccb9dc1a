// Bundles tests/edge/entry.ts with esbuild (platform "neutral": no Node built-ins may be pulled
// in) and runs it under Deno with no permissions at all, as an edge function would run it.
// Writes {passed, failed, skipped} to the file given as the first argument.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";

const outFile = process.argv[2];
const dir = mkdtempSync(join(tmpdir(), "nncompress-edge-"));
const bundlePath = join(dir, "edge.js");
try {
  await build({
    entryPoints: ["tests/edge/entry.ts"],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    outfile: bundlePath,
  });
  const stdout = execFileSync(
    "node_modules/.bin/deno",
    ["run", "--no-prompt", "--no-config", "--no-npm", "--no-remote", bundlePath],
    { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } },
  );
  const lines = stdout.trim().split("\n");
  const last = lines.pop();
  for (const line of lines) console.log(line);
  const r = JSON.parse(last);
  console.log(`edge: ${r.passed} checks passed, ${r.failed} failed`);
  // The whole subset counts as one test in the summary.
  const ok = r.failed === 0 && r.passed > 0;
  writeFileSync(outFile, JSON.stringify({ passed: ok ? 1 : 0, failed: ok ? 0 : 1, skipped: 0 }));
} catch (error) {
  console.log(`edge: failed: ${error.stderr ?? error.message ?? error}`);
  writeFileSync(outFile, JSON.stringify({ passed: 0, failed: 1, skipped: 0 }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
