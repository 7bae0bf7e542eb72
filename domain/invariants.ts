import type { Sql } from '../db/sql';

/**
 * The ledger's invariants on ONE database, each one SQL statement (one snapshot, so they hold even while
 * other transactions commit). Returns human-readable violations; an empty list means the books are
 * sound. Used by the test suite after its writes (on each database of a ShardSet) and by the chaos
 * checker. What spans databases — a cross-shard transfer's credit on the receiver's database, clearing
 * accounts netting to the money in transit — is the reconciliation run's (domain/reconciliation/).
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
    name: 'every journal entry stays within one logical shard',
    sql: `SELECT l.entry_id::text AS subject, string_agg(DISTINCT logical_shard(l.wallet_id)::text, ', ') AS detail
            FROM ledger_lines l GROUP BY l.entry_id HAVING count(DISTINCT logical_shard(l.wallet_id)) > 1`,
  },
  {
    // same shard: one 'transfer' entry; across logical shards: its debit (sender → clearing) is on the sender's database
    name: 'a completed transfer has its journal entry (or, across shards, its debit) and a captured hold',
    sql: `SELECT t.id::text AS subject, t.status AS detail FROM transfers t
           WHERE t.status IN ('POSTED', 'COMPLETED')
             AND (NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.transfer_id = t.id
                                AND e.kind = CASE WHEN logical_shard(t.from_wallet_id) = logical_shard(t.to_wallet_id)
                                                  THEN 'transfer' ELSE 'transfer_debit' END)
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
  {
    name: 'a returned transfer has its debit and its return entry, and no active hold or booking left',
    sql: `SELECT t.id::text AS subject, t.status AS detail FROM transfers t
           WHERE t.status = 'RETURNED'
             AND (NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.transfer_id = t.id AND e.kind = 'transfer_debit')
                  OR NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.transfer_id = t.id AND e.kind = 'transfer_return')
                  OR EXISTS (SELECT 1 FROM holds h WHERE h.transfer_id = t.id AND h.status = 'active')
                  OR EXISTS (SELECT 1 FROM accounting_bookings b WHERE b.transfer_id = t.id AND b.status <> 'reversed'))`,
  },
  {
    name: 'an incoming transfer credited has its credit entry, one refused has none',
    sql: `SELECT i.transfer_id::text AS subject, i.status AS detail FROM incoming_transfers i
           WHERE (i.status = 'credited') <> EXISTS (SELECT 1 FROM journal_entries e WHERE e.transfer_id = i.transfer_id
                                                     AND e.kind = 'transfer_credit')`,
  },
  {
    // the legs at their transfer's amount: debits in, returns and credits out (docs/architecture.md §9)
    name: 'a clearing account carries only transfer legs, at their amounts',
    sql: `SELECT w.id::text AS subject, w.balance::text || ' <> legs ' || coalesce(sum(CASE e.kind
                   WHEN 'transfer_debit' THEN t.amount WHEN 'transfer_return' THEN -t.amount
                   WHEN 'transfer_credit' THEN -i.amount END), 0)::text AS detail
            FROM wallets w
            LEFT JOIN ledger_lines l ON l.wallet_id = w.id
            LEFT JOIN journal_entries e ON e.id = l.entry_id
            LEFT JOIN transfers t ON t.id = e.transfer_id AND e.kind IN ('transfer_debit', 'transfer_return')
            LEFT JOIN incoming_transfers i ON i.transfer_id = e.transfer_id AND e.kind = 'transfer_credit'
           WHERE w.kind = 'clearing'
           GROUP BY w.id
          HAVING w.balance <> coalesce(sum(CASE e.kind WHEN 'transfer_debit' THEN t.amount
                   WHEN 'transfer_return' THEN -t.amount WHEN 'transfer_credit' THEN -i.amount END), 0)
              OR count(l.id) FILTER (WHERE e.kind NOT IN ('transfer_debit', 'transfer_return', 'transfer_credit')) > 0`,
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
