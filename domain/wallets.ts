import { randomUUID } from 'node:crypto';
import type { Store } from '../db/store';
import type { Sql } from '../db/sql';
import { recordAudit, type AuditActor } from './audit';
import { DomainError } from './errors';
import { createdUsOf, timestampText, type IdKey } from './history';
import { systemOwnerId, systemWalletId } from './ids';
import { shardOfOwner, withShard } from './shards';

export type WalletStatus = 'active' | 'frozen' | 'closed';
export type WalletKind = 'customer' | 'system';

/** The wallet row as the API reads it (table wallets); amounts in minor units. */
export interface WalletRecord {
  id: string;
  ownerId: string;
  kind: WalletKind;
  currency: string;
  status: WalletStatus;
  balance: bigint;
  held: bigint;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewWallet {
  ownerId: string;
  currency: string;
}

/**
 * Creates a customer wallet on its owner's logical shard: `store` must be that shard's database
 * (`shards.forOwner(ownerId).store`). The id carries the shard (domain/shards.ts).
 */
export async function createWallet(store: Store, input: NewWallet): Promise<WalletRecord> {
  const id = withShard(randomUUID(), shardOfOwner(input.ownerId));
  await store.sql(`INSERT INTO wallets (id, owner_id, kind, currency) VALUES ($1, $2, 'customer', $3)`, [
    id,
    input.ownerId,
    input.currency,
  ]);
  return getWallet(store, id);
}

const WALLET_COLUMNS = `id, owner_id, kind, currency, status, balance::text AS balance, held::text AS held, created_at,
  updated_at`;

/** Customer wallets only: system accounts are not addressable through the API. */
export async function findWallet(store: Store, id: string): Promise<WalletRecord | null> {
  const { rows } = await store.sql<WalletRow>(
    `SELECT ${WALLET_COLUMNS} FROM wallets WHERE id = $1 AND kind = 'customer'`,
    [id],
  );
  const r = rows[0];
  return r ? toWallet(r) : null;
}

function toWallet(r: WalletRow): WalletRecord {
  return {
    id: r.id,
    ownerId: r.owner_id,
    kind: r.kind,
    currency: r.currency,
    status: r.status,
    balance: BigInt(r.balance),
    held: BigInt(r.held),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

interface WalletRow {
  id: string;
  owner_id: string;
  kind: WalletKind;
  currency: string;
  status: WalletStatus;
  balance: string;
  held: string;
  created_at: Date;
  updated_at: Date;
}

export async function getWallet(store: Store, id: string): Promise<WalletRecord> {
  const wallet = await findWallet(store, id);
  if (!wallet) throw new DomainError('WALLET_NOT_FOUND', `wallet ${id} not found`);
  return wallet;
}

export interface WalletFilter {
  ownerId?: string;
  currency?: string;
  status?: WalletStatus;
  /** only the wallets of logical shard 0 (those from before sharding) */
  legacyOnly?: boolean;
  limit: number;
  /** keyset: the last wallet seen (domain/history.ts) */
  after?: IdKey | null;
}

/**
 * Customer wallets of one database, newest first (created_at DESC, id DESC), each with the exact key a
 * merged list orders and pages by (domain/history.ts).
 */
export async function listWallets(store: Store, f: WalletFilter): Promise<Array<{ wallet: WalletRecord; key: IdKey }>> {
  const where = [`kind = 'customer'`];
  const params: unknown[] = [];
  const param = (value: unknown) => `$${params.push(value)}`;
  if (f.ownerId !== undefined) where.push(`owner_id = ${param(f.ownerId)}`);
  if (f.currency !== undefined) where.push(`currency = ${param(f.currency)}`);
  if (f.status !== undefined) where.push(`status = ${param(f.status)}`);
  if (f.legacyOnly) where.push(`logical_shard(id) = 0`);
  if (f.after)
    where.push(
      `(created_at, id) < (${param(timestampText(f.after.createdUs))}::timestamptz, ${param(f.after.id)}::uuid)`,
    );
  const { rows } = await store.sql<WalletRow & { created_us: string }>(
    `SELECT ${WALLET_COLUMNS}, ${createdUsOf('created_at')} AS created_us FROM wallets
      WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT ${param(f.limit)}`,
    params,
  );
  return rows.map((r) => ({ wallet: toWallet(r), key: { createdUs: r.created_us, id: r.id } }));
}

/** The ids of an owner's customer wallets in one database (with `legacyOnly`, those of logical shard 0 only). */
export async function walletIdsOfOwner(
  store: Store,
  ownerId: string,
  opts: { legacyOnly?: boolean } = {},
): Promise<string[]> {
  const { rows } = await store.sql<{ id: string }>(
    `SELECT id FROM wallets WHERE owner_id = $1 AND kind = 'customer' AND (NOT $2 OR logical_shard(id) = 0)`,
    [ownerId, opts.legacyOnly ?? false],
  );
  return rows.map((r) => r.id);
}

/** Whether `callerId` owns at least one of the wallets (customer wallets only). */
export async function ownsAnyWallet(store: Store, callerId: string, walletIds: string[]): Promise<boolean> {
  const { rows } = await store.sql(
    `SELECT 1 FROM wallets WHERE id = ANY($1::uuid[]) AND owner_id = $2 AND kind = 'customer' LIMIT 1`,
    [walletIds, callerId],
  );
  return rows.length > 0;
}

export function availableOf(wallet: Pick<WalletRecord, 'balance' | 'held'>): bigint {
  return wallet.balance - wallet.held;
}

/**
 * Freeze / unfreeze. A closed wallet stays closed. With `audit`, the audit row is written in the same
 * transaction as the status change: both commit, or neither does.
 */
export async function setWalletStatus(
  store: Store,
  id: string,
  status: Exclude<WalletStatus, 'closed'>,
  audit?: AuditActor & { reason: string | null },
) {
  await store.transaction(async (sql) => {
    // lock the row first: the audit row records the status it really had before this change
    const { rows } = await sql<{ status: WalletStatus }>(
      `SELECT status FROM wallets WHERE id = $1 AND kind = 'customer' FOR UPDATE`,
      [id],
    );
    const previous = rows[0]?.status;
    if (previous === undefined) throw new DomainError('WALLET_NOT_FOUND', `wallet ${id} not found`);
    if (previous === 'closed') throw new DomainError('WALLET_NOT_ACTIVE', `wallet ${id} is closed`);
    await sql(`UPDATE wallets SET status = $2, updated_at = now() WHERE id = $1`, [id, status]);
    if (audit) {
      await recordAudit(sql, {
        ...audit,
        action: status === 'frozen' ? 'wallet.freeze' : 'wallet.unfreeze',
        targetType: 'wallet',
        targetId: id,
        details: { from: previous, to: status },
      });
    }
  });
  return getWallet(store, id);
}

/**
 * Creates the system account of a logical shard and currency (`external:EUR@7`) on first use, in the
 * database holding that shard; concurrent callers converge on one row (its id and its owner id are
 * both unique). Shard 0's is `external:EUR`, the account from before sharding.
 */
export async function ensureSystemWallet(sql: Sql, currency: string, shard = 0): Promise<string> {
  const id = systemWalletId(currency, shard);
  await sql(`INSERT INTO wallets (id, owner_id, kind, currency) VALUES ($1, $2, 'system', $3) ON CONFLICT DO NOTHING`, [
    id,
    systemOwnerId(currency, shard),
    currency,
  ]);
  return id;
}

interface WalletStateRow {
  id: string;
  kind: string;
  currency: string;
  status: WalletStatus;
  balance: string;
  held: string;
}

/**
 * Explains why a conditional update on a wallet touched no row, as a business error.
 * Called only after the update failed, so the happy path costs one statement.
 */
export async function explainWalletRefusal(sql: Sql, walletId: string, currency: string, amount: bigint) {
  const { rows } = await sql<WalletStateRow>(
    `SELECT id, kind, currency, status, balance, held FROM wallets WHERE id = $1`,
    [walletId],
  );
  const w = rows[0];
  if (!w) return new DomainError('WALLET_NOT_FOUND', `wallet ${walletId} not found`, { walletId });
  if (w.currency !== currency) {
    return new DomainError('CURRENCY_MISMATCH', `wallet ${walletId} holds ${w.currency}, not ${currency}`, {
      walletId,
    });
  }
  if (w.status !== 'active')
    return new DomainError('WALLET_NOT_ACTIVE', `wallet ${walletId} is ${w.status}`, { walletId });
  const available = BigInt(w.balance) - BigInt(w.held);
  if (available < amount) {
    return new DomainError('INSUFFICIENT_FUNDS', `wallet ${walletId} has insufficient available funds`, { walletId });
  }
  return new DomainError('INVALID_STATE', `wallet ${walletId} refused the change`, { walletId });
}
