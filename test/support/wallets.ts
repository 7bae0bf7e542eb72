import { randomUUID } from 'node:crypto';
import type { Store } from '../../db/store';
import { deposit } from '../../domain/deposits';
import { createWallet, getWallet } from '../../domain/wallets';
import { query } from './sql';

/** A customer wallet of this test's own, funded through a real deposit when `balance` is given. */
export async function makeWallet(ds: Store, opts: { currency?: string; balance?: bigint; ownerId?: string } = {}) {
  const wallet = await createWallet(ds, {
    ownerId: opts.ownerId ?? `owner-${randomUUID()}`,
    currency: opts.currency ?? 'EUR',
  });
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

export async function journalEntriesOf(ds: Store, transferId: string): Promise<number> {
  const rows: Array<{ n: number }> = await query(
    ds,
    `SELECT count(*)::int AS n FROM journal_entries WHERE transfer_id = $1`,
    [transferId],
  );
  return rows[0]!.n;
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
