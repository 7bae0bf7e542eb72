#!/usr/bin/env bash
# `npm start`: the whole stack on this machine, no Docker. Ctrl-C stops everything.
#   Postgres, Redis      started (or installed) by scripts/ensure-deps.sh if they are not running
#   Temporal dev server  127.0.0.1:7233 (UI http://127.0.0.1:8233, data kept in .data/temporal.db)
#   API                  http://127.0.0.1:3000 (docs /docs, metrics /metrics, finance console /console/)
#   WORKERS (default 2) worker processes, /metrics and /health on 9464, 9466, ...
# Databases on the Postgres of DATABASE_URL (default postgres://postgres@127.0.0.1:5432/wallet), created and
# migrated on start: DEV_WALLET_SHARDS (2) wallet shard databases (wallet, wallet_s1) and wallet_accounting.
# Ports and the data folder are settings (see scripts/dev-stack.ts); DEV_STACK_SKIP_BUILD=1 skips the build.
# The process supervision (prefixed output, ordered shutdown, no orphans) is in scripts/dev-stack.ts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/ensure-deps.sh
if [ "${DEV_STACK_SKIP_BUILD:-}" = 1 ] && [ -f dist/scripts/dev-stack.js ] && [ -f dist/workflow-bundle.js ] && [ -f dist/workflow-bundle-bench.js ]; then
  echo "[dev-stack] DEV_STACK_SKIP_BUILD=1: using the existing build in dist/"
else
  echo "[dev-stack] building (npm run build)"
  npm run --silent build
fi
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/wallet}"
# a developer's stack: the development secret and limits (the processes default to production)
export NODE_ENV="${NODE_ENV:-development}"
exec node dist/scripts/dev-stack.js
