import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { isStoreUnavailable } from '../db/shards';
import { isDomainError } from '../domain/errors';
import type { TransferDetails } from '../domain/transfers/transfer';
import { STORE_UNAVAILABLE, type TransferPayload } from '../workflows/contract';

/**
 * Business refusals (insufficient funds, wallet frozen, limit exceeded, …) become non-retryable
 * ApplicationFailures whose type is the stable domain code. A database that is unavailable (down, or
 * its breaker open: db/shards.ts) becomes a STORE_UNAVAILABLE failure naming it, so the saga waits
 * for that database on a durable timer instead of spending the step's attempts. Everything else
 * (Redis down, timeouts) is rethrown as is, so Temporal retries it with backoff.
 */
export async function asActivity<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isDomainError(err)) throw ApplicationFailure.nonRetryable(err.message, err.code, err.details ?? {});
    if (isStoreUnavailable(err)) {
      // retryable by itself: the saga's proxies list the type as non-retryable to get it back at once
      throw ApplicationFailure.create({
        type: STORE_UNAVAILABLE,
        message: err.message,
        details: [{ store: err.store, retryAfterSeconds: err.retryAfterSeconds }],
        cause: err,
      });
    }
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
