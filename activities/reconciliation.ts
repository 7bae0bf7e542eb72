import type { ShardSet } from '../db/shards';
import type { Store } from '../db/store';
import { checkBookingPage, checkTotals } from '../domain/reconciliation/accounting-checks';
import { nextShardCursor, parseShardCursor } from '../domain/reconciliation/cursor';
import { storeDiscrepancies } from '../domain/reconciliation/discrepancy';
import { checkJournalEntryPage, checkWalletPage } from '../domain/reconciliation/ledger-checks';
import { stringTotals, type DatabasePage, type PagedDatabase } from '../domain/reconciliation/page';
import { pageResult, type PageResult, type RunSummary } from '../domain/reconciliation/results';
import { beginRun, failRun, finishRun, type NewRun } from '../domain/reconciliation/runs';
import type { ActivityDeps } from './deps';

/**
 * One bounded page of one check: the run it belongs to, the keyset cursor after which to start (for the
 * checks of the wallet shard databases, `<database index>:<key>`: domain/reconciliation/cursor.ts), the
 * page size.
 */
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

/**
 * A check that pages through every wallet shard database in turn, one database per page: runs the page,
 * stores what it found on database 0 (beside the run) and says where the next page starts. The number
 * of pages grows with the databases, the workflow's commands do not change: each page is the same
 * activity with another cursor.
 */
export async function pageEachDatabase(
  shards: ShardSet,
  home: Store,
  { runId, after, limit }: PageInput,
  check: (shards: ShardSet, on: PagedDatabase, after: string | null, limit: number) => Promise<DatabasePage>,
): Promise<PageResult> {
  const cursor = parseShardCursor(after);
  const database = shards.databases[cursor.database];
  // a cursor past the last database (one was taken out of the configuration during the run): nothing left
  if (!database) return pageResult([], 0, null);
  const page = await check(shards, { index: cursor.database, database }, cursor.after, limit);
  await storeDiscrepancies(home, runId, page.found);
  const next = nextShardCursor(cursor, page.last, shards.databases.length);
  return pageResult(page.found, page.checked, next, page.totals ? stringTotals(page.totals) : undefined);
}

/** Reconciliation's database pages (one database each) and the run's row (on database 0). */
export function reconciliationActivities({ db, shards }: ActivityDeps) {
  return {
    async beginReconciliation(run: NewRun): Promise<void> {
      await beginRun(db, run);
    },
    async reconcileWallets(input: PageInput): Promise<PageResult> {
      return pageEachDatabase(shards, db, input, checkWalletPage);
    },
    async reconcileJournalEntries(input: PageInput): Promise<PageResult> {
      return pageEachDatabase(shards, db, input, checkJournalEntryPage);
    },
    /** the transfers of each database against the accounting book, and the legs of those that cross shards */
    async reconcileBookings(input: PageInput): Promise<PageResult> {
      return pageEachDatabase(shards, db, input, checkBookingPage);
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
