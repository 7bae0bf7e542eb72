import type { ShardSet } from '../../db/shards';
import type { Store } from '../../db/store';
import { addTotal, byDatabase, type DatabasePage, type PagedDatabase } from './page';
import type { Discrepancy } from './results';

export { stringTotals } from './page';

/**
 * The ledger invariants (domain/invariants.ts) in bounded keyset pages, one wallet shard database at a
 * time, so a run scales with the data. Each page is one statement: one snapshot, in which a wallet's
 * balance, lines and holds (written in one transaction by every posting) agree unless the books are wrong.
 */

interface WalletRow {
  id: string;
  kind: string;
  currency: string;
  shard: number;
  balance: string;
  held: string;
  lines_total: string;
  last_after: string | null;
  holds_total: string;
}

/**
 * Wallets after `after` (by id) on one database: balance = Σ lines, latest balance_after = balance,
 * held = Σ active holds; every clearing account against the transfer legs it carries; and, on a
 * database's first page, that it holds only the logical shards SHARD_MAP gives it.
 */
export async function checkWalletPage(
  shards: ShardSet,
  { index, database }: PagedDatabase,
  after: string | null,
  limit: number,
): Promise<DatabasePage> {
  const { rows } = await database.store.sql<WalletRow>(
    `SELECT w.id::text AS id, w.kind, w.currency, logical_shard(w.id) AS shard, w.balance::text AS balance,
            w.held::text AS held,
            coalesce((SELECT sum(l.amount) FROM ledger_lines l WHERE l.wallet_id = w.id), 0)::text AS lines_total,
            (SELECT l.balance_after FROM ledger_lines l WHERE l.wallet_id = w.id ORDER BY l.id DESC LIMIT 1)::text AS last_after,
            coalesce((SELECT sum(h.amount) FROM holds h WHERE h.wallet_id = w.id AND h.status = 'active'), 0)::text AS holds_total
       FROM wallets w
      WHERE $1::uuid IS NULL OR w.id > $1::uuid
      ORDER BY w.id
      LIMIT $2`,
    [after, limit],
  );
  const found: Discrepancy[] = after === null ? await misplacedShards(shards, index, database.store) : [];
  const place = (w: WalletRow) => ({ walletId: w.id, database: database.name, logicalShard: String(w.shard) });
  for (const w of rows) {
    if (w.balance !== w.lines_total) {
      found.push({
        kind: 'wallet_balance_mismatch',
        subject: w.id,
        ids: place(w),
        detail: `balance ${w.balance} <> sum of lines ${w.lines_total}`,
      });
    }
    if (w.last_after !== null && w.last_after !== w.balance) {
      found.push({
        kind: 'wallet_balance_after_mismatch',
        subject: w.id,
        ids: place(w),
        detail: `balance ${w.balance} <> latest balance_after ${w.last_after}`,
      });
    }
    if (w.held !== w.holds_total) {
      found.push({
        kind: 'wallet_held_mismatch',
        subject: w.id,
        ids: place(w),
        detail: `held ${w.held} <> sum of active holds ${w.holds_total}`,
      });
    }
  }
  const totals: Record<string, bigint> = {};
  const clearing = rows.filter((w) => w.kind === 'clearing').map((w) => w.id);
  if (clearing.length > 0)
    found.push(...(await checkClearingAccounts(database.name, database.store, clearing, totals)));
  return { found, checked: rows.length, last: rows.length === limit ? rows[rows.length - 1]!.id : null, totals };
}

/** Wallets of logical shards that SHARD_MAP puts on another database: rows left behind by a move, or a wrong map. */
async function misplacedShards(shards: ShardSet, index: number, store: Store): Promise<Discrepancy[]> {
  const { rows } = await store.sql<{ shard: number; wallets: number }>(
    `SELECT logical_shard(id) AS shard, count(*)::int AS wallets FROM wallets GROUP BY 1 ORDER BY 1`,
  );
  const here = shards.databases[index]!;
  return rows
    .filter((r) => shards.forShard(r.shard) !== here)
    .map((r) => ({
      kind: 'shard_on_wrong_database' as const,
      subject: `${r.shard}@${here.name}`,
      ids: { database: here.name, logicalShard: String(r.shard) },
      detail: `${r.wallets} wallets of logical shard ${r.shard} on ${here.name}; SHARD_MAP puts it on ${shards.forShard(r.shard).name}`,
    }));
}

