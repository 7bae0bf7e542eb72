import type { Store } from '../../db/store';
import type { Sql } from '../../db/sql';
import { DomainError } from '../errors';
import type { AccountingPort } from './accounting-port';
import type { TransferDetails } from './transfer';

/** General-ledger account of the liability the service owes a wallet's owner. */
export function customerLiabilityAccount(walletId: string): string {
  return `liabilities:customer:${walletId}`;
}

/**
 * The built-in accounting book: a general-ledger journal on Postgres (accounting_bookings and
 * append-only accounting_lines; positive = debit) plus the per-wallet daily outgoing limit.
 */
export class PostgresAccountingBook implements AccountingPort {
  constructor(
    private readonly store: Store,
    private readonly dailyOutgoingLimit: bigint,
  ) {}

  async book(t: TransferDetails): Promise<void> {
    await this.store.transaction(async (sql) => {
      // serialises bookings of one sender so two concurrent transfers cannot both fit under the limit
      await sql(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`accounting:${t.fromWalletId}`]);
      const inserted = await sql(
        `INSERT INTO accounting_bookings (transfer_id, wallet_id, amount, currency, booking_date, status)
         VALUES ($1, $2, $3, $4, (now() AT TIME ZONE 'UTC')::date, 'booked') ON CONFLICT (transfer_id) DO NOTHING`,
        [t.transferId, t.fromWalletId, t.amount.toString(), t.currency],
      );
      if (inserted.rowCount === 0) return; // booked before, or reversed first (tombstone)
      const { rows } = await sql<{ total: string }>(
        `SELECT coalesce(sum(amount), 0)::text AS total FROM accounting_bookings
          WHERE wallet_id = $1 AND currency = $2 AND status = 'booked' AND booking_date = (now() AT TIME ZONE 'UTC')::date`,
        [t.fromWalletId, t.currency],
      );
      if (BigInt(rows[0]!.total) > this.dailyOutgoingLimit) {
        throw new DomainError('LIMIT_EXCEEDED', `daily outgoing limit of ${this.dailyOutgoingLimit} exceeded`, {
          walletId: t.fromWalletId,
        });
      }
      await insertLines(sql, t, 'booking', 1n);
    });
  }

  async reverse(t: TransferDetails): Promise<void> {
    await this.store.transaction(async (sql) => {
      const tomb = await sql(
        `INSERT INTO accounting_bookings (transfer_id, wallet_id, amount, currency, booking_date, status)
         VALUES ($1, $2, $3, $4, (now() AT TIME ZONE 'UTC')::date, 'reversed') ON CONFLICT (transfer_id) DO NOTHING`,
        [t.transferId, t.fromWalletId, t.amount.toString(), t.currency],
      );
      if (tomb.rowCount === 1) return;
      const reversed = await sql(
        `UPDATE accounting_bookings SET status = 'reversed', updated_at = now() WHERE transfer_id = $1 AND status = 'booked'`,
        [t.transferId],
      );
      if (reversed.rowCount === 1) await insertLines(sql, t, 'reversal', -1n);
    });
  }
}

/** Sender's liability decreases (debit), receiver's increases (credit): the lines sum to zero. */
async function insertLines(sql: Sql, t: TransferDetails, kind: 'booking' | 'reversal', sign: bigint) {
  await sql(
    `INSERT INTO accounting_lines (transfer_id, kind, account, currency, amount) VALUES ($1, $2, $3, $5, $6), ($1, $2, $4, $5, $7)`,
    [
      t.transferId,
      kind,
      customerLiabilityAccount(t.fromWalletId),
      customerLiabilityAccount(t.toWalletId),
      t.currency,
      (sign * t.amount).toString(),
      (-sign * t.amount).toString(),
    ],
  );
}
