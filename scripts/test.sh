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
step format npx prettier --check .
step lint npx eslint .
step build npm run --silent build
step typecheck npx tsc -p tsconfig.json --noEmit
step infra bash scripts/check-infra.sh
step jest npx jest "$@"
if [ $# -eq 0 ]; then
  # the same transfer suite on a configuration of one database (no SHARD_DATABASE_URLS): the default of a
  # deployment that has not sharded, which must keep passing (docs/testing.md)
  step one-shard env TEST_WALLET_SHARDS=1 npx jest test/transfers/saga.test.ts
fi
# the bank test under faults (docs/reliability.md): a short seeded run; skipped when jest was given
# arguments (a focused run). CHAOS_ARGS overrides its size and seed.
if [ $# -eq 0 ]; then
  # shellcheck disable=SC2086
  step chaos node dist/scripts/chaos/main.js ${CHAOS_ARGS:---transfers 300 --seconds 60 --seed 20261130}
fi
