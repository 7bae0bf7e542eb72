import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { WalletEntity, type WalletStatus } from '../db/entities/wallet.entity';
import { poolSql, type Sql } from '../db/sql';
import { DomainError } from './errors';
import { systemWalletId } from './ids';

export interface NewWallet {
  ownerId: string;
  currency: string;
}

export async function createWallet(ds: DataSource, input: NewWallet): Promise<WalletEntity> {
  const id = randomUUID();
  await poolSql(ds)(`INSERT INTO wallets (id, owner_id, kind, currency) VALUES ($1, $2, 'customer', $3)`, [
    id,
    input.ownerId,
    input.currency,
  ]);
  return getWallet(ds, id);
}

/** Customer wallets only: system accounts are not addressable through the API. */
export async function findWallet(ds: DataSource, id: string): Promise<WalletEntity | null> {
  return ds.getRepository(WalletEntity).findOneBy({ id, kind: 'customer' });
}

export async function getWallet(ds: DataSource, id: string): Promise<WalletEntity> {
  const wallet = await findWallet(ds, id);
  if (!wallet) throw new DomainError('WALLET_NOT_FOUND', `wallet ${id} not found`);
  return wallet;
}

export function availableOf(wallet: Pick<WalletEntity, 'balance' | 'held'>): bigint {
  return wallet.balance - wallet.held;
}

/** Freeze / unfreeze. A closed wallet stays closed. */
export async function setWalletStatus(ds: DataSource, id: string, status: Exclude<WalletStatus, 'closed'>) {
  const res = await poolSql(ds)(
    `UPDATE wallets SET status = $2, updated_at = now() WHERE id = $1 AND kind = 'customer' AND status <> 'closed'`,
    [id, status],
  );
  if (res.rowCount === 0) {
    const wallet = await getWallet(ds, id); // throws WALLET_NOT_FOUND
    throw new DomainError('WALLET_NOT_ACTIVE', `wallet ${wallet.id} is ${wallet.status}`);
  }
  return getWallet(ds, id);
}

/** Creates the per-currency system account on first use; concurrent callers converge on one row. */
export async function ensureSystemWallet(sql: Sql, currency: string): Promise<string> {
  const id = systemWalletId(currency);
  await sql(
    `INSERT INTO wallets (id, owner_id, kind, currency) VALUES ($1, $2, 'system', $3) ON CONFLICT DO NOTHING`,
    [id, `external:${currency}`, currency],
  );
  return id;
}

interface WalletRow {
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
  const { rows } = await sql<WalletRow>(`SELECT id, kind, currency, status, balance, held FROM wallets WHERE id = $1`, [
    walletId,
  ]);
  const w = rows[0];
  if (!w) return new DomainError('WALLET_NOT_FOUND', `wallet ${walletId} not found`, { walletId });
  if (w.currency !== currency) {
    return new DomainError('CURRENCY_MISMATCH', `wallet ${walletId} holds ${w.currency}, not ${currency}`, {
      walletId,
    });
  }
  if (w.status !== 'active') return new DomainError('WALLET_NOT_ACTIVE', `wallet ${walletId} is ${w.status}`, { walletId });
  const available = BigInt(w.balance) - BigInt(w.held);
  if (available < amount) {
    return new DomainError('INSUFFICIENT_FUNDS', `wallet ${walletId} has insufficient available funds`, { walletId });
  }
  return new DomainError('INVALID_STATE', `wallet ${walletId} refused the change`, { walletId });
}
