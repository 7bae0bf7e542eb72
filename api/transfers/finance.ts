import type { Client } from '@temporalio/client';
import type { DataSource } from 'typeorm';
import { poolSql } from '../../db/sql';
import { recordAudit, type AuditActor } from '../../domain/audit';
import { DomainError } from '../../domain/errors';
import { getTransfer } from '../../domain/transfers/records';
import { cancelSignal, retrySignal } from '../../workflows/transfer';
import type { FinanceDecision } from '../../workflows/transfer-types';

/**
 * Finance's two levers on a parked saga. Only a NEEDS_ATTENTION transfer takes them; the signal
 * carries who decided and why into the workflow history (the Temporal UI can send the same signals).
 *
 * Audit first, then signal: the effect is a Temporal signal, not a database write, so the two cannot
 * share a transaction. Writing the audit row before signalling means no decision can take effect
 * unaudited; if the signal then fails, the caller gets an error (and may retry), and the trail holds a
 * row for a decision that did not reach the saga — never the other way round. The workflow history
 * records the decisions that did arrive, with the same actor and reason.
 */
export async function decideParkedTransfer(
  deps: { db: DataSource; temporal: Client },
  transferId: string,
  kind: 'retry' | 'cancel',
  decision: FinanceDecision,
  audit: AuditActor,
) {
  const transfer = await getTransfer(deps.db, transferId);
  if (transfer.status !== 'NEEDS_ATTENTION') {
    throw new DomainError('TRANSFER_NOT_PARKED', `transfer ${transferId} is ${transfer.status}, not NEEDS_ATTENTION`, {
      status: transfer.status,
    });
  }
  await recordAudit(poolSql(deps.db), {
    ...audit,
    action: kind === 'retry' ? 'transfer.retry' : 'transfer.cancel',
    targetType: 'transfer',
    targetId: transfer.id,
    reason: decision.reason,
    details: { workflowId: transfer.workflowId, failedStep: transfer.failedStep, failureCode: transfer.failureCode },
  });
  const handle = deps.temporal.workflow.getHandle(transfer.workflowId);
  await handle.signal(kind === 'retry' ? retrySignal : cancelSignal, decision);
  return transfer;
}
