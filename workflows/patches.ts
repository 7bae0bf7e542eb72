/**
 * Every patch id the workflows branch on with `patched(id)`, in one place. An id is recorded in the
 * history of each workflow that took the new path (a `core_patch` marker); a history recorded before
 * it was deployed has no marker and takes the older path, so a workflow in flight at a deploy finishes
 * on the code it started with. The recorded histories of each path (test/fixtures/histories) replay
 * in test/transfers/replay.test.ts. The ids are recorded in histories: never rename one.
 *
 * Shipping the next change to a command sequence: add an id here with a line on what it changes,
 * branch on `patched(id)`, record fixtures of the new path (and bump RECORDED_VERSION in
 * test/support/histories.ts); once no workflow of the old path is open, `deprecatePatch(id)` and
 * then remove the branch.
 */

/** transferWorkflow runs Saga v2 (transfer-saga.ts: local activities, finance decisions by update); without it, the frozen v1. */
export const SAGA_V2_PATCH = 'saga-v2';

/** Saga v1: a finance `retry`/`cancel` signal is refused (logged) instead of applied; decisions are updates now. */
export const V1_SIGNALS_RETIRED_PATCH = 'v1-finance-signals-retired';

/** Saga v2: a finance decision is made durable (a 1 ms timer ends the workflow task) before its audit row is written. */
export const DURABLE_DECISION_PATCH = 'durable-decision';

/**
 * Saga v2: compensation releases the hold and reverses the booking whatever this run saw of the steps
 * (the books decide); before, it compensated only the steps the run had seen start.
 */
export const COMPENSATE_FROM_THE_BOOKS_PATCH = 'compensate-from-the-books';

/**
 * Saga v2, transfers between two logical shards (domain/shards.ts isCrossShard): after accounting, debit
 * (sender → clearing) and credit (clearing → receiver) on their own shards instead of the one ledger
 * entry, notify on both shards, and the return when the receiving shard refuses. A same-shard transfer
 * never reaches the marker: its command sequence is the one recorded before.
 */
export const CROSS_SHARD_PATCH = 'cross-shard';

/**
 * Saga v2: a decision accepted in the same workflow task as a cancel of the workflow is applied (its audit
 * row written) before the cancel takes effect; before, the cancel won and the accepted update answered
 * with the transfer CANCELLED and no trail of the decision.
 */
export const DECISION_OUTLIVES_CANCEL_PATCH = 'decision-outlives-cancel';
