import type { Sql } from '../../db/sql';
import type { Store } from '../../db/store';
import { DomainError } from '../errors';
import { isCrossShard } from '../shards';
import { explainWalletRefusal } from '../wallets';
import { applyStateChange } from './records';
import type { TransferDetails } from './transfer';

export type ReserveOutcome = 'held' | 'already-held' | 'tombstoned';

/**
 * Step 1: place a hold on the sender (held += amount) if the funds are available.
 * Idempotent by transfer id: the hold row is inserted first, so a repeated reserve finds it and
 * does nothing; if the release ran first (tombstone), a late reserve does nothing either.
 */
export async function reserveFunds(store: Store, t: TransferDetails): Promise<ReserveOutcome> {
  return store.transaction(async (sql) => {
    // A cross-shard receiver is not in this book (domain/shards.ts): the API checked it on its own shard,
    // and the credit decides there for good (domain/transfers/cross-shard.ts).
    if (!isCrossShard(t.fromWalletId, t.toWalletId)) {
      const { rows: receiver } = await sql<{ currency: string }>(`SELECT currency FROM wallets WHERE id = $1`, [
        t.toWalletId,
      ]);
      if (!receiver[0]) throw new DomainError('WALLET_NOT_FOUND', `wallet ${t.toWalletId} not found`);
      if (receiver[0].currency !== t.currency) {
        throw new DomainError('CURRENCY_MISMATCH', `receiving wallet holds ${receiver[0].currency}, not ${t.currency}`);
      }
    }
    const inserted = await sql(
      `INSERT INTO holds (transfer_id, wallet_id, amount, status) VALUES ($1, $2, $3, 'active')
       ON CONFLICT (transfer_id) DO NOTHING`,
      [t.transferId, t.fromWalletId, t.amount.toString()],
    );
    const reserved = () =>
      applyStateChange(sql, {
        transferId: t.transferId,
        status: 'RESERVED',
        expectedStatus: 'PENDING',
        step: 'reserve',
        stepState: 'done',
        runId: t.runId,
      });
    if (inserted.rowCount === 0) {
      const { rows } = await sql<{ status: string }>(`SELECT status FROM holds WHERE transfer_id = $1`, [t.transferId]);
      if (rows[0]?.status === 'released') return 'tombstoned';
      await reserved();
      return 'already-held';
    }
    const held = await sql(
      `UPDATE wallets SET held = held + $2, updated_at = now()
        WHERE id = $1 AND kind = 'customer' AND currency = $3 AND status = 'active' AND balance - held >= $2`,
      [t.fromWalletId, t.amount.toString(), t.currency],
    );
    if (held.rowCount === 0) throw await explainWalletRefusal(sql, t.fromWalletId, t.currency, t.amount);
    await reserved();
    return 'held';
  });
}

/**
 * Compensation of step 1: release the hold. Idempotent; if the reserve never landed it leaves a
 * 'released' tombstone so that a late retry of the reserve cannot hold the money afterwards, and a
 * released hold can no longer be captured by a late ledger attempt. A hold that is already captured
 * is the point of no return: the release refuses (HOLD_CAPTURED) rather than report success, and the
 * saga goes forward.
 */
export async function releaseFunds(store: Store, t: TransferDetails): Promise<'released' | 'tombstone' | 'noop'> {
  return store.transaction(async (sql) => {
    const tomb = await sql(
      `INSERT INTO holds (transfer_id, wallet_id, amount, status) VALUES ($1, $2, $3, 'released')
       ON CONFLICT (transfer_id) DO NOTHING`,
      [t.transferId, t.fromWalletId, t.amount.toString()],
    );
    if (tomb.rowCount === 1) return 'tombstone';
    const released = await sql<{ wallet_id: string; amount: string }>(
      `UPDATE holds SET status = 'released', updated_at = now() WHERE transfer_id = $1 AND status = 'active'
       RETURNING wallet_id, amount`,
      [t.transferId],
    );
    const hold = released.rows[0];
    if (!hold) {
      const { rows } = await sql<{ status: string }>(`SELECT status FROM holds WHERE transfer_id = $1`, [t.transferId]);
      if (rows[0]?.status === 'captured') {
        throw new DomainError(
          'HOLD_CAPTURED',
          `the hold of transfer ${t.transferId} was captured: the ledger posted it`,
        );
      }
      return 'noop';
    }
    await sql(`UPDATE wallets SET held = held - $2, updated_at = now() WHERE id = $1`, [hold.wallet_id, hold.amount]);
    await applyStateChange(sql, { transferId: t.transferId, step: 'reserve', stepState: 'compensated' });
    return 'released';
  });
}

/**
 * Captures the transfer's active hold, inside the transaction that posts the money it held (the ledger
 * step, or a cross-shard debit). `already-captured`: an earlier attempt posted it. No hold, or one
 * released, is INVALID_STATE: nothing may post without the money held.
 */
export async function captureHold(sql: Sql, transferId: string): Promise<'captured' | 'already-captured'> {
  const captured = await sql(
    `UPDATE holds SET status = 'captured', updated_at = now() WHERE transfer_id = $1 AND status = 'active'`,
    [transferId],
  );
  if (captured.rowCount !== 0) return 'captured';
  const { rows } = await sql<{ status: string }>(`SELECT status FROM holds WHERE transfer_id = $1`, [transferId]);
  if (rows[0]?.status === 'captured') return 'already-captured';
  throw new DomainError('INVALID_STATE', `transfer ${transferId} has no active hold to capture`);
}
