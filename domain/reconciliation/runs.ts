import type { Store } from '../../db/store';
import type { Sql } from '../../db/sql';
import { recordAudit, type AuditActor } from '../audit';
import { encodeCursor, type Page } from '../history';
import { insertDiscrepancies } from './discrepancy';
import type { Discrepancy, DiscrepancyKind, RunSummary, RunTrigger } from './results';

export interface NewRun {
  id: string;
  workflowId: string;
  trigger: RunTrigger;
  requestedBy: string | null;
}

export type RunStatus = 'running' | 'succeeded' | 'failed';

export interface ReconciliationRun extends NewRun {
  status: RunStatus;
  /** why a failed run stopped */
  failure: string | null;
  checked: Record<string, number>;
  discrepancyCounts: Record<string, number>;
  discrepancies: number;
  repaired: number;
  startedAt: Date;
  finishedAt: Date | null;
}

/** Idempotent: the API (manual run, with its audit row) and the workflow's first activity both write it. */
export async function beginRun(store: Store, run: NewRun): Promise<void> {
  await insertRun(store.sql, run);
}

async function insertRun(sql: Sql, run: NewRun): Promise<void> {
  await sql(
    `INSERT INTO reconciliation_runs (id, workflow_id, trigger, requested_by) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`,
    [run.id, run.workflowId, run.trigger, run.requestedBy],
  );
}

/**
 * A manual run, requested through the API: its row and its audit row in one transaction, committed
 * before its workflow is started (the workflow's own first activity writes the same row
 * idempotently). Resolves with the row's start time.
 */
export async function beginManualRun(store: Store, run: NewRun, who: AuditActor, reason: string): Promise<Date> {
  return store.transaction(async (sql) => {
    await insertRun(sql, run);
    await recordAudit(sql, {
      ...who,
      action: 'reconciliation.run',
      targetType: 'reconciliation_run',
      targetId: run.id,
      reason,
      details: { workflowId: run.workflowId },
    });
    const { rows } = await sql<{ started_at: Date }>(`SELECT started_at FROM reconciliation_runs WHERE id = $1`, [
      run.id,
    ]);
    return rows[0]!.started_at;
  });
}

/** The run's last discrepancies (the checks over the stitched totals) and its final counts, in one transaction. */
export async function finishRun(store: Store, id: string, s: RunSummary, found: Discrepancy[]): Promise<void> {
  await store.transaction(async (sql) => {
    await insertDiscrepancies(sql, id, found);
    await markSucceeded(sql, id, s);
  });
}

async function markSucceeded(sql: Sql, id: string, s: RunSummary): Promise<void> {
  const total = Object.values(s.discrepancyCounts).reduce((a, b) => a + (b ?? 0), 0);
  await sql(
    `UPDATE reconciliation_runs SET status = 'succeeded', checked = $2::jsonb, discrepancy_counts = $3::jsonb,
            discrepancies = $4, repaired = $5, failure = NULL,
            finished_at = CASE WHEN status = 'succeeded' THEN finished_at ELSE now() END
      WHERE id = $1`,
    [id, JSON.stringify(s.checked), JSON.stringify(s.discrepancyCounts), total, s.repaired],
  );
}

/**
 * A run that cannot finish says so (its row would otherwise stay `running` for good); also a manual run
 * whose workflow could not be started (its audit row stays: the trail is append-only).
 */
export async function failRun(store: Store, id: string, failure: string): Promise<void> {
  await store.sql(
    `UPDATE reconciliation_runs SET status = 'failed', failure = $2, finished_at = now() WHERE id = $1 AND status = 'running'`,
    [id, failure.slice(0, 1000)],
  );
}

interface RunRow {
  id: string;
  seq: string;
  workflow_id: string;
  trigger: RunTrigger;
  requested_by: string | null;
  status: RunStatus;
  failure: string | null;
  checked: Record<string, number>;
  discrepancy_counts: Record<string, number>;
  discrepancies: number;
  repaired: number;
  started_at: Date;
  finished_at: Date | null;
}

const RUN_COLUMNS = `id::text AS id, seq::text AS seq, workflow_id, trigger, requested_by, status, failure, checked,
  discrepancy_counts, discrepancies, repaired, started_at, finished_at`;

function toRun(r: RunRow): ReconciliationRun {
  return {
    id: r.id,
    workflowId: r.workflow_id,
    trigger: r.trigger,
    requestedBy: r.requested_by,
    status: r.status,
    failure: r.failure,
    checked: r.checked,
    discrepancyCounts: r.discrepancy_counts,
    discrepancies: r.discrepancies,
    repaired: r.repaired,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

/** Runs, newest first, keyset on seq. */
export async function listRuns(
  store: Store,
  opts: { limit: number; afterSeq: string | null },
): Promise<Page<ReconciliationRun>> {
  const { rows } = await store.sql<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM reconciliation_runs WHERE $1::bigint IS NULL OR seq < $1::bigint ORDER BY seq DESC LIMIT $2`,
    [opts.afterSeq, opts.limit + 1],
  );
  const page = rows.slice(0, opts.limit);
  const last = page[page.length - 1];
  return { items: page.map(toRun), nextCursor: rows.length > opts.limit && last ? encodeCursor(last.seq) : null };
}

/** At most this many discrepancies are listed with a run (the counts are always complete). */
export const LISTED_DISCREPANCIES = 1000;

export async function findRun(
  store: Store,
  id: string,
): Promise<(ReconciliationRun & { found: Discrepancy[] }) | null> {
  const { sql } = store;
  const { rows } = await sql<RunRow>(`SELECT ${RUN_COLUMNS} FROM reconciliation_runs WHERE id = $1`, [id]);
  if (!rows[0]) return null;
  const { rows: found } = await sql<{
    kind: DiscrepancyKind;
    subject: string;
    ids: Record<string, string>;
    detail: string;
    repaired: string | null;
  }>(
    `SELECT kind, subject, ids, detail, repaired FROM reconciliation_discrepancies WHERE run_id = $1 ORDER BY id LIMIT $2`,
    [id, LISTED_DISCREPANCIES],
  );
  return { ...toRun(rows[0]), found: found.map((d) => ({ ...d, repaired: d.repaired ?? undefined })) };
}

/**
 * What the API's gauges show: the latest finished run's counts and when it finished. The statement is
 * cancelled by Postgres after `timeoutMs` (a scrape must not wait on, nor pile work onto, a slow database).
 */
export async function latestFinishedRun(
  store: Store,
  { timeoutMs }: { timeoutMs: number },
): Promise<{ finishedAt: Date; discrepancyCounts: Record<string, number> } | null> {
  const { rows } = await store.boundedRead(timeoutMs, (sql) =>
    sql<{ finished_at: Date; discrepancy_counts: Record<string, number> }>(
      `SELECT finished_at, discrepancy_counts FROM reconciliation_runs WHERE status = 'succeeded'
        ORDER BY finished_at DESC LIMIT 1`,
    ),
  );
  return rows[0] ? { finishedAt: rows[0].finished_at, discrepancyCounts: rows[0].discrepancy_counts } : null;
}
