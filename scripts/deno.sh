#!/usr/bin/env bash
# Runs the project's Deno (from npm) with the given arguments, installing dependencies first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
exec node_modules/.bin/deno "$@"
