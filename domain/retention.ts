import type { Store } from '../db/store';

/**
 * Deletes idempotency records past their expiry on one database, `batchSize` rows per statement (each its own short
 * transaction), at most `maxBatches` statements per call. SKIP LOCKED: a row a request is claiming or
 * releasing right now is left for the next batch, so the purge never makes a write wait.
 * Safe for money: deposit and transfer ids derive from the key and their rows keep the request hash,
 * so a key reused after its record is gone still names the old resource (replayed or refused, never
 * a second one).
 */
export async function purgeExpiredIdempotencyRecords(
  store: Store,
  opts: { batchSize: number; maxBatches: number; onBatch?: (deleted: number) => void },
): Promise<{ deleted: number; batches: number; more: boolean }> {
  const sql = store.sql;
  let deleted = 0;
  for (let batch = 1; batch <= opts.maxBatches; batch++) {
    const { rowCount } = await sql(
      `DELETE FROM idempotency_records WHERE ctid IN (
         SELECT ctid FROM idempotency_records WHERE expires_at < now() LIMIT $1 FOR UPDATE SKIP LOCKED)`,
      [opts.batchSize],
    );
    deleted += rowCount;
    opts.onBatch?.(deleted);
    if (rowCount < opts.batchSize) return { deleted, batches: batch, more: false };
  }
  return { deleted, batches: opts.maxBatches, more: true };
}
