import type { Store } from '../db/store';

/**
 * The idempotency records of the HTTP API (docs/architecture.md §5): one row binds (caller, Idempotency-Key) to one
 * request hash and one resource. Postgres is the source of truth; the API caches them in Redis.
 * Each statement runs on its own, outside any transaction (as the API's claim and release always did).
 * `store` is the caller's database (`shards.forOwner(callerId)`): a record lives on its caller's shard.
 */

export type IdempotentResourceType = 'deposit' | 'transfer';

export interface IdempotencyRecord {
  requestHash: string;
  resourceType: IdempotentResourceType;
  resourceId: string;
}

export interface IdempotencyScope {
  callerId: string;
  key: string;
}

interface RecordRow {
  request_hash: string;
  resource_type: IdempotentResourceType;
  resource_id: string;
}

/**
 * Claims (caller, key) for `wanted`: `{ inserted: true }` when this call wrote the row, else the row
 * that was there (the caller compares its request hash). A conflicting row can vanish between the
 * INSERT and the SELECT (its request failed and released it), so it tries again a few times; each
 * round either inserts or finds a row.
 */
export async function claimIdempotencyRecord(
  store: Store,
  scope: IdempotencyScope,
  wanted: IdempotencyRecord,
  ttlSeconds: number,
): Promise<{ inserted: true } | { inserted: false; stored: IdempotencyRecord }> {
  const sql = store.sql;
  for (let attempt = 0; attempt < 3; attempt++) {
    const inserted = await sql(
      `INSERT INTO idempotency_records
         (caller_id, idempotency_key, request_hash, resource_type, resource_id, expires_at)
       VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))
       ON CONFLICT (caller_id, idempotency_key) DO NOTHING
       RETURNING 1`,
      [scope.callerId, scope.key, wanted.requestHash, wanted.resourceType, wanted.resourceId, ttlSeconds],
    );
    if (inserted.rowCount > 0) return { inserted: true };
    // Expired rows still count until a cleanup removes them: resource ids derive from the key, so a
    // key can never name a second resource anyway.
    const { rows } = await sql<RecordRow>(
      `SELECT request_hash, resource_type, resource_id FROM idempotency_records
        WHERE caller_id = $1 AND idempotency_key = $2`,
      [scope.callerId, scope.key],
    );
    const row = rows[0];
    if (row) {
      return {
        inserted: false,
        stored: { requestHash: row.request_hash, resourceType: row.resource_type, resourceId: row.resource_id },
      };
    }
  }
  throw new Error('idempotency record kept disappearing while being claimed');
}

/** Deletes the claim of (caller, key) if it is still this request's (same hash). */
export async function releaseIdempotencyRecord(
  store: Store,
  scope: IdempotencyScope,
  requestHash: string,
): Promise<void> {
  await store.sql(
    `DELETE FROM idempotency_records WHERE caller_id = $1 AND idempotency_key = $2 AND request_hash = $3`,
    [scope.callerId, scope.key, requestHash],
  );
}
