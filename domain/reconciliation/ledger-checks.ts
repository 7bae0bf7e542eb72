import type { Store } from '../../db/store';
import { storeDiscrepancies } from './discrepancy';
import { pageResult, type Discrepancy, type PageResult } from './results';

/**
 * The ledger invariants (domain/invariants.ts) in bounded keyset pages, so a run scales with the data.
 * Each page is one statement: one snapshot, in which a wallet's balance, lines and holds (written in one
 * transaction by every posting) agree unless the books are wrong.
 */

interface WalletRow {
  id: string;
  balance: string;
  held: string;
  lines_total: string;
  last_after: string | null;
  holds_total: string;
}

/** Wallets after `after` (by id): balance = Σ lines, latest balance_after = balance, held = Σ active holds. */
export async function checkWalletPage(
  store: Store,
  runId: string,
  after: string | null,
  limit: number,
): Promise<PageResult> {
  const { rows } = await store.sql<WalletRow>(
    `SELECT w.id::text AS id, w.balance::text AS balance, w.held::text AS held,
            coalesce((SELECT sum(l.amount) FROM ledger_lines l WHERE l.wallet_id = w.id), 0)::text AS lines_total,
            (SELECT l.balance_after FROM ledger_lines l WHERE l.wallet_id = w.id ORDER BY l.id DESC LIMIT 1)::text AS last_after,
            coalesce((SELECT sum(h.amount) FROM holds h WHERE h.wallet_id = w.id AND h.status = 'active'), 0)::text AS holds_total
       FROM wallets w
      WHERE $1::uuid IS NULL OR w.id > $1::uuid
      ORDER BY w.id
      LIMIT $2`,
    [after, limit],
  );
  const found: Discrepancy[] = [];
  for (const w of rows) {
    const ids = { walletId: w.id };
    if (w.balance !== w.lines_total) {
      found.push({
        kind: 'wallet_balance_mismatch',
        subject: w.id,
        ids,
        detail: `balance ${w.balance} <> sum of lines ${w.lines_total}`,
      });
    }
    if (w.last_after !== null && w.last_after !== w.balance) {
      found.push({
        kind: 'wallet_balance_after_mismatch',
        subject: w.id,
        ids,
        detail: `balance ${w.balance} <> latest balance_after ${w.last_after}`,
      });
    }
    if (w.held !== w.holds_total) {
      found.push({
        kind: 'wallet_held_mismatch',
        subject: w.id,
        ids,
        detail: `held ${w.held} <> sum of active holds ${w.holds_total}`,
      });
    }
  }
  await storeDiscrepancies(store, runId, found);
  return pageResult(found, rows.length, rows.length === limit ? rows[rows.length - 1]!.id : null);
}

interface EntryRow {
  id: string;
  line_count: number;
  /** currency → Σ amount of this entry's lines in it */
  sums: Record<string, string>;
}

/**
 * Journal entries after `after` (by id): each has ≥ 2 lines balancing per currency. Returns the page's
 * per-currency Σ of lines; the workflow adds the pages up, and the total must be 0 per currency.
 */
export async function checkJournalEntryPage(
  store: Store,
  runId: string,
  after: string | null,
  limit: number,
): Promise<PageResult> {
  const { rows } = await store.sql<EntryRow>(
    `WITH page AS (SELECT e.id FROM journal_entries e WHERE $1::uuid IS NULL OR e.id > $1::uuid ORDER BY e.id LIMIT $2)
     SELECT p.id::text AS id,
            (SELECT count(*)::int FROM ledger_lines l WHERE l.entry_id = p.id) AS line_count,
            coalesce((SELECT jsonb_object_agg(s.currency, s.total::text)
                        FROM (SELECT l.currency, sum(l.amount) AS total FROM ledger_lines l
                               WHERE l.entry_id = p.id GROUP BY l.currency) s), '{}'::jsonb) AS sums
       FROM page p ORDER BY p.id`,
    [after, limit],
  );
  const found: Discrepancy[] = [];
  const totals: Record<string, bigint> = {};
  for (const e of rows) {
    const unbalanced = Object.entries(e.sums).filter(([, total]) => total !== '0');
    if (e.line_count < 2 || unbalanced.length > 0) {
      found.push({
        kind: 'journal_entry_unbalanced',
        subject: e.id,
        ids: { entryId: e.id },
        detail: `${e.line_count} lines; sums ${JSON.stringify(e.sums)}`,
      });
    }
    for (const [currency, total] of Object.entries(e.sums)) totals[currency] = (totals[currency] ?? 0n) + BigInt(total);
  }
  await storeDiscrepancies(store, runId, found);
  return pageResult(found, rows.length, rows.length === limit ? rows[rows.length - 1]!.id : null, stringTotals(totals));
}

export function stringTotals(totals: Record<string, bigint>): Record<string, string> {
  return Object.fromEntries(Object.entries(totals).map(([k, v]) => [k, v.toString()]));
}
