import type { Sql } from '../db/sql';
import { explainWalletRefusal } from './wallets';

/** transfer: a same-shard transfer's one entry; transfer_debit/_credit/_return: a cross-shard transfer's legs. */
export type EntryKind = 'deposit' | 'transfer' | 'reversal' | 'transfer_debit' | 'transfer_credit' | 'transfer_return';

/**
 * How a line moves a wallet:
 * - credit: balance += amount (the wallet must be active)
 * - debit: balance -= amount, only from available funds (balance - held)
 * - capture: balance -= amount and held -= amount, consuming a hold placed earlier
 * - return: balance += amount whatever the wallet's status: money of the wallet's own coming back
 *   (a cross-shard transfer the receiving shard refused), which a frozen or closed wallet must take too
 * Non-customer accounts (a shard's system account `external:<CCY>`, its clearing account) take any
 * line: they are the outside world's side, and money in transit between shards.
 */
export type LineMode = 'credit' | 'debit' | 'capture' | 'return';

/** Whether a line adds to the wallet's balance. */
const isIncoming = (mode: LineMode): boolean => mode === 'credit' || mode === 'return';

export interface PostingLine {
  walletId: string;
  mode: LineMode;
  /** Always positive; the mode gives the sign. */
  amount: bigint;
}

export interface Posting {
  entryId: string;
  kind: EntryKind;
  /** The business event ('deposit:<id>', 'transfer:<id>'); a second posting of it is a no-op. */
  reference: string;
  transferId?: string;
  currency: string;
  description?: string | null;
  lines: PostingLine[];
}

export interface PostingResult {
  entryId: string;
  /** false when the reference had already been posted: nothing was written this time */
  created: boolean;
}

const UPDATE_BY_MODE: Record<LineMode, string> = {
  credit: `UPDATE wallets SET balance = balance + $3, updated_at = now()
           WHERE id = $1 AND currency = $2 AND (kind <> 'customer' OR status = 'active')
           RETURNING balance`,
  debit: `UPDATE wallets SET balance = balance - $3, updated_at = now()
          WHERE id = $1 AND currency = $2 AND (kind <> 'customer' OR (status = 'active' AND balance - held >= $3))
          RETURNING balance`,
  capture: `UPDATE wallets SET balance = balance - $3, held = held - $3, updated_at = now()
            WHERE id = $1 AND currency = $2 AND status = 'active' AND held >= $3
            RETURNING balance`,
  return: `UPDATE wallets SET balance = balance + $3, updated_at = now()
           WHERE id = $1 AND currency = $2
           RETURNING balance`,
};

/**
 * Posts one balanced journal entry inside the caller's transaction: one conditional UPDATE per
 * wallet (in id order, so two postings never deadlock) and one append-only line each, recording
 * the balance after it. Any refusal throws a DomainError and the caller's transaction rolls back,
 * so either the whole entry lands or nothing does.
 */
export async function postEntry(sql: Sql, posting: Posting): Promise<PostingResult> {
  const sum = posting.lines.reduce((acc, l) => acc + (isIncoming(l.mode) ? l.amount : -l.amount), 0n);
  if (posting.lines.length < 2 || sum !== 0n || posting.lines.some((l) => l.amount <= 0n)) {
    throw new RangeError(`posting ${posting.reference} is not a balanced set of positive lines`);
  }
  const inserted = await sql(
    `INSERT INTO journal_entries (id, kind, reference, transfer_id, currency, description)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING id`,
    [
      posting.entryId,
      posting.kind,
      posting.reference,
      posting.transferId ?? null,
      posting.currency,
      posting.description ?? null,
    ],
  );
  if (inserted.rowCount === 0) {
    // Any unique conflict (id or reference) means a twin posted first; ids derive from the reference,
    // so both name the same event. (A targeted ON CONFLICT would still raise on the other index.)
    const { rows } = await sql<{ id: string }>(`SELECT id FROM journal_entries WHERE reference = $1`, [
      posting.reference,
    ]);
    if (!rows[0]) throw new Error(`journal entry ${posting.entryId} conflicts with another event's entry`);
    return { entryId: rows[0].id, created: false };
  }
  const ordered = [...posting.lines].sort((a, b) => (a.walletId < b.walletId ? -1 : a.walletId > b.walletId ? 1 : 0));
  const values: string[] = [];
  const params: unknown[] = [posting.entryId, posting.currency];
  for (const line of ordered) {
    const updated = await sql<{ balance: string }>(UPDATE_BY_MODE[line.mode], [
      line.walletId,
      posting.currency,
      line.amount.toString(),
    ]);
    if (updated.rowCount === 0) throw await explainWalletRefusal(sql, line.walletId, posting.currency, line.amount);
    const signed = isIncoming(line.mode) ? line.amount : -line.amount;
    const n = params.length;
    values.push(`($1, $${n + 1}, $${n + 2}, $2, $${n + 3})`);
    params.push(line.walletId, signed.toString(), updated.rows[0]!.balance);
  }
  // the lines in one statement, in wallet-id order (their ids keep that order)
  await sql(
    `INSERT INTO ledger_lines (entry_id, wallet_id, amount, currency, balance_after) VALUES ${values.join(', ')}`,
    params,
  );
  return { entryId: posting.entryId, created: true };
}