interface ClearingRow {
  id: string;
  shard: number;
  currency: string;
  balance: string;
  legs: string;
  other_lines: number;
}

/**
 * A clearing account carries only transfer legs of its logical shard: its balance is Σ debits of the
 * shard's senders − Σ returns to them − Σ credits to the shard's receivers, each leg counted at its
 * transfer's amount (the transfers row for a debit or return, the incoming_transfers row for a credit).
 * One statement: the account and its legs in one snapshot. Adds `clearing:` (the balances) and
 * `transit:` (what the legs say is in transit) to `totals`, stitched across databases by checkTotals.
 */
async function checkClearingAccounts(
  databaseName: string,
  store: Store,
  walletIds: string[],
  totals: Record<string, bigint>,
): Promise<Discrepancy[]> {
  const { rows } = await store.sql<ClearingRow>(
    `SELECT w.id::text AS id, logical_shard(w.id) AS shard, w.currency, w.balance::text AS balance,
            coalesce(sum(CASE e.kind WHEN 'transfer_debit' THEN t.amount WHEN 'transfer_return' THEN -t.amount
                                     WHEN 'transfer_credit' THEN -i.amount END), 0)::text AS legs,
            count(l.id) FILTER (WHERE e.kind NOT IN ('transfer_debit', 'transfer_return', 'transfer_credit'))::int AS other_lines
       FROM wallets w
       LEFT JOIN ledger_lines l ON l.wallet_id = w.id
       LEFT JOIN journal_entries e ON e.id = l.entry_id
       LEFT JOIN transfers t ON t.id = e.transfer_id AND e.kind IN ('transfer_debit', 'transfer_return')
       LEFT JOIN incoming_transfers i ON i.transfer_id = e.transfer_id AND e.kind = 'transfer_credit'
      WHERE w.id = ANY($1::uuid[])
      GROUP BY w.id`,
    [walletIds],
  );
  const found: Discrepancy[] = [];
  for (const c of rows) {
    addTotal(totals, `clearing:${c.currency}:${databaseName}`, c.balance);
    addTotal(totals, `transit:${c.currency}:${databaseName}`, c.legs);
    if (c.balance !== c.legs || c.other_lines > 0) {
      found.push({
        kind: 'clearing_balance_mismatch',
        subject: c.id,
        ids: { walletId: c.id, database: databaseName, logicalShard: String(c.shard), currency: c.currency },
        detail:
          `clearing account of logical shard ${c.shard} holds ${c.balance} ${c.currency}, its transfer legs ${c.legs}` +
          (c.other_lines > 0 ? `; ${c.other_lines} lines of entries that are no transfer leg` : ''),
      });
    }
  }
  return found;
}

interface EntryRow {
  id: string;
  kind: string;
  transfer_id: string | null;
  line_count: number;
  /** currency → Σ amount of this entry's lines in it */
  sums: Record<string, string>;
  /** the logical shards of the entry's wallets */
  shards: number[];
  /** a credit's incoming_transfers row, on this database */
  incoming_status: string | null;
}

/**
 * Journal entries after `after` (by id) on one database: each has ≥ 2 lines balancing per currency, all
 * on wallets of one logical shard (a shard is a self-contained book: it moves to another database
 * whole); a cross-shard credit has its incoming_transfers row here and its debit on the sender's
 * database. Returns the page's per-currency Σ of lines (`<currency>:<database>`); the workflow adds the
 * pages up, and each database's total must be 0 per currency.
 */
