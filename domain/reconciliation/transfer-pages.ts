import type { Store } from '../../db/store';
import { TERMINAL_STATUSES } from '../transfer-status';
import { toTransfer, TRANSFER_COLUMNS, type TransferRecord, type TransferRow } from '../transfers/records';

/**
 * A row younger than this is not judged against Temporal: the API writes the row, then starts the
 * workflow, and a request may be between the two right now.
 */
export const RECONCILIATION_GRACE_SECONDS = 60;

/** Transfers not terminal in this database, older than the grace period, after `afterSeq` (keyset on seq). */
export async function openTransfersPage(
  store: Store,
  afterSeq: string | null,
  limit: number,
): Promise<TransferRecord[]> {
  const { rows } = await store.sql<TransferRow>(
    `SELECT ${TRANSFER_COLUMNS} FROM transfers t
      WHERE t.status <> ALL ($4::text[])
        AND t.created_at < now() - make_interval(secs => $1)
        AND ($2::bigint IS NULL OR t.seq > $2::bigint)
      ORDER BY t.seq ASC LIMIT $3`,
    [RECONCILIATION_GRACE_SECONDS, afterSeq, limit, TERMINAL_STATUSES],
  );
  return rows.map(toTransfer);
}

/** Transfers that were parked at some point or carry decision audit rows: the ones finance decided on. */
export async function decidedTransfersPage(
  store: Store,
  afterSeq: string | null,
  limit: number,
): Promise<TransferRecord[]> {
  const { rows } = await store.sql<TransferRow>(
    `SELECT ${TRANSFER_COLUMNS} FROM transfers t
      WHERE (t.failed_step IS NOT NULL OR EXISTS (SELECT 1 FROM audit_log a WHERE a.target_id = t.id
              AND a.action IN ('transfer.retry', 'transfer.cancel')))
        AND ($1::bigint IS NULL OR t.seq > $1::bigint)
      ORDER BY t.seq ASC LIMIT $2`,
    [afterSeq, limit],
  );
  return rows.map(toTransfer);
}

/**
 * The decision audit rows of a transfer (their keys, `<workflowId>/<updateId>`); `settled` is false for a
 * row younger than the grace period, whose decision the saga may be applying right now.
 */
export async function decisionAuditKeys(
  store: Store,
  transferId: string,
): Promise<Array<{ key: string; settled: boolean }>> {
  const { rows } = await store.sql<{ key: string; settled: boolean }>(
    `SELECT idempotency_key AS key, created_at < now() - make_interval(secs => $2) AS settled FROM audit_log
      WHERE target_id = $1 AND action IN ('transfer.retry', 'transfer.cancel') AND idempotency_key IS NOT NULL`,
    [transferId, RECONCILIATION_GRACE_SECONDS],
  );
  return rows;
}

/** Of these workflow ids, the ones that have their transfers row on this database. */
export async function workflowIdsWithRows(store: Store, workflowIds: string[]): Promise<Set<string>> {
  const { rows } = await store.sql<{ workflow_id: string }>(
    `SELECT workflow_id FROM transfers WHERE workflow_id = ANY($1::text[])`,
    [workflowIds],
  );
  return new Set(rows.map((r) => r.workflow_id));
}
