import type { Client } from '@temporalio/client';
import type { DataSource } from 'typeorm';
import { DomainError } from '../../domain/errors';
import { getTransfer } from '../../domain/transfers/records';
import { cancelSignal, retrySignal } from '../../workflows/transfer';
import type { FinanceDecision } from '../../workflows/transfer-types';

/**
 * Finance's two levers on a parked saga. Only a NEEDS_ATTENTION transfer takes them; the signal
 * carries who decided and why into the workflow history (the Temporal UI can send the same signals).
 */
export async function decideParkedTransfer(
  deps: { db: DataSource; temporal: Client },
  transferId: string,
  kind: 'retry' | 'cancel',
  decision: FinanceDecision,
) {
  const transfer = await getTransfer(deps.db, transferId);
  if (transfer.status !== 'NEEDS_ATTENTION') {
    throw new DomainError('TRANSFER_NOT_PARKED', `transfer ${transferId} is ${transfer.status}, not NEEDS_ATTENTION`, {
      status: transfer.status,
    });
  }
  const handle = deps.temporal.workflow.getHandle(transfer.workflowId);
  await handle.signal(kind === 'retry' ? retrySignal : cancelSignal, decision);
  return transfer;
}
