#!/usr/bin/env bash
# Sourced by the npm scripts: installs the npm dependencies on first use, so that `npm run demo`
# and `npm test` work in a fresh clone on a machine that only has Node and npm.
# onnxruntime-node downloads CUDA binaries on Linux x64 unless told to skip (its documented switch).
export ONNXRUNTIME_NODE_INSTALL="${ONNXRUNTIME_NODE_INSTALL:-skip}"
if [ ! -x node_modules/.bin/deno ]; then
  echo "Installing npm dependencies (npm ci), once…" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2 || exit 1
fi
