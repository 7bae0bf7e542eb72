import type { ShardSet } from '../../db/shards';
import { CROSS_SHARD_STUCK_SECONDS, checkCrossShardTransfers, type SenderSideTransfer } from './cross-shard';
import { addTotal, type DatabasePage, type PagedDatabase } from './page';
import type { Discrepancy } from './results';

interface TransferRow extends SenderSideTransfer {
  seq: string;
  /** Σ of the positive lines of its same-shard entry or cross-shard debit: the money it moved */
  posted: string;
}

interface BookingRow {
  id: string;
  booking_status: 'booked' | 'reversed' | null;
  booked_amount: string | null;
  booking_lines: number;
  accounting_sums: Record<string, string>;
}

/**
 * The transfers of one wallet shard database after `afterSeq` (keyset on seq), against the accounting
 * book (its own database) and, for a transfer between logical shards, against its legs on both sides
 * (domain/reconciliation/cross-shard.ts). A COMPLETED transfer is booked once (booking 'booked' with
 * its lines); a REJECTED, CANCELLED or RETURNED one was reversed or never booked. Running sums for the
 * workflow to stitch (keys `<sum>:<currency>:<database>`): `posted` (ledger, completed transfers),
 * `booked` (accounting book, the same transfers) — equal per currency and database at the end — and
 * `accounting` (the book's lines of these transfers) — 0 per currency at the end. The transfers are
 * read first and the book after: a transfer is COMPLETED only after its booking committed, and
 * CANCELLED or RETURNED only after its reversal did.
 */
export async function checkBookingPage(
  shards: ShardSet,
  { database }: PagedDatabase,
  afterSeq: string | null,
  limit: number,
): Promise<DatabasePage> {
  const { rows } = await database.store.sql<TransferRow>(
    `SELECT t.id::text AS id, t.seq::text AS seq, t.status, t.amount::text AS amount, t.currency,
            t.from_wallet_id::text AS from_wallet_id, t.to_wallet_id::text AS to_wallet_id,
            logical_shard(t.from_wallet_id) AS from_shard, logical_shard(t.to_wallet_id) AS to_shard,
            t.updated_at < now() - make_interval(secs => $3) AS quiet,
            (SELECT coalesce(sum(l.amount) FILTER (WHERE l.amount > 0), 0) FROM journal_entries e
               JOIN ledger_lines l ON l.entry_id = e.id
              WHERE e.transfer_id = t.id AND e.kind IN ('transfer', 'transfer_debit'))::text AS posted,
            EXISTS (SELECT 1 FROM journal_entries e WHERE e.transfer_id = t.id AND e.kind = 'transfer_debit') AS debited,
            EXISTS (SELECT 1 FROM journal_entries e WHERE e.transfer_id = t.id AND e.kind = 'transfer_return') AS returned
       FROM transfers t
      WHERE $1::bigint IS NULL OR t.seq > $1::bigint
      ORDER BY t.seq
      LIMIT $2`,
    [afterSeq, limit, CROSS_SHARD_STUCK_SECONDS],
  );
  const accounting = shards.accounting;
  if (rows.length === 0) return { found: [], checked: 0, last: null };
  const { rows: bookings } = await accounting.store.sql<BookingRow>(
    `SELECT x.id::text AS id, b.status AS booking_status, b.amount::text AS booked_amount,
            (SELECT count(*)::int FROM accounting_lines a WHERE a.transfer_id = x.id AND a.kind = 'booking') AS booking_lines,
            coalesce((SELECT jsonb_object_agg(s.currency, s.total::text)
                        FROM (SELECT a.currency, sum(a.amount) AS total FROM accounting_lines a
                               WHERE a.transfer_id = x.id GROUP BY a.currency) s), '{}'::jsonb) AS accounting_sums
       FROM unnest($1::uuid[]) AS x(id) LEFT JOIN accounting_bookings b ON b.transfer_id = x.id`,
    [rows.map((t) => t.id)],
  );
  const bookingOf = new Map(bookings.map((b) => [b.id, b]));
  const found: Discrepancy[] = [];
  const totals: Record<string, bigint> = {};
  for (const t of rows) {
    const b = bookingOf.get(t.id)!;
    const ids = { transferId: t.id, database: accounting.name, logicalShard: String(t.from_shard) };
    if (t.status === 'COMPLETED') {
      if (b.booking_status !== 'booked' || b.booking_lines === 0) {
        found.push({
          kind: 'booking_missing',
          subject: t.id,
          ids,
          detail: `COMPLETED but booking ${b.booking_status ?? 'absent'} with ${b.booking_lines} booking lines`,
        });
      }
      addTotal(totals, `posted:${t.currency}:${database.name}`, t.posted);
      addTotal(totals, `booked:${t.currency}:${database.name}`, b.booking_status === 'booked' ? b.booked_amount : '0');
    } else if (['CANCELLED', 'REJECTED', 'RETURNED'].includes(t.status) && b.booking_status === 'booked') {
      found.push({
        kind: 'booking_not_reversed',
        subject: t.id,
        ids,
        detail: `${t.status} but its booking is still booked`,
      });
    }
    for (const [currency, sum] of Object.entries(b.accounting_sums)) {
      addTotal(totals, `accounting:${currency}:${accounting.name}`, sum);
    }
  }
  const crossing = rows.filter((t) => t.from_shard !== t.to_shard);
  found.push(...(await checkCrossShardTransfers(shards, database, crossing)));
  return { found, checked: rows.length, last: rows.length === limit ? rows[rows.length - 1]!.seq : null, totals };
}

