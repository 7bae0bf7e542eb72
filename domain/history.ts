import type { Store } from '../db/store';

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

/**
 * A cursor is the decimal int8 key of the last row seen (a line id, an audit row id, a transfer seq).
 * Callers treat it as opaque; the OpenAPI document gives this exact pattern, so that every cursor the
 * document admits is one the API accepts.
 */
export const CURSOR_PATTERN = '^[1-9][0-9]{0,18}$';
const CURSOR_RE = new RegExp(CURSOR_PATTERN);
const INT8_MAX = 9223372036854775807n;

export function encodeCursor(key: string | bigint): string {
  return key.toString();
}

/**
 * The key a page starts after, or null when `cursor` is not of the pattern. Nineteen digits can exceed
 * int8: such a key is past every row, so it is clamped to int8's maximum (an empty page going up, the
 * whole list going down) rather than refused.
 */
export function decodeCursor(cursor: string): string | null {
  if (!CURSOR_RE.test(cursor)) return null;
  return BigInt(cursor) > INT8_MAX ? INT8_MAX.toString() : cursor;
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
  store: Store,
  walletId: string,
  opts: { limit: number; afterId: string | null },
): Promise<Page<LedgerLineView>> {
  const { rows } = await store.sql<LineRow>(
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
