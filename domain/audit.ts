import type { Store } from '../db/store';
import type { Sql } from '../db/sql';
import { encodeCursor, type Page } from './history';

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

/** Audit rows, newest first, optionally of one target; keyset-paginated on the row id. */
export async function listAudit(
  store: Store,
  opts: { targetId?: string; limit: number; afterId: string | null },
): Promise<Page<AuditRecord>> {
  const { rows } = await store.sql<AuditRow>(
    `SELECT a.id::text AS id, actor, roles, action, target_type, target_id, reason, request_id, details, created_at
       FROM audit_log a
      WHERE ($1::uuid IS NULL OR a.target_id = $1::uuid) AND ($2::bigint IS NULL OR a.id < $2::bigint)
      ORDER BY a.id DESC -- the bigint column, not the text alias
      LIMIT $3`,
    [opts.targetId ?? null, opts.afterId, opts.limit + 1],
  );
  const items = rows.slice(0, opts.limit).map((r): AuditRecord => ({
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
  }));
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > opts.limit && last ? encodeCursor(last.id) : null };
}
