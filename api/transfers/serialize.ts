import type { TransferEntity } from '../../domain/transfers/records';

/** A transfer as the API shows it: amounts stay bigint (written as JSON integers by the schema). */
export function serializeTransfer(t: TransferEntity) {
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
    workflowId: t.workflowId,
    runId: t.runId,
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
    finishedAt: t.finishedAt,
  };
}
