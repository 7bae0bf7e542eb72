import type { Store } from '../../db/store';
import { storeDiscrepancies } from './discrepancy';
import { pageResult, type Discrepancy, type PageResult } from './results';
import { stringTotals } from './ledger-checks';

interface TransferBookRow {
  id: string;
  seq: string;
  status: string;
  currency: string;
  booking_status: 'booked' | 'reversed' | null;
  booked_amount: string | null;
  booking_lines: number;
  posted: string;
  accounting_sums: Record<string, string>;
}

/**
 * The accounting book against the ledger, over transfers after `afterSeq` (keyset on seq): a COMPLETED
 * transfer is booked once (booking 'booked' with its lines), a REJECTED or CANCELLED one was reversed or
 * never booked. Running sums for the workflow to stitch (keys `<sum>:<currency>`): `posted` (ledger,
 * completed transfers), `booked` (accounting, the same transfers) — equal per currency at the end — and
 * `accounting` (every accounting line) — 0 per currency at the end.
 */
export async function checkBookingPage(
  store: Store,
  runId: string,
  afterSeq: string | null,
  limit: number,
): Promise<PageResult> {
  const { rows } = await store.sql<TransferBookRow>(
    `SELECT t.id::text AS id, t.seq::text AS seq, t.status, t.currency, b.status AS booking_status,
            b.amount::text AS booked_amount,
            (SELECT count(*)::int FROM accounting_lines a WHERE a.transfer_id = t.id AND a.kind = 'booking') AS booking_lines,
            (SELECT coalesce(sum(l.amount) FILTER (WHERE l.amount > 0), 0) FROM journal_entries e
               JOIN ledger_lines l ON l.entry_id = e.id WHERE e.transfer_id = t.id AND e.kind = 'transfer')::text AS posted,
            coalesce((SELECT jsonb_object_agg(s.currency, s.total::text)
                        FROM (SELECT a.currency, sum(a.amount) AS total FROM accounting_lines a
                               WHERE a.transfer_id = t.id GROUP BY a.currency) s), '{}'::jsonb) AS accounting_sums
       FROM transfers t LEFT JOIN accounting_bookings b ON b.transfer_id = t.id
      WHERE $1::bigint IS NULL OR t.seq > $1::bigint
      ORDER BY t.seq
      LIMIT $2`,
    [afterSeq, limit],
  );
  const found: Discrepancy[] = [];
  const totals: Record<string, bigint> = {};
  const add = (key: string, amount: string | null) => {
    if (amount !== null) totals[key] = (totals[key] ?? 0n) + BigInt(amount);
  };
  for (const t of rows) {
    const ids = { transferId: t.id };
    if (t.status === 'COMPLETED') {
      if (t.booking_status !== 'booked' || t.booking_lines === 0) {
        found.push({
          kind: 'booking_missing',
          subject: t.id,
          ids,
          detail: `COMPLETED but booking ${t.booking_status ?? 'absent'} with ${t.booking_lines} booking lines`,
        });
      }
      add(`posted:${t.currency}`, t.posted);
      add(`booked:${t.currency}`, t.booking_status === 'booked' ? t.booked_amount : '0');
    } else if ((t.status === 'CANCELLED' || t.status === 'REJECTED') && t.booking_status === 'booked') {
      found.push({
        kind: 'booking_not_reversed',
        subject: t.id,
        ids,
        detail: `${t.status} but its booking is still booked`,
      });
    }
    for (const [currency, sum] of Object.entries(t.accounting_sums)) add(`accounting:${currency}`, sum);
  }
  await storeDiscrepancies(store, runId, found);
  return pageResult(
    found,
    rows.length,
    rows.length === limit ? rows[rows.length - 1]!.seq : null,
    stringTotals(totals),
  );
}

/** The end-of-run checks over the stitched sums: Σ lines = 0, Σ accounting = 0, posted = booked, per currency. */
export function checkTotals(totals: Record<string, string>): Discrepancy[] {
  const found: Discrepancy[] = [];
  const currencies = new Set(Object.keys(totals).map((k) => k.split(':')[1]!));
  const get = (key: string) => BigInt(totals[key] ?? '0');
  for (const c of [...currencies].sort()) {
    if (get(`lines:${c}`) !== 0n) {
      found.push({
        kind: 'ledger_currency_unbalanced',
        subject: c,
        ids: { currency: c },
        detail: `ledger lines sum to ${get(`lines:${c}`)}`,
      });
    }
    if (get(`accounting:${c}`) !== 0n) {
      found.push({
        kind: 'accounting_currency_unbalanced',
        subject: c,
        ids: { currency: c },
        detail: `accounting lines sum to ${get(`accounting:${c}`)}`,
      });
    }
    if (get(`posted:${c}`) !== get(`booked:${c}`)) {
      found.push({
        kind: 'accounting_ledger_totals_mismatch',
        subject: c,
        ids: { currency: c },
        detail: `completed transfers: ledger ${get(`posted:${c}`)} <> accounting book ${get(`booked:${c}`)}`,
      });
    }
  }
  return found;
}
