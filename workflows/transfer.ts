import { patched } from '@temporalio/workflow';
import { transferSagaV1 } from './transfer-v1';
import { transferSagaV2 } from './transfer-saga';
import type { TransferView, TransferWorkflowInput } from './contract';
import { SAGA_V2_PATCH } from './patches';

// where the replay test names it
export { SAGA_V2_PATCH } from './patches';

/**
 * One money transfer as a saga: workflow id `transfer-<transferId>`, one per (caller, Idempotency-Key).
 * A history recorded before Saga v2 has no `saga-v2` marker and finishes on v1 (patches.ts: the ids,
 * and how to ship the next change of a command sequence).
 */
export async function transferWorkflow(input: TransferWorkflowInput): Promise<TransferView> {
  if (!patched(SAGA_V2_PATCH)) return transferSagaV1(input);
  return transferSagaV2(input);
}
