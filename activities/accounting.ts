import { isDomainError } from '../domain/errors';
import { changeTransferState } from '../domain/transfers/records';
import type { WorkerMetrics } from '../observability/metrics';
import type { TransferPayload } from '../workflows/contract';
import type { ActivityDeps } from './deps';
import { asActivity, toDetails } from './failures';

/** Calls the accounting system, counting each failed call: a refusal (limit) or unavailable (retried). */
async function callAccounting(metrics: WorkerMetrics, call: () => Promise<void>): Promise<void> {
  try {
    await call();
  } catch (err) {
    const reason = isDomainError(err) && err.code === 'LIMIT_EXCEEDED' ? 'limit_exceeded' : 'unavailable';
    metrics.accountingFailures.inc({ reason });
    throw err;
  }
}

/** The book is its own store (worker/deps.ts: on `shards.accounting`); the transfer row is on the sender's shard. */
export function accountingActivities({ shards, accounting, metrics }: ActivityDeps) {
  return {
    /** Step 2: book the transfer in the accounting system (limits enforced there). */
    async accounting(t: TransferPayload): Promise<void> {
      await asActivity(async () => {
        await callAccounting(metrics, () => accounting.book(toDetails(t)));
        // one statement, atomic on its own: no transaction around it
        await changeTransferState(shards.forTransfer(t.transferId).store, {
          transferId: t.transferId,
          status: 'ACCOUNTED',
          expectedStatus: 'RESERVED',
          step: 'accounting',
          stepState: 'done',
        });
      });
    },
    /** Compensation of step 2. */
    async reverseAccounting(t: TransferPayload): Promise<void> {
      await asActivity(async () => {
        await callAccounting(metrics, () => accounting.reverse(toDetails(t)));
        await changeTransferState(shards.forTransfer(t.transferId).store, {
          transferId: t.transferId,
          step: 'accounting',
          stepState: 'compensated',
        });
      });
    },
  };
}
