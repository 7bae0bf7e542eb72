// Everything a production worker's workflow bundle registers. Deterministic code only: no I/O, no Node APIs.
// The bench's bare workflows are not here: workflows/bench.ts adds them (WORKER_BENCH_BASELINE).
export { transferWorkflow } from './transfer';
export { reconciliationWorkflow } from './reconciliation';
export { idempotencyRetentionWorkflow } from './retention';
