#!/usr/bin/env bash
# `npm run demo`: compresses the real PP-OCR models with a few config lists, evaluates each on the
# 40 labelled text lines and prints the table (see demo/main.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
exec node_modules/.bin/deno run -A demo/main.ts "$@"
