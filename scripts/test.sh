#!/usr/bin/env bash
# `npm test`: everything CI checks, in order: dependencies/services, lint, build, type check, jest.
# Arguments go to jest (e.g. `npm test -- test/migrations.test.ts`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

started=$SECONDS
trap 'rc=$?; echo "[test] $([ $rc = 0 ] && echo passed || echo "FAILED (exit $rc)") in $((SECONDS - started))s wall time"' EXIT

step() {
  local name="$1" t0=$SECONDS
  shift
  echo "[test] ${name}: $*"
  "$@"
  echo "[test] ${name} ok ($((SECONDS - t0))s)"
}

bash scripts/ensure-deps.sh
step lint npx eslint .
step build npm run --silent build
step typecheck npx tsc -p tsconfig.json --noEmit
step infra bash scripts/check-infra.sh
step jest npx jest "$@"
