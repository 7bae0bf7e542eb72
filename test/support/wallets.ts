import { randomUUID } from 'node:crypto';
import type { ShardSet } from '../../db/shards';
import type { Store } from '../../db/store';
import { deposit } from '../../domain/deposits';
import { createWallet, getWallet } from '../../domain/wallets';
import { query } from './sql';

export function isShardSet(db: Store | ShardSet): db is ShardSet {
  return 'forWallet' in db;
}

/** The Store holding a wallet's rows: the store itself, or the wallet's shard database of a ShardSet. */
export function walletStore(db: Store | ShardSet, walletId: string): Store {
  return isShardSet(db) ? db.forWallet(walletId).store : db;
}

/**
 * A customer wallet of this test's own, funded through a real deposit when `balance` is given. On a
 * ShardSet it is created on its owner's shard database (as the API does); on a Store, in that database.
 */
export async function makeWallet(
  db: Store | ShardSet,
  opts: { currency?: string; balance?: bigint; ownerId?: string } = {},
) {
  const ownerId = opts.ownerId ?? `owner-${randomUUID()}`;
  const ds = isShardSet(db) ? db.forOwner(ownerId).store : db;
  const wallet = await createWallet(ds, { ownerId, currency: opts.currency ?? 'EUR' });
  if (opts.balance && opts.balance > 0n) {
    await deposit(ds, {
      depositId: randomUUID(),
      walletId: wallet.id,
      amount: opts.balance,
      reference: 'test funding',
    });
  }
  return getWallet(ds, wallet.id);
}

/** Journal entries of a transfer, on every database of a ShardSet (a cross-shard transfer has one on each side). */
export async function journalEntriesOf(db: Store | ShardSet, transferId: string): Promise<number> {
  let n = 0;
  for (const ds of isShardSet(db) ? db.databases.map((d) => d.store) : [db]) {
    const rows: Array<{ n: number }> = await query(
      ds,
      `SELECT count(*)::int AS n FROM journal_entries WHERE transfer_id = $1`,
      [transferId],
    );
    n += rows[0]!.n;
  }
  return n;
}

/** Polls `probe` until it returns a value (not undefined) or the time is up. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
