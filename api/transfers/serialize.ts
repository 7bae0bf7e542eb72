import type { TransferRecord } from '../../domain/transfers/records';

/**
 * A transfer as the API shows it: amounts stay bigint (written as JSON integers by the schema).
 * `parked` (NEEDS_ATTENTION only): the row's last change is the parking, and the saga cancels the
 * transfer `parkDeadlineSeconds` later (TRANSFER_PARK_DEADLINE_SECONDS, fixed by the API at start).
 */
export function serializeTransfer(t: TransferRecord, parkDeadlineSeconds: number) {
  return {
    id: t.id,
    status: t.status,
    fromWalletId: t.fromWalletId,
    toWalletId: t.toWalletId,
    amount: t.amount,
    currency: t.currency,
    description: t.description,
    steps: t.steps,
    failure: t.failureCode ? { step: t.failedStep, code: t.failureCode, reason: t.failureReason ?? '' } : null,
    parked:
      t.status === 'NEEDS_ATTENTION'
        ? {
            step: t.failedStep,
            since: t.updatedAt,
            deadline: new Date(t.updatedAt.getTime() + parkDeadlineSeconds * 1000),
          }
        : null,
    workflowId: t.workflowId,
    runId: t.runId,
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
    finishedAt: t.finishedAt,
  };
}
