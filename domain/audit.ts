import type { Store } from '../db/store';
import type { Sql } from '../db/sql';
import { createdUsOf, timestampText, type RowKey } from './history';

/** Privileged actions that leave an audit row (table audit_log, append-only). */
export const AUDIT_ACTIONS = [
  'transfer.retry',
  'transfer.cancel',
  'wallet.freeze',
  'wallet.unfreeze',
  'wallet.deposit',
  'reconciliation.run',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];
export const AUDIT_TARGET_TYPES = ['wallet', 'transfer', 'reconciliation_run'] as const;
export type AuditTargetType = (typeof AUDIT_TARGET_TYPES)[number];

/** Who did it and under which request; the action-specific part is added by each caller. */
export interface AuditActor {
  actor: string;
  roles: readonly string[];
  requestId: string;
}

export interface AuditEntry extends AuditActor {
  action: AuditAction;
  targetType: AuditTargetType;
  targetId: string;
  reason: string | null;
  details?: Record<string, unknown>;
  /** makes the append idempotent: a second row with the same key is not written */
  idempotencyKey?: string;
}

export interface AuditRecord extends Omit<AuditEntry, 'roles'> {
  id: string;
  roles: string[];
  details: Record<string, unknown>;
  createdAt: Date;
}

/**
 * Appends one audit row through `sql`: pass the transaction that carries the action's effect, so the
 * effect and its audit row commit (or roll back) together.
 */
export async function recordAudit(sql: Sql, e: AuditEntry): Promise<void> {
  await sql(
    `INSERT INTO audit_log (actor, roles, action, target_type, target_id, reason, request_id, details, idempotency_key)
     VALUES ($1, $2::text[], $3, $4, $5, $6, $7, $8::jsonb, $9) ON CONFLICT DO NOTHING`,
    [
      e.actor,
      [...e.roles],
      e.action,
      e.targetType,
      e.targetId,
      e.reason,
      e.requestId,
      JSON.stringify(e.details ?? {}),
      e.idempotencyKey ?? null,
    ],
  );
}

interface AuditRow {
  id: string;
  actor: string;
  roles: string[];
  action: AuditAction;
  target_type: AuditTargetType;
  target_id: string;
  reason: string | null;
  request_id: string;
  details: Record<string, unknown>;
  created_at: Date;
}

/**
 * Audit rows of one database, newest first (created_at DESC, id DESC), optionally of one target, each
 * with the key the merged audit list orders and pages by (domain/history.ts). `database` is this
 * database's index: with `after`, a row sharing the cursor's creation time comes after it when its
 * (database, id) does, so ties across databases are neither skipped nor repeated.
 */
export async function listAudit(
  store: Store,
  database: number,
  opts: { targetId?: string; limit: number; after: RowKey | null },
): Promise<Array<{ entry: AuditRecord; key: RowKey }>> {
  const params: unknown[] = [opts.targetId ?? null];
  const param = (value: unknown) => `$${params.push(value)}`;
  let after = '';
  if (opts.after) {
    const ts = `${param(timestampText(opts.after.createdUs))}::timestamptz`;
    if (database < opts.after.database) after = `AND a.created_at <= ${ts}`;
    else if (database > opts.after.database) after = `AND a.created_at < ${ts}`;
    else after = `AND (a.created_at, a.id) < (${ts}, ${param(opts.after.id)}::bigint)`;
  }
  const { rows } = await store.sql<AuditRow & { created_us: string }>(
    `SELECT a.id::text AS id, actor, roles, action, target_type, target_id, reason, request_id, details, created_at,
            ${createdUsOf('a.created_at')} AS created_us
       FROM audit_log a
      WHERE ($1::uuid IS NULL OR a.target_id = $1::uuid) ${after}
      ORDER BY a.created_at DESC, a.id DESC -- the bigint column, not the text alias
      LIMIT ${param(opts.limit)}`,
    params,
  );
  return rows.map((r) => ({
    entry: {
      id: r.id,
      actor: r.actor,
      roles: r.roles,
      action: r.action,
      targetType: r.target_type,
      targetId: r.target_id,
      reason: r.reason,
      requestId: r.request_id,
      details: r.details,
      createdAt: r.created_at,
    },
    key: { createdUs: r.created_us, database, id: r.id },
  }));
}
