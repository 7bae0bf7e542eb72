import { ActivityFailure } from '@temporalio/workflow';

/**
 * A failure as the transfer shows it (`failure.reason`), e.g. "accounting system unavailable" (the last
 * attempt's error) or "activity StartToClose timeout". Shared by both saga versions.
 */
export function describeFailure(err: unknown): string {
  if (err instanceof ActivityFailure) {
    const cause = err.cause;
    const last = cause?.cause;
    const inner = last instanceof Error ? `: ${last.message}` : '';
    return `${cause?.message ?? err.message}${inner}`;
  }
  return err instanceof Error ? err.message : String(err);
}
