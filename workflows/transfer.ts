import { patched } from '@temporalio/workflow';
import { transferSagaV1 } from './transfer-v1';
import { transferSagaV2 } from './transfer-saga';
import type { TransferView, TransferWorkflowInput } from './contract';

/**
 * Versions of the saga's command sequence. A history recorded before a version was deployed has no
 * marker for it and takes the older path, so every workflow in flight at a deploy finishes on the
 * code it started with (test/transfers/replay.test.ts replays recorded histories of each version).
 * Shipping the next change: add a patch id here, branch on `patched(id)`, record fixtures of the new
 * path, and once no workflow of the old path is open, `deprecatePatch(id)` and then remove the branch.
 */
export const SAGA_V2_PATCH = 'saga-v2';

/** One money transfer as a saga: workflow id `transfer-<transferId>`, one per (caller, Idempotency-Key). */
export async function transferWorkflow(input: TransferWorkflowInput): Promise<TransferView> {
  if (!patched(SAGA_V2_PATCH)) return transferSagaV1(input);
  return transferSagaV2(input);
}
