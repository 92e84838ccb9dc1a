#!/usr/bin/env bash
# Runs every test suite of nncompress and ends with one line "N passed, N failed":
#   1. the unit, oracle and conformance tests under Deno;
#   2. the same tests under Bun;
#   3. the bundled library in headless Chromium (skipped with a notice when no Chromium is
#      installed, unless NNCOMPRESS_REQUIRE_BROWSER=1, as in CI);
#   4. the bundled library under Deno with no permissions at all (the edge check).
# Exit status: 0 when nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/deno ]; then
  echo "Installing npm dependencies (npm ci)…"
  npm ci --no-audit --no-fund --loglevel=error || exit 1
fi
out="${NNCOMPRESS_TEST_OUT:-$(mktemp -d)}"
mkdir -p "$out"
export NO_COLOR=1

echo "== Deno"
node_modules/.bin/deno test --allow-all --doc --reporter=dot --junit-path="$out/deno.xml" mod.ts fs.ts training.ts src tests
echo "== Bun"
node_modules/.bin/bun test --reporter=junit --reporter-outfile="$out/bun.xml" src tests 2>&1 | tail -n 40
echo "== Browser (headless Chromium)"
node scripts/browser_test.mjs "$out/browser.json"
echo "== Edge (Deno, no permissions)"
node scripts/edge_test.mjs "$out/edge.json"
echo "== Summary"
node scripts/summary.mjs "$out"
