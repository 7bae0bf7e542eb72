import { ApplicationFailure } from '@temporalio/common';
import type { LogLevel, LogMetadata } from '@temporalio/worker';
import { isRefusalCode } from '../domain/transfers/refusals';

/**
 * A line of Temporal's own logging (worker, activities) as our logs should carry it. The SDK reports
 * every failed activity at warn with the error and its stack; a business refusal (INSUFFICIENT_FUNDS,
 * …) is an outcome of the transfer, not a fault, so it becomes an info line with its code and no stack.
 */
export function sdkLogLine(level: LogLevel, meta: LogMetadata | undefined): { level: LogLevel; meta: LogMetadata } {
  const error = meta?.error;
  if (error instanceof ApplicationFailure && error.nonRetryable && isRefusalCode(error.type)) {
    const { error: _dropped, ...rest } = meta!;
    return { level: 'INFO', meta: { ...rest, outcome: 'refused', code: error.type, reason: error.message } };
  }
  return { level, meta: meta ?? {} };
}