export async function checkJournalEntryPage(
  shards: ShardSet,
  { database }: PagedDatabase,
  after: string | null,
  limit: number,
): Promise<DatabasePage> {
  const { rows } = await database.store.sql<EntryRow>(
    `WITH page AS (SELECT e.id FROM journal_entries e WHERE $1::uuid IS NULL OR e.id > $1::uuid ORDER BY e.id LIMIT $2)
     SELECT p.id::text AS id, e.kind, e.transfer_id::text AS transfer_id,
            (SELECT count(*)::int FROM ledger_lines l WHERE l.entry_id = p.id) AS line_count,
            coalesce((SELECT jsonb_object_agg(s.currency, s.total::text)
                        FROM (SELECT l.currency, sum(l.amount) AS total FROM ledger_lines l
                               WHERE l.entry_id = p.id GROUP BY l.currency) s), '{}'::jsonb) AS sums,
            coalesce((SELECT array_agg(DISTINCT logical_shard(l.wallet_id)) FROM ledger_lines l WHERE l.entry_id = p.id),
                     '{}') AS shards,
            i.status AS incoming_status
       FROM page p JOIN journal_entries e ON e.id = p.id
       LEFT JOIN incoming_transfers i ON e.kind = 'transfer_credit' AND i.transfer_id = e.transfer_id
      ORDER BY p.id`,
    [after, limit],
  );
  const found: Discrepancy[] = [];
  const totals: Record<string, bigint> = {};
  for (const e of rows) {
    const ids = { entryId: e.id, database: database.name, logicalShard: String(e.shards[0] ?? 0) };
    const unbalanced = Object.entries(e.sums).filter(([, total]) => total !== '0');
    if (e.line_count < 2 || unbalanced.length > 0) {
      found.push({
        kind: 'journal_entry_unbalanced',
        subject: e.id,
        ids,
        detail: `${e.line_count} lines; sums ${JSON.stringify(e.sums)}`,
      });
    }
    if (e.shards.length > 1) {
      found.push({
        kind: 'journal_entry_spans_shards',
        subject: e.id,
        ids: { ...ids, logicalShard: [...e.shards].sort((a, b) => a - b).join(',') },
        detail: `${e.kind} entry with lines on wallets of logical shards ${e.shards.join(', ')}`,
      });
    }
    for (const [currency, total] of Object.entries(e.sums)) addTotal(totals, `${currency}:${database.name}`, total);
  }
  const credits = rows.filter((e) => e.kind === 'transfer_credit' && e.transfer_id !== null);
  found.push(...(await checkCreditsHaveDebits(shards, database.name, credits)));
  return { found, checked: rows.length, last: rows.length === limit ? rows[rows.length - 1]!.id : null, totals };
}

/**
 * No credit without a debit: a credit entry (read first, on the receiver's database) has its
 * incoming_transfers 'credited' row beside it and its transfer, debited, on the sender's database
 * (read after: the saga credits only after the debit committed, so a debit of a credit seen is seen).
 */
async function checkCreditsHaveDebits(
  shards: ShardSet,
  databaseName: string,
  credits: EntryRow[],
): Promise<Discrepancy[]> {
  const found: Discrepancy[] = [];
  for (const e of credits) {
    if (e.incoming_status !== 'credited') {
      found.push({
        kind: 'cross_shard_leg_mismatch',
        subject: e.id,
        ids: { transferId: e.transfer_id!, entryId: e.id, database: databaseName, logicalShard: String(e.shards[0]) },
        detail: `credit entry with incoming_transfers ${e.incoming_status ?? 'absent'} (expected credited)`,
      });
    }
  }
  for (const [sender, group] of byDatabase(shards, credits, (e) => e.transfer_id!)) {
    const { rows } = await sender.store.sql<{ id: string; status: string | null; debited: boolean }>(
      `SELECT x.id::text AS id, t.status,
              EXISTS (SELECT 1 FROM journal_entries d WHERE d.transfer_id = x.id AND d.kind = 'transfer_debit') AS debited
         FROM unnest($1::uuid[]) AS x(id) LEFT JOIN transfers t ON t.id = x.id`,
      [group.map((e) => e.transfer_id)],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const e of group) {
      const t = byId.get(e.transfer_id!);
      if (t?.status && t.debited) continue;
      found.push({
        kind: 'cross_shard_credit_without_debit',
        subject: e.transfer_id!,
        ids: {
          transferId: e.transfer_id!,
          entryId: e.id,
          database: databaseName,
          logicalShard: String(e.shards[0]),
          senderDatabase: sender.name,
        },
        detail: t?.status
          ? `credited on ${databaseName}; the transfer (${t.status}) has no debit on ${sender.name}`
          : `credited on ${databaseName}; no transfer row on ${sender.name}`,
      });
    }
  }
  return found;
}
