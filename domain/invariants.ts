import type { Sql } from '../db/sql';

/**
 * The ledger's invariants, each one SQL statement (one snapshot, so they hold even while other
 * transactions commit). Returns human-readable violations; an empty list means the books are sound.
 * Used by the test suite after its writes and by the reconciliation job.
 */
const CHECKS: Array<{ name: string; sql: string }> = [
  {
    name: 'wallet balance equals the sum of its ledger lines',
    sql: `SELECT w.id::text AS subject, w.balance::text || ' <> ' || coalesce(s.total, 0)::text AS detail
            FROM wallets w LEFT JOIN (SELECT wallet_id, sum(amount) AS total FROM ledger_lines GROUP BY wallet_id) s
              ON s.wallet_id = w.id
           WHERE w.balance <> coalesce(s.total, 0)`,
  },
  {
    name: 'the latest balance_after of a wallet equals its balance',
    sql: `SELECT w.id::text AS subject, w.balance::text || ' <> ' || l.balance_after::text AS detail
            FROM wallets w JOIN LATERAL (SELECT balance_after FROM ledger_lines WHERE wallet_id = w.id
                                          ORDER BY id DESC LIMIT 1) l ON true
           WHERE l.balance_after <> w.balance`,
  },
  {
    name: 'all ledger lines sum to zero per currency',
    sql: `SELECT currency AS subject, sum(amount)::text AS detail FROM ledger_lines GROUP BY currency HAVING sum(amount) <> 0`,
  },
  {
    name: 'every journal entry balances and has at least two lines',
    sql: `SELECT e.id::text AS subject, coalesce(sum(l.amount), 0)::text || ' over ' || count(l.id) || ' lines' AS detail
            FROM journal_entries e LEFT JOIN ledger_lines l ON l.entry_id = e.id
           GROUP BY e.id HAVING coalesce(sum(l.amount), 0) <> 0 OR count(l.id) < 2`,
  },
  {
    name: 'held equals the sum of active holds',
    sql: `SELECT w.id::text AS subject, w.held::text || ' <> ' || coalesce(h.total, 0)::text AS detail
            FROM wallets w LEFT JOIN (SELECT wallet_id, sum(amount) AS total FROM holds WHERE status = 'active'
                                      GROUP BY wallet_id) h ON h.wallet_id = w.id
           WHERE w.held <> coalesce(h.total, 0)`,
  },
  {
    name: 'the accounting book balances per currency',
    sql: `SELECT currency AS subject, sum(amount)::text AS detail FROM accounting_lines GROUP BY currency
          HAVING sum(amount) <> 0`,
  },
  {
    name: 'no transfer has more than one journal entry',
    sql: `SELECT transfer_id::text AS subject, count(*)::text AS detail FROM journal_entries
           WHERE kind = 'transfer' GROUP BY transfer_id HAVING count(*) > 1`,
  },
  {
    name: 'a completed transfer has exactly one journal entry and a captured hold',
    sql: `SELECT t.id::text AS subject, t.status AS detail FROM transfers t
           WHERE t.status IN ('POSTED', 'COMPLETED')
             AND (NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.transfer_id = t.id AND e.kind = 'transfer')
                  OR NOT EXISTS (SELECT 1 FROM holds h WHERE h.transfer_id = t.id AND h.status = 'captured'))`,
  },
  {
    name: 'no CANCELLED or REJECTED transfer has a journal entry',
    sql: `SELECT t.id::text AS subject, t.status AS detail FROM transfers t
           WHERE t.status IN ('REJECTED', 'CANCELLED')
             AND EXISTS (SELECT 1 FROM journal_entries e WHERE e.transfer_id = t.id)`,
  },
  {
    name: 'a rejected or cancelled transfer holds nothing and has no booking left',
    sql: `SELECT t.id::text AS subject, t.status AS detail FROM transfers t
           WHERE t.status IN ('REJECTED', 'CANCELLED')
             AND (EXISTS (SELECT 1 FROM holds h WHERE h.transfer_id = t.id AND h.status <> 'released')
                  OR EXISTS (SELECT 1 FROM accounting_bookings b WHERE b.transfer_id = t.id AND b.status <> 'reversed'))`,
  },
];

export interface InvariantViolation {
  invariant: string;
  subject: string;
  detail: string;
}

/** Runs through `sql`: a Store's (on the pool), or a transaction's (to see its uncommitted writes). */
export async function checkLedgerInvariants(sql: Sql): Promise<InvariantViolation[]> {
  const violations: InvariantViolation[] = [];
  for (const check of CHECKS) {
    const { rows } = await sql<{ subject: string; detail: string }>(check.sql);
    for (const r of rows) violations.push({ invariant: check.name, subject: r.subject, detail: r.detail });
  }
  return violations;
}
