// Everything the worker's workflow bundle registers. Deterministic code only: no I/O, no Node APIs.
export { transferWorkflow } from './transfer';
export * from './baseline';
export { reconciliationWorkflow } from './reconciliation';
export { idempotencyRetentionWorkflow } from './retention';
