import { TransferEntity } from '../../db/entities/transfer.entity';
import type { DataSource } from 'typeorm';

/**
 * A row younger than this is not judged against Temporal: the API writes the row, then starts the
 * workflow, and a request may be between the two right now.
 */
export const RECONCILIATION_GRACE_SECONDS = 60;

/** Transfers not terminal in the database, older than the grace period, after `afterSeq` (keyset on seq). */
export async function openTransfersPage(ds: DataSource, afterSeq: string | null, limit: number): Promise<TransferEntity[]> {
  return ds
    .getRepository(TransferEntity)
    .createQueryBuilder('t')
    .where(`t.status NOT IN ('COMPLETED', 'REJECTED', 'CANCELLED')`)
    .andWhere(`t.created_at < now() - make_interval(secs => :grace)`, { grace: RECONCILIATION_GRACE_SECONDS })
    .andWhere('(CAST(:after AS bigint) IS NULL OR t.seq > CAST(:after AS bigint))', { after: afterSeq })
    .orderBy('t.seq', 'ASC')
    .limit(limit)
    .getMany();
}

/** Transfers that were parked at some point or carry decision audit rows: the ones finance decided on. */
export async function decidedTransfersPage(ds: DataSource, afterSeq: string | null, limit: number): Promise<TransferEntity[]> {
  return ds
    .getRepository(TransferEntity)
    .createQueryBuilder('t')
    .where(
      `(t.failed_step IS NOT NULL OR EXISTS (SELECT 1 FROM audit_log a WHERE a.target_id = t.id
         AND a.action IN ('transfer.retry', 'transfer.cancel')))`,
    )
    .andWhere('(CAST(:after AS bigint) IS NULL OR t.seq > CAST(:after AS bigint))', { after: afterSeq })
    .orderBy('t.seq', 'ASC')
    .limit(limit)
    .getMany();
}

/**
 * The decision audit rows of a transfer (their keys, `<workflowId>/<updateId>`); `settled` is false for a
 * row younger than the grace period, whose decision the saga may be applying right now.
 */
export async function decisionAuditKeys(ds: DataSource, transferId: string): Promise<Array<{ key: string; settled: boolean }>> {
  return ds.query(
    `SELECT idempotency_key AS key, created_at < now() - make_interval(secs => $2) AS settled FROM audit_log
      WHERE target_id = $1 AND action IN ('transfer.retry', 'transfer.cancel') AND idempotency_key IS NOT NULL`,
    [transferId, RECONCILIATION_GRACE_SECONDS],
  );
}
