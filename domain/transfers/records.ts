import type { Sql } from '../../db/sql';
import type { Store } from '../../db/store';
import { DomainError } from '../errors';
import { createdUsOf, timestampText, type IdKey } from '../history';
import { TERMINAL_STATUSES, type StepStates, type TransferStatus } from '../transfer-status';
import type { TransferStateChange } from './transfer';

/** The transfer row as the API and the reconciliation read it (table transfers). */
export interface TransferRecord {
  id: string;
  /** insertion order within the transfer's database (not comparable across databases: lists order by createdAt, id) */
  seq: bigint;
  callerId: string;
  idempotencyKey: string;
  requestHash: string;
  fromWalletId: string;
  toWalletId: string;
  amount: bigint;
  currency: string;
  description: string | null;
  status: TransferStatus;
  steps: StepStates;
  failedStep: string | null;
  failureCode: string | null;
  failureReason: string | null;
  workflowId: string;
  runId: string | null;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

/** The select list of a transfers row aliased `t`, read back by `toTransfer` (int8 columns as text: exact). */
export const TRANSFER_COLUMNS = `t.id, t.seq::text AS seq, t.caller_id, t.idempotency_key, t.request_hash, t.from_wallet_id,
  t.to_wallet_id, t.amount::text AS amount, t.currency, t.description, t.status, t.steps, t.failed_step, t.failure_code,
  t.failure_reason, t.workflow_id, t.run_id, t.created_at, t.updated_at, t.finished_at`;

export interface TransferRow {
  id: string;
  seq: string;
  caller_id: string;
  idempotency_key: string;
  request_hash: string;
  from_wallet_id: string;
  to_wallet_id: string;
  amount: string;
  currency: string;
  description: string | null;
  status: TransferStatus;
  steps: StepStates;
  failed_step: string | null;
  failure_code: string | null;
  failure_reason: string | null;
  workflow_id: string;
  run_id: string | null;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

export function toTransfer(r: TransferRow): TransferRecord {
  return {
    id: r.id,
    seq: BigInt(r.seq),
    callerId: r.caller_id,
    idempotencyKey: r.idempotency_key,
    requestHash: r.request_hash,
    fromWalletId: r.from_wallet_id,
    toWalletId: r.to_wallet_id,
    amount: BigInt(r.amount),
    currency: r.currency,
    description: r.description,
    status: r.status,
    steps: r.steps,
    failedStep: r.failed_step,
    failureCode: r.failure_code,
    failureReason: r.failure_reason,
    workflowId: r.workflow_id,
    runId: r.run_id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
  };
}

export interface NewTransfer {
  id: string;
  callerId: string;
  idempotencyKey: string;
  requestHash: string;
  fromWalletId: string;
  toWalletId: string;
  amount: bigint;
  currency: string;
  description?: string | null;
  workflowId: string;
}

/**
 * Records the transfer before its saga starts, on the sender's database (`shards.forTransfer(id)`, which
 * is `forWallet(fromWalletId)`). The receiver may live on another database: the caller checks it there
 * (api/transfers/start-transfer.ts); here only the sender must exist. The row is keyed by the id derived
 * from (caller, Idempotency-Key, sender's shard), so a retried request finds its own row: same request
 * hash → the same transfer (created=false), another hash → IDEMPOTENCY_KEY_REUSED, and nothing is written.
 */
export async function recordTransfer(
  store: Store,
  t: NewTransfer,
): Promise<{ transfer: TransferRecord; created: boolean }> {
  if (t.fromWalletId === t.toWalletId) throw new DomainError('SAME_WALLET', 'a transfer needs two different wallets');
  const { sql } = store;
  const { rows: senders } = await sql<{ id: string }>(`SELECT id FROM wallets WHERE id = $1 AND kind = 'customer'`, [
    t.fromWalletId,
  ]);
  if (senders.length === 0) {
    throw new DomainError('WALLET_NOT_FOUND', `wallet ${t.fromWalletId} not found`, { walletId: t.fromWalletId });
  }
  const inserted = await sql(
    `INSERT INTO transfers (id, caller_id, idempotency_key, request_hash, from_wallet_id, to_wallet_id, amount,
                            currency, description, workflow_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
    [
      t.id,
      t.callerId,
      t.idempotencyKey,
      t.requestHash,
      t.fromWalletId,
      t.toWalletId,
      t.amount.toString(),
      t.currency,
      t.description ?? null,
      t.workflowId,
    ],
  );
  // No conflict target: a concurrent twin may trip either unique constraint (id, or caller + key)
  // first, and both mean "this request's row exists".
  const transfer = await getTransfer(store, t.id);
  if (transfer.requestHash !== t.requestHash) {
    throw new DomainError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different request');
  }
  return { transfer, created: inserted.rowCount === 1 };
}

export async function findTransfer(store: Store, id: string): Promise<TransferRecord | null> {
  const { rows } = await store.sql<TransferRow>(`SELECT ${TRANSFER_COLUMNS} FROM transfers t WHERE t.id = $1`, [id]);
  return rows[0] ? toTransfer(rows[0]) : null;
}

export async function getTransfer(store: Store, id: string): Promise<TransferRecord> {
  const t = await findTransfer(store, id);
  if (!t) throw new DomainError('TRANSFER_NOT_FOUND', `transfer ${id} not found`);
  return t;
}

/** What a state change did to the row: null when it did not apply (terminal, or not the expected status). */
export interface AppliedStateChange {
  /** the status before and after this write (equal when only the steps changed, or the status was rewritten) */
  previousStatus: TransferStatus;
  status: TransferStatus;
  createdAt: Date;
  finishedAt: Date | null;
}

/**
 * Writes a status transition. A terminal status is never left again, and with `expectedStatus` the
 * write is a compare-and-set: step activities move RESERVED → ACCOUNTED → POSTED only from the
 * step before, so a late write from an attempt that outlived its timeout cannot move the row
 * backwards or out of a parked state. Returns what changed, so a caller can act exactly once on a
 * transition (metrics): a retried write finds the row moved already (previousStatus === status) or
 * terminal (null).
 */
export async function applyStateChange(sql: Sql, change: TransferStateChange): Promise<AppliedStateChange | null> {
  const terminal = change.status !== undefined && TERMINAL_STATUSES.includes(change.status);
  // One statement: the CTE locks the row as the UPDATE would (so no concurrent write slips in between)
  // and yields its status before this write, which PG 15's RETURNING cannot (no RETURNING old.*).
  const { rows } = await sql<{
    previous_status: TransferStatus;
    status: TransferStatus;
    created_at: Date;
    finished_at: Date | null;
  }>(
    `WITH before AS (SELECT id, status FROM transfers WHERE id = $1 FOR NO KEY UPDATE)
     UPDATE transfers t
        SET status = coalesce($2, t.status),
            steps = CASE WHEN $3::text IS NULL THEN t.steps ELSE t.steps || jsonb_build_object($3::text, $4::text) END,
            failed_step = CASE WHEN $5::boolean THEN $6 ELSE t.failed_step END,
            failure_code = CASE WHEN $5::boolean THEN $7 ELSE t.failure_code END,
            failure_reason = CASE WHEN $5::boolean THEN $8 ELSE t.failure_reason END,
            finished_at = CASE WHEN $9::boolean THEN coalesce(t.finished_at, now()) ELSE t.finished_at END,
            run_id = coalesce(t.run_id, $11),
            updated_at = now()
       FROM before
      WHERE t.id = before.id AND before.status NOT IN ('COMPLETED', 'REJECTED', 'CANCELLED', 'RETURNED')
        AND ($10::text IS NULL OR before.status = $10::text)
      RETURNING before.status AS previous_status, t.status, t.created_at, t.finished_at`,
    [
      change.transferId,
      change.status ?? null,
      change.step ?? null,
      change.stepState ?? null,
      change.failure !== undefined,
      change.failure?.step ?? null,
      change.failure?.code ?? null,
      change.failure?.reason ?? null,
      terminal,
      change.expectedStatus ?? null,
      change.runId ?? null,
    ],
  );
  const row = rows[0];
  if (!row) return null;
  return {
    previousStatus: row.previous_status,
    status: row.status,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
  };
}

/** `applyStateChange` on its own (the saga's activities): one statement, atomic without a transaction around it. */
export function changeTransferState(store: Store, change: TransferStateChange): Promise<AppliedStateChange | null> {
  return applyStateChange(store.sql, change);
}

export interface TransferFilter {
  status?: TransferStatus;
  currency?: string;
  /** the step that failed (failure.step): e.g. the parked transfers stuck in accounting */
  failedStep?: string;
  /**
   * Only transfers sent from or received into one of these wallets (a wallet's transfers, a customer's
   * own). An empty list matches nothing.
   */
  walletIds?: readonly string[];
  limit: number;
  /** keyset: the last transfer seen (domain/history.ts) */
  after?: IdKey | null;
}

/**
 * Transfers of one database, newest first (created_at DESC, id DESC), each with the exact key a list
 * merged across databases orders and pages by (domain/history.ts).
 */
export async function listTransfers(
  store: Store,
  f: TransferFilter,
): Promise<Array<{ transfer: TransferRecord; key: IdKey }>> {
  const where: string[] = [];
  const params: unknown[] = [];
  const param = (value: unknown) => `$${params.push(value)}`;
  if (f.status) where.push(`t.status = ${param(f.status)}`);
  if (f.walletIds !== undefined) {
    const ids = param(f.walletIds);
    where.push(`(t.from_wallet_id = ANY(${ids}::uuid[]) OR t.to_wallet_id = ANY(${ids}::uuid[]))`);
  }
  if (f.currency) where.push(`t.currency = ${param(f.currency)}`);
  if (f.failedStep) where.push(`t.failed_step = ${param(f.failedStep)}`);
  if (f.after) {
    where.push(
      `(t.created_at, t.id) < (${param(timestampText(f.after.createdUs))}::timestamptz, ${param(f.after.id)}::uuid)`,
    );
  }
  const { rows } = await store.sql<TransferRow & { created_us: string }>(
    `SELECT ${TRANSFER_COLUMNS}, ${createdUsOf('t.created_at')} AS created_us
       FROM transfers t ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY t.created_at DESC, t.id DESC LIMIT ${param(f.limit)}`,
    params,
  );
  return rows.map((r) => ({ transfer: toTransfer(r), key: { createdUs: r.created_us, id: r.id } }));
}

/**
 * Transfers parked in NEEDS_ATTENTION right now, all of them (the API's gauge). The statement is
 * cancelled by Postgres after `timeoutMs` (a scrape must not wait on, nor pile work onto, a slow database).
 */
export async function countNeedsAttention(store: Store, { timeoutMs }: { timeoutMs: number }): Promise<number> {
  const { rows } = await store.boundedRead(timeoutMs, (sql) =>
    sql<{ n: number }>(`SELECT count(*)::int AS n FROM transfers WHERE status = 'NEEDS_ATTENTION'`),
  );
  return rows[0]?.n ?? 0;
}
