import { checkBookingPage, checkTotals } from '../domain/reconciliation/accounting-checks';
import type { PageResult, RunSummary } from '../domain/reconciliation/results';
import { checkJournalEntryPage, checkWalletPage } from '../domain/reconciliation/ledger-checks';
import { beginRun, failRun, finishRun, type NewRun } from '../domain/reconciliation/runs';
import type { ActivityDeps } from './deps';

/** One bounded page of one check: the run it belongs to, the keyset cursor after which to start, the page size. */
export interface PageInput {
  runId: string;
  after: string | null;
  limit: number;
}

export interface FinishInput {
  runId: string;
  summary: RunSummary;
  /** the per-currency sums stitched over every page */
  totals: Record<string, string>;
}

/** Reconciliation's database pages (one statement each) and the run's row. */
export function reconciliationActivities({ db }: ActivityDeps) {
  return {
    async beginReconciliation(run: NewRun): Promise<void> {
      await beginRun(db, run);
    },
    async reconcileWallets({ runId, after, limit }: PageInput): Promise<PageResult> {
      return checkWalletPage(db, runId, after, limit);
    },
    async reconcileJournalEntries({ runId, after, limit }: PageInput): Promise<PageResult> {
      return checkJournalEntryPage(db, runId, after, limit);
    },
    async reconcileBookings({ runId, after, limit }: PageInput): Promise<PageResult> {
      return checkBookingPage(db, runId, after, limit);
    },
    async failReconciliation({ runId, reason }: { runId: string; reason: string }): Promise<void> {
      await failRun(db, runId, reason);
    },
    /** The checks over the stitched totals, then the run's counts; returns the final summary. */
    async finishReconciliation({ runId, summary, totals }: FinishInput): Promise<RunSummary> {
      const found = checkTotals(totals);
      const counts = { ...summary.discrepancyCounts };
      for (const d of found) counts[d.kind] = (counts[d.kind] ?? 0) + 1;
      const final = { ...summary, discrepancyCounts: counts };
      await finishRun(db, runId, final, found);
      return final;
    },
  };
}
