#!/usr/bin/env bash
# `npm start`: the whole stack on this machine, no Docker. Ctrl-C stops everything.
#   Temporal dev server  127.0.0.1:7233 (UI http://127.0.0.1:8233, data kept in .data/temporal.db)
#   API                  http://127.0.0.1:3000 (docs /docs)
#   WORKERS (default 2) worker processes
# DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/wallet (created and migrated on start).
# The process supervision (prefixed output, ordered shutdown, no orphans) is in scripts/dev-stack.ts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/ensure-deps.sh
echo "[dev-stack] building (npm run build)"
npm run --silent build
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/wallet}"
exec node dist/scripts/dev-stack.js