/** A stitched sum's key: `<sum>:<currency>:<database>`; a key without the database (a run from before shards) is db-0's. */
function parseTotalKey(key: string): { sum: string; currency: string; database: string } {
  const [sum = '', currency = '', database = 'db-0'] = key.split(':');
  return { sum, currency, database };
}

/**
 * The end-of-run checks over the stitched sums, per currency: on each wallet shard database Σ lines = 0
 * and, for its completed transfers, posted = booked; on the accounting database Σ accounting lines = 0;
 * across every database Σ clearing balances = Σ in transit (debited, neither credited nor returned, as
 * each clearing account's legs say): 0 at rest.
 */
export function checkTotals(totals: Record<string, string>): Discrepancy[] {
  const found: Discrepancy[] = [];
  const sums = new Map<string, bigint>();
  const places = new Set<string>();
  const currencies = new Set<string>();
  for (const [key, value] of Object.entries(totals)) {
    const { sum, currency, database } = parseTotalKey(key);
    sums.set(`${sum}:${currency}:${database}`, (sums.get(`${sum}:${currency}:${database}`) ?? 0n) + BigInt(value));
    places.add(`${currency}:${database}`);
    currencies.add(currency);
  }
  const get = (sum: string, currency: string, database: string) => sums.get(`${sum}:${currency}:${database}`) ?? 0n;
  for (const place of [...places].sort()) {
    const [c, db] = place.split(':') as [string, string];
    const at = { subject: `${c}@${db}`, ids: { currency: c, database: db } };
    if (get('lines', c, db) !== 0n) {
      found.push({ kind: 'ledger_currency_unbalanced', ...at, detail: `ledger lines sum to ${get('lines', c, db)}` });
    }
    if (get('accounting', c, db) !== 0n) {
      found.push({
        kind: 'accounting_currency_unbalanced',
        ...at,
        detail: `accounting lines sum to ${get('accounting', c, db)}`,
      });
    }
    if (get('posted', c, db) !== get('booked', c, db)) {
      found.push({
        kind: 'accounting_ledger_totals_mismatch',
        ...at,
        detail: `completed transfers on ${db}: ledger ${get('posted', c, db)} <> accounting book ${get('booked', c, db)}`,
      });
    }
  }
  for (const c of [...currencies].sort()) {
    const dbs = [...places].filter((p) => p.startsWith(`${c}:`)).map((p) => p.slice(c.length + 1));
    const clearing = dbs.reduce((a, db) => a + get('clearing', c, db), 0n);
    const transit = dbs.reduce((a, db) => a + get('transit', c, db), 0n);
    if (clearing === transit) continue;
    const off = dbs.filter((db) => get('clearing', c, db) !== get('transit', c, db)).sort();
    found.push({
      kind: 'clearing_transit_mismatch',
      subject: c,
      ids: { currency: c, database: off.join(',') },
      detail:
        `clearing accounts sum to ${clearing}, in transit ${transit}; ` +
        off.map((db) => `${db}: clearing ${get('clearing', c, db)}, transit ${get('transit', c, db)}`).join('; '),
    });
  }
  return found;
}
