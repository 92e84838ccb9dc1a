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
source scripts/deps.sh
out="${NNCOMPRESS_TEST_OUT:-$(mktemp -d)}"
mkdir -p "$out"
export NO_COLOR=1

# A runner that exits non-zero while its JUnit file shows no failure (a test file that failed to
# load is not a test case) is recorded as one more failure, so it can never look green.
runner_exit() {
  local name="$1" code="$2" xml="$3"
  if [ "$code" -ne 0 ] && ! grep -q "<failure" "$xml" 2>/dev/null; then
    echo "$name exited with status $code outside any test case"
    printf '{"passed":0,"failed":1,"skipped":0}\n' >"$out/$name-exit.json"
  fi
}

echo "== Deno"
# The dot reporter prints one dot per test on its own line without colours: drop those lines.
node_modules/.bin/deno test --allow-all --doc --reporter=dot --junit-path="$out/deno.xml" \
  mod.ts fs.ts training.ts src tests 2>&1 | grep -v '^\.*$'
runner_exit deno "${PIPESTATUS[0]}" "$out/deno.xml"
echo "== Bun"
# Bun's default per-test timeout (5 s) is too short for the real-model tests on a busy 2-core machine.
# Bun runs every test file of a run in one process. The edge handler's tests (and the bad-input
# corpus, which posts to it) start compression Web Workers; after the rest of the suite has run in
# the same process, Bun stopped starting them (requests hung until the test timeout), while the
# same files pass in a process of their own. So they run in a second process.
ISOLATED="tests/edge_handler/ tests/hardening/"
# The worker-thread tests of the streamed safetensors runs start Web Workers too and hung the
# same way after the rest of the suite (every test of threads_test.ts timed out), so they get a
# third process of their own.
THREADED="tests/compress/threads_test.ts tests/compress/max_shard_size_test.ts tests/compress/magnitude_path_test.ts"
# Bun takes its arguments as path filters (substrings), so each folder ends with a slash
# ("tests/edge" alone would also select tests/edge_handler).
others=$(ls -d src/ tests/*/ | grep -v -x -F -e tests/edge_handler/ -e tests/hardening/ | tr '\n' ' ')
node_modules/.bin/bun test --timeout 120000 --reporter=junit --reporter-outfile="$out/bun.xml" \
  --path-ignore-patterns='**/threads_test.ts' --path-ignore-patterns='**/max_shard_size_test.ts' \
  --path-ignore-patterns='**/magnitude_path_test.ts' $others >"$out/bun.log" 2>&1
bun_code=$?
runner_exit bun "$bun_code" "$out/bun.xml"
node_modules/.bin/bun test --timeout 120000 --reporter=junit --reporter-outfile="$out/bun-edge.xml" \
  $ISOLATED >"$out/bun-edge.log" 2>&1
bun_edge_code=$?
runner_exit bun-edge "$bun_edge_code" "$out/bun-edge.xml"
node_modules/.bin/bun test --timeout 120000 --reporter=junit \
  --reporter-outfile="$out/bun-threads.xml" $THREADED >"$out/bun-threads.log" 2>&1
bun_threads_code=$?
runner_exit bun-threads "$bun_threads_code" "$out/bun-threads.xml"
cat "$out/bun-edge.log" "$out/bun-threads.log" >>"$out/bun.log"
[ "$bun_code" -eq 0 ] && [ "$bun_edge_code" -eq 0 ] && [ "$bun_threads_code" -eq 0 ] ||
  tail -n 150 "$out/bun.log"
grep -E "^\(fail\)|^error|^ *[0-9]+ (pass|fail|skip|errors?)$|^Ran " "$out/bun.log" | tail -n 40
echo "== Browser (headless Chromium)"
node scripts/browser_test.mjs "$out/browser.json"
echo "== Edge (Deno, no permissions)"
node scripts/edge_test.mjs "$out/edge.json"
echo "== Summary"
node scripts/summary.mjs "$out"
