import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { isDomainError } from '../domain/errors';
import type { TransferDetails } from '../domain/transfers/transfer';
import type { TransferPayload } from '../workflows/contract';

/**
 * Business refusals (insufficient funds, wallet frozen, limit exceeded, …) become non-retryable
 * ApplicationFailures whose type is the stable domain code; everything else (database or Redis
 * down, timeouts) is rethrown as is, so Temporal retries it with backoff.
 */
export async function asActivity<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isDomainError(err)) throw ApplicationFailure.nonRetryable(err.message, err.code, err.details ?? {});
    throw err;
  }
}

export function toDetails(p: TransferPayload): TransferDetails {
  return { ...p, amount: BigInt(p.amountMinor), runId: currentRunId() };
}

/** The run of the workflow that scheduled the running activity (recorded on the transfer row). */
export function currentRunId(): string | undefined {
  try {
    return Context.current().info.workflowExecution?.runId;
  } catch {
    return undefined; // not inside an activity (a direct call, e.g. from a test)
  }
}
