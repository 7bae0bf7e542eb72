import type { DataSource } from 'typeorm';
import { poolSql } from '../db/sql';

export interface LedgerLineView {
  id: string;
  entryId: string;
  kind: string;
  transferId: string | null;
  description: string | null;
  amount: bigint;
  currency: string;
  balanceAfter: bigint;
  createdAt: Date;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Cursors are opaque to callers; inside they are the last line id seen. */
export function encodeCursor(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64url');
}

const INT8_MAX = 9223372036854775807n;

/**
 * Every cursor the API issues is the positive int8 key of the last row seen (a line id, an audit
 * row id, a transfer seq). Returns that key, or null for anything this API could not have issued.
 */
export function decodeCursor(cursor: string): string | null {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  return /^[1-9][0-9]{0,18}$/.test(decoded) && BigInt(decoded) <= INT8_MAX ? decoded : null;
}

interface LineRow {
  id: string;
  entry_id: string;
  kind: string;
  transfer_id: string | null;
  description: string | null;
  amount: string;
  currency: string;
  balance_after: string;
  created_at: Date;
}

/** A wallet's ledger lines, newest first, keyset-paginated on the line id (index wallet_id, id DESC). */
export async function listWalletLines(
  ds: DataSource,
  walletId: string,
  opts: { limit: number; afterId: string | null },
): Promise<Page<LedgerLineView>> {
  const { rows } = await poolSql(ds)<LineRow>(
    `SELECT l.id::text AS id, l.entry_id, e.kind, e.transfer_id, e.description, l.amount, l.currency,
            l.balance_after, l.created_at
       FROM ledger_lines l JOIN journal_entries e ON e.id = l.entry_id
      WHERE l.wallet_id = $1 AND ($2::bigint IS NULL OR l.id < $2::bigint)
      ORDER BY l.id DESC
      LIMIT $3`,
    [walletId, opts.afterId, opts.limit + 1],
  );
  const page = rows.slice(0, opts.limit).map((r) => ({
    id: r.id,
    entryId: r.entry_id,
    kind: r.kind,
    transferId: r.transfer_id,
    description: r.description,
    amount: BigInt(r.amount),
    currency: r.currency,
    balanceAfter: BigInt(r.balance_after),
    createdAt: r.created_at,
  }));
  const last = page[page.length - 1];
  return { items: page, nextCursor: rows.length > opts.limit && last ? encodeCursor(last.id) : null };
}
