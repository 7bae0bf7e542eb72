import type { Sql } from '../../db/sql';
import type { Store } from '../../db/store';
import type { Discrepancy } from './results';

/**
 * Stores discrepancies of a run. Keyed by (run, kind, subject): a page retried after its first attempt
 * committed adds nothing twice.
 */
export async function storeDiscrepancies(store: Store, runId: string, list: Discrepancy[]): Promise<void> {
  await insertDiscrepancies(store.sql, runId, list);
}

/** `storeDiscrepancies` inside a caller's transaction. */
export async function insertDiscrepancies(sql: Sql, runId: string, list: Discrepancy[]): Promise<void> {
  if (list.length === 0) return;
  await sql(
    `INSERT INTO reconciliation_discrepancies (run_id, kind, subject, ids, detail, repaired)
     SELECT $1, d.kind, d.subject, d.ids, d.detail, d.repaired
       FROM jsonb_to_recordset($2::jsonb) AS d(kind text, subject text, ids jsonb, detail text, repaired text)
     ON CONFLICT (run_id, kind, subject) DO NOTHING`,
    [runId, JSON.stringify(list.map((d) => ({ ...d, repaired: d.repaired ?? null })))],
  );
}
