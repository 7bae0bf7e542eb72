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
 * A cursor of a list kept in one database (a wallet's ledger lines, the reconciliation runs) is the
 * decimal int8 key of the last row seen (a line id, a run seq). Callers treat it as opaque; the OpenAPI
 * document gives this exact pattern, so that every cursor the document admits is one the API accepts.
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

// ------------------------------------------------------------------ lists merged across databases

/**
 * The lists that span every wallet database (transfers, wallets, the audit trail) are ordered by
 * creation time, newest first: per-database identity values (seq, row ids) are not comparable across
 * databases. The time is carried exactly, in microseconds since the epoch, read from Postgres as an
 * integer and given back as timestamp text (never through a JS Date, which would drop the microseconds
 * and so skip or repeat rows at a page boundary).
 *
 * A row keyed by a UUID (transfers, wallets) breaks ties on its id; an audit row, whose bigint id is
 * unique only within its database, on (database index, id). Either way the cursor is
 * `<µs>-<32 hex digits>`: the UUID's, or the database index (8 digits), 8 zeros and the row id (16).
 * Opaque to callers, and every string of the pattern is a cursor the API accepts (a key past every row
 * gives the whole list, one before every row an empty page).
 */
export const MERGED_CURSOR_PATTERN = '^[0-9]{1,16}-[0-9a-f]{32}$';
const MERGED_CURSOR_RE = new RegExp(MERGED_CURSOR_PATTERN);

/** Where a page of a merged list starts after: the last row's exact creation time and its tie-breaker. */
export interface IdKey {
  /** microseconds since the epoch, decimal */
  createdUs: string;
  /** the row's UUID, lower case */
  id: string;
}
export interface RowKey {
  createdUs: string;
  /** index of the row's database in the ShardSet's `databases` */
  database: number;
  /** the row's bigint id in that database, decimal */
  id: string;
}

/** `created_at` as the exact integer a merged list's key carries (numeric in PG ≥ 14: exact). */
export const createdUsOf = (column: string) => `(extract(epoch FROM ${column}) * 1000000)::int8::text`;

/** Microseconds since the epoch as RFC 3339 text with all six fractional digits, for `$n::timestamptz`. */
export function timestampText(createdUs: string): string {
  const us = BigInt(createdUs);
  const seconds = us / 1_000_000n;
  const fraction = (us % 1_000_000n).toString().padStart(6, '0');
  // whole seconds only: a Date holds them exactly (16 digits of µs end in the year 2286)
  return new Date(Number(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, `.${fraction}Z`);
}

/** The two parts of a merged cursor, or null when it is not of the pattern. */
function splitCursor(cursor: string): { createdUs: string; hex: string } | null {
  if (!MERGED_CURSOR_RE.test(cursor)) return null;
  const [createdUs, hex] = cursor.split('-') as [string, string];
  return { createdUs: BigInt(createdUs).toString(), hex };
}

export function encodeIdCursor(key: IdKey): string {
  return `${key.createdUs}-${key.id.toLowerCase().replace(/-/g, '')}`;
}

export function decodeIdCursor(cursor: string): IdKey | null {
  const parts = splitCursor(cursor);
  if (!parts) return null;
  const h = parts.hex;
  return {
    createdUs: parts.createdUs,
    id: `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`,
  };
}

export function encodeRowCursor(key: RowKey): string {
  const hex = (n: bigint, digits: number) => n.toString(16).padStart(digits, '0');
  return `${key.createdUs}-${hex(BigInt(key.database), 8)}00000000${hex(BigInt(key.id), 16)}`;
}

/** A row id beyond int8 (any 16 hex digits are accepted) is past every row: clamped, as decodeCursor does. */
export function decodeRowCursor(cursor: string): RowKey | null {
  const parts = splitCursor(cursor);
  if (!parts) return null;
  const id = BigInt(`0x${parts.hex.slice(16)}`);
  return {
    createdUs: parts.createdUs,
    database: Number.parseInt(parts.hex.slice(0, 8), 16),
    id: (id > INT8_MAX ? INT8_MAX : id).toString(),
  };
}

const compareBig = (a: string, b: string) => {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** Newest first: negative when `a` comes before `b`. UUIDs compare as Postgres does (bytes = lower-case hex). */
export function compareIdKeysDesc(a: IdKey, b: IdKey): number {
  return compareBig(b.createdUs, a.createdUs) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

export function compareRowKeysDesc(a: RowKey, b: RowKey): number {
  return compareBig(b.createdUs, a.createdUs) || b.database - a.database || compareBig(b.id, a.id);
}

/**
 * One page of a list merged from several databases: each database was asked for `limit + 1` rows after
 * the same key, in the same order; the page is the first `limit` of them all, and there is a next page
 * when more rows than that came back.
 */
export function mergePages<T>(
  parts: readonly (readonly T[])[],
  compare: (a: T, b: T) => number,
  limit: number,
): { items: T[]; more: boolean } {
  const all = parts.flat().sort(compare);
  return { items: all.slice(0, limit), more: all.length > limit };
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
