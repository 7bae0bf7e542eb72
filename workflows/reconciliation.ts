import {
  CancellationScope,
  ContinueAsNew,
  continueAsNew,
  isCancellation,
  log,
  proxyActivities,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { PageInput } from '../activities/reconciliation';
import type { PageResult, RunSummary } from '../domain/reconciliation/results';
import type { ReconciliationInput, ReconciliationProgress, ReconciliationResult } from './contract';

/** The checks of one run, in order, each paged by its activity (docs/architecture.md §7.3). */
export const RECONCILIATION_CHECKS = [
  ['wallets', 'reconcileWallets'],
  ['journalEntries', 'reconcileJournalEntries'],
  ['transfers', 'reconcileBookings'],
  ['openTransfers', 'reconcileTransferWorkflows'],
  ['transferWorkflows', 'reconcileWorkflowRows'],
  ['decidedTransfers', 'reconcileFinanceDecisions'],
] as const;

// Regular activities (not local): a page may take seconds, and each is its own event in the history ops read.
const acts = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
});

/** Long runs start a fresh history before it grows large; the progress carries on. */
const HISTORY_EVENTS_BEFORE_CONTINUE = 2000;

/**
 * One reconciliation run: every check in bounded keyset pages (each a regular activity that stores its
 * page's discrepancies and returns counts), the per-currency sums stitched across pages, then the run's
 * row is finished. Started by the reconciliation Schedule and by POST /v1/reconciliation/runs.
 */
export async function reconciliationWorkflow(input: ReconciliationInput): Promise<ReconciliationResult> {
  const p: ReconciliationProgress = input.progress ?? {
    runId: input.runId ?? uuid4(),
    check: 0,
    after: null,
    summary: { checked: {}, discrepancyCounts: {}, repaired: 0 },
    totals: {},
  };
  if (!input.progress) {
    await acts.beginReconciliation({
      id: p.runId,
      workflowId: workflowInfo().workflowId,
      trigger: input.trigger,
      requestedBy: input.requestedBy ?? null,
    });
  }
  try {
    return await runChecks(input, p);
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    // out of retries, or cancelled from the Temporal UI: the run's row says so instead of staying `running`
    const reason = isCancellation(err) ? 'cancelled from Temporal' : failureMessage(err);
    await CancellationScope.nonCancellable(() => acts.failReconciliation({ runId: p.runId, reason }));
    log.error('reconciliation failed', { runId: p.runId, reason });
    throw err;
  }
}

async function runChecks(input: ReconciliationInput, p: ReconciliationProgress): Promise<ReconciliationResult> {
  while (p.check < RECONCILIATION_CHECKS.length) {
    const [name, activity] = RECONCILIATION_CHECKS[p.check]!;
    const page: PageResult = await acts[activity]({
      runId: p.runId,
      after: p.after,
      limit: input.pageSize,
    } satisfies PageInput);
    fold(p, name, page);
    if (page.next === null) {
      p.check += 1;
      p.after = null;
    } else {
      p.after = page.next;
    }
    const info = workflowInfo();
    if (
      info.continueAsNewSuggested ||
      info.historyLength > (input.maxHistoryEvents ?? HISTORY_EVENTS_BEFORE_CONTINUE)
    ) {
      await continueAsNew<typeof reconciliationWorkflow>({ ...input, progress: p });
    }
  }
  const summary = await acts.finishReconciliation({ runId: p.runId, summary: p.summary, totals: p.totals });
  const total = Object.values(summary.discrepancyCounts).reduce((a, b) => a + (b ?? 0), 0);
  log.info('reconciliation finished', { runId: p.runId, discrepancies: total, repaired: summary.repaired });
  return { runId: p.runId, ...summary };
}

/** Adds a page to the run: counts, discrepancies by kind, repairs, and the sums (bigint-exact, as decimal strings). */
function fold(p: ReconciliationProgress, check: string, page: PageResult): void {
  p.summary.checked[check] = (p.summary.checked[check] ?? 0) + page.checked;
  for (const [kind, n] of Object.entries(page.found)) {
    const k = kind as keyof RunSummary['discrepancyCounts'];
    p.summary.discrepancyCounts[k] = (p.summary.discrepancyCounts[k] ?? 0) + (n ?? 0);
  }
  p.summary.repaired += page.repaired;
  for (const [key, value] of Object.entries(page.totals ?? {})) {
    // the journal entries' sums are the ledger's lines per currency
    const k = check === 'journalEntries' ? `lines:${key}` : key;
    p.totals[k] = (BigInt(p.totals[k] ?? '0') + BigInt(value)).toString();
  }
}

/** An activity's failure names the activity; its cause says what went wrong. */
function failureMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}
