import { loadConfig, type Config } from '../config';
import { createShardSet, type ShardDatabase } from '../db/shards';
import type { Store } from '../db/store';
import { LOGICAL_SHARDS, shardOfOwner } from '../domain/shards';

/**
 * `npm run shard:move -- --shard <logical shard> --to <database index> [--from <index>] [--delete-source]`
 *
 * Moves one logical shard from its database to another, OFFLINE (docs/operations.md#moving-a-logical-shard):
 * the operator has stopped the API and every worker (the script refuses while one is connected to
 * either database). A logical shard is a self-contained book (docs/architecture.md §9), so it moves by
 * copying its rows:
 *   wallets whose id carries the shard (customer, system and clearing accounts), their holds, ledger
 *   lines and journal entries (an entry belongs to the shard whose wallets its lines move), the transfers
 *   they send (with their decision audit rows), the incoming_transfers they receive, their notifications,
 *   the audit rows of their wallets, and the idempotency records of the callers of that shard.
 * All of it is inserted on the target in ONE transaction, then checked there: the same row counts, the
 * same balance and held per wallet, balance = Σ lines and held = Σ active holds per wallet, the shard's
 * lines summing to zero per currency. Then it prints the SHARD_MAP to configure. Only with
 * --delete-source does it remove the shard's rows from the source, in one transaction in which the
 * append-only triggers (journal_entries, ledger_lines, audit_log, incoming_transfers) are disabled
 * with ALTER TABLE … DISABLE TRIGGER and enabled again before the commit: nothing else can write while
 * the table locks are held, and a failure rolls the triggers back with the rows.
 *
 * Ids do not change (they carry the shard). The identity columns do: ledger_lines.id, transfers.seq and
 * audit_log.id are numbered by the target in the source's order, so each wallet's lines keep their
 * order; keyset cursors handed out before the move (line history, lists) are not valid across it.
 * The accounting book is not a wallet shard and stays where ACCOUNTING_DATABASE_URL points.
 *
 * The statements are the table-level copy of a migration tool, beneath the domain's rules, as in
 * scripts/migrate.ts: they run on the Stores of db/shards.ts.
 */

/** What the script copies, in insertion order (parents before the rows that reference them). */
interface TableSpec {
  table: string;
  /** the shard's rows; $1 is the logical shard (or, for idempotency records, the callers) */
  where: string;
  /** keyset of the batches: columns with their SQL types */
  key: Array<[column: string, type: string]>;
}

const TABLES: TableSpec[] = [
  { table: 'wallets', where: 'logical_shard(id) = $1', key: [['id', 'uuid']] },
  {
    table: 'journal_entries',
    where: 'id IN (SELECT l.entry_id FROM ledger_lines l WHERE logical_shard(l.wallet_id) = $1)',
    key: [['id', 'uuid']],
  },
  { table: 'ledger_lines', where: 'logical_shard(wallet_id) = $1', key: [['id', 'bigint']] },
  { table: 'holds', where: 'logical_shard(wallet_id) = $1', key: [['transfer_id', 'uuid']] },
  { table: 'transfers', where: 'logical_shard(from_wallet_id) = $1', key: [['seq', 'bigint']] },
  { table: 'incoming_transfers', where: 'logical_shard(to_wallet_id) = $1', key: [['transfer_id', 'uuid']] },
  { table: 'notifications', where: 'logical_shard(wallet_id) = $1', key: [['id', 'uuid']] },
  {
    table: 'idempotency_records',
    where: 'caller_id = ANY($1::text[])',
    key: [
      ['caller_id', 'text'],
      ['idempotency_key', 'text'],
    ],
  },
  {
    table: 'audit_log',
    where: `(target_type = 'wallet' AND logical_shard(target_id) = $1)
         OR (target_type = 'transfer' AND target_id IN (SELECT t.id FROM transfers t WHERE logical_shard(t.from_wallet_id) = $1))`,
    key: [['id', 'bigint']],
  },
];

/** The append-only triggers a delete of the shard's rows must get past (forbid_mutation()). */
const APPEND_ONLY_TRIGGERS: Array<[table: string, trigger: string]> = [
  ['journal_entries', 'journal_entries_no_update_delete'],
  ['ledger_lines', 'ledger_lines_no_update_delete'],
  ['audit_log', 'audit_log_no_update_delete'],
  ['incoming_transfers', 'incoming_transfers_no_update_delete'],
];

const BATCH_ROWS = 5000;

export interface MoveOptions {
  shard: number;
  /** the target database's index (0 = DATABASE_URL, then SHARD_DATABASE_URLS in order) */
  to: number;
  /** the source database's index; default: where SHARD_MAP puts the shard now */
  from?: number;
  deleteSource?: boolean;
  log?: (line: string) => void;
}

export interface MoveResult {
  from: string;
  to: string;
  /** rows of the shard per table, as copied (or found already copied) */
  rows: Record<string, number>;
  /** the SHARD_MAP that puts the shard on the target */
  shardMap: string;
  deleted: boolean;
}

export class MoveRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MoveRefused';
  }
}

/** `first-last:database` ranges of a logical shard → database map (the SHARD_MAP syntax). */
export function formatShardMap(map: readonly number[]): string {
  const ranges: string[] = [];
  for (let first = 0; first < map.length;) {
    let last = first;
    while (last + 1 < map.length && map[last + 1] === map[first]) last += 1;
    ranges.push(`${first}-${last}:${map[first]}`);
    first = last + 1;
  }
  return ranges.join(',');
}

/** The params of the shard's rows of a table: the logical shard, or the callers whose records are its. */
function selector(spec: TableSpec, shard: number, callers: string[]): unknown {
  return spec.table === 'idempotency_records' ? callers : shard;
}

/** The callers whose idempotency records belong to the shard (their id hashes to it: domain/shards.ts). */
async function callersOf(store: Store, shard: number): Promise<string[]> {
  const { rows } = await store.sql<{ caller_id: string }>(`SELECT DISTINCT caller_id FROM idempotency_records`);
  return rows.map((r) => r.caller_id).filter((c) => shardOfOwner(c) === shard);
}

async function countRows(store: Store, spec: TableSpec, param: unknown): Promise<number> {
  const { rows } = await store.sql<{ n: number }>(`SELECT count(*)::int AS n FROM ${spec.table} WHERE ${spec.where}`, [
    param,
  ]);
  return rows[0]!.n;
}

/** Sessions of the service's processes on a database: a move needs them all stopped. */
async function serviceSessions(db: ShardDatabase): Promise<string[]> {
  const { rows } = await db.store.sql<{ who: string }>(
    `SELECT application_name || ' from ' || coalesce(client_addr::text, 'local') AS who FROM pg_stat_activity
      WHERE datname = current_database() AND application_name IN ('wallet-api', 'wallet-worker') AND pid <> pg_backend_pid()`,
  );
  return rows.map((r) => `${db.name}: ${r.who}`);
}

/** Journal entries with lines both on the shard's wallets and on others': such a shard cannot move whole. */
async function entriesAcrossShards(store: Store, shard: number): Promise<string[]> {
  const { rows } = await store.sql<{ id: string }>(
    `SELECT l.entry_id::text AS id FROM ledger_lines l
      WHERE l.entry_id IN (SELECT entry_id FROM ledger_lines WHERE logical_shard(wallet_id) = $1)
      GROUP BY l.entry_id HAVING bool_or(logical_shard(l.wallet_id) <> $1) LIMIT 5`,
    [shard],
  );
  return rows.map((r) => r.id);
}

/** The columns the target assigns itself (identities) are left out of the copy. */
async function copiedColumns(store: Store, table: string): Promise<string[]> {
  const { rows } = await store.sql<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = $1 AND is_identity = 'NO' AND is_generated = 'NEVER'
      ORDER BY ordinal_position`,
    [table],
  );
  return rows.map((r) => `"${r.column_name}"`);
}

/**
 * Copies the shard's rows of every table from `source` to `target` in one target transaction, in keyset
 * batches read as JSON text (bigints never pass through a JavaScript number).
 */
async function copyShard(
  source: Store,
  target: Store,
  shard: number,
  callers: string[],
): Promise<Record<string, number>> {
  const copied: Record<string, number> = {};
  await target.transaction(async (into) => {
    for (const spec of TABLES) {
      const columns = await copiedColumns(target, spec.table);
      const keys = spec.key.map(([c]) => c);
      let after: string[] | null = null;
      copied[spec.table] = 0;
      for (;;) {
        const keyset: string =
          after === null
            ? ''
            : `AND (${keys.join(', ')}) > (${spec.key.map(([, t], i) => `$${i + 3}::${t}`).join(', ')})`;
        const page: { rows: Array<{ batch: string; n: number; last: string[] | null }> } = await source.sql(
          `SELECT coalesce(jsonb_agg(to_jsonb(b) ORDER BY ${keys.map((k) => `b.${k}`).join(', ')}), '[]')::text AS batch,
                  count(*)::int AS n,
                  (array_agg(ARRAY[${keys.map((k) => `b.${k}::text`).join(', ')}] ORDER BY ${keys.map((k) => `b.${k}`).join(' DESC, ')} DESC))[1] AS last
             FROM (SELECT * FROM ${spec.table} WHERE (${spec.where}) ${keyset}
                    ORDER BY ${keys.join(', ')} LIMIT $2) b`,
          [selector(spec, shard, callers), BATCH_ROWS, ...(after ?? [])],
        );
        const { batch, n, last } = page.rows[0]!;
        if (n === 0) break;
        await into(
          `INSERT INTO ${spec.table} (${columns.join(', ')})
           SELECT ${columns.join(', ')} FROM jsonb_populate_recordset(NULL::${spec.table}, $1::jsonb)
            ORDER BY ${keys.join(', ')}`,
          [batch],
        );
        copied[spec.table] = (copied[spec.table] ?? 0) + n;
        if (n < BATCH_ROWS) break;
        after = last;
      }
    }
  });
  return copied;
}

interface WalletState {
  id: string;
  balance: string;
  held: string;
}

async function walletStates(store: Store, shard: number): Promise<WalletState[]> {
  const { rows } = await store.sql<WalletState>(
    `SELECT id::text AS id, balance::text AS balance, held::text AS held FROM wallets WHERE logical_shard(id) = $1 ORDER BY id`,
    [shard],
  );
  return rows;
}

/** The shard's books on one database: what is wrong with them (empty when sound). */
async function shardBookProblems(store: Store, shard: number): Promise<string[]> {
  const { rows } = await store.sql<{ problem: string }>(
    `SELECT 'wallet ' || w.id || ': balance ' || w.balance || ' <> lines ' || coalesce(s.total, 0)
                || ', held ' || w.held || ' <> active holds ' || coalesce(h.total, 0)
                || ', latest balance_after ' || coalesce(last.balance_after::text, '-') AS problem
       FROM wallets w
       LEFT JOIN (SELECT wallet_id, sum(amount) AS total FROM ledger_lines GROUP BY wallet_id) s ON s.wallet_id = w.id
       LEFT JOIN (SELECT wallet_id, sum(amount) AS total FROM holds WHERE status = 'active' GROUP BY wallet_id) h
              ON h.wallet_id = w.id
       LEFT JOIN LATERAL (SELECT l.balance_after FROM ledger_lines l WHERE l.wallet_id = w.id ORDER BY l.id DESC LIMIT 1) last
              ON true
      WHERE logical_shard(w.id) = $1
        AND (w.balance <> coalesce(s.total, 0) OR w.held <> coalesce(h.total, 0)
             OR (last.balance_after IS NOT NULL AND last.balance_after <> w.balance))
     UNION ALL
     SELECT 'lines of the shard sum to ' || sum(l.amount) || ' ' || l.currency FROM ledger_lines l
      WHERE logical_shard(l.wallet_id) = $1 GROUP BY l.currency HAVING sum(l.amount) <> 0`,
    [shard],
  );
  return rows.map((r) => r.problem);
}

/** Checks the copy on the target against the source: counts, balances, and the shard's books. */
async function verifyCopy(
  source: Store,
  target: Store,
  shard: number,
  callers: string[],
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const problems: string[] = [];
  for (const spec of TABLES) {
    const param = selector(spec, shard, callers);
    const [here, there] = [await countRows(source, spec, param), await countRows(target, spec, param)];
    counts[spec.table] = there;
    if (here !== there) problems.push(`${spec.table}: ${here} rows on the source, ${there} on the target`);
  }
  const [before, after] = [await walletStates(source, shard), await walletStates(target, shard)];
  if (JSON.stringify(before) !== JSON.stringify(after)) problems.push('wallet balances or held differ from the source');
  problems.push(...(await shardBookProblems(target, shard)));
  if (problems.length > 0) throw new MoveRefused(`the copy on the target does not verify:\n  ${problems.join('\n  ')}`);
  return counts;
}

/** Deletes the shard's rows from the source, append-only triggers disabled for this one transaction. */
async function deleteFromSource(source: Store, shard: number, callers: string[]): Promise<void> {
  await source.transaction(async (sql) => {
    for (const [table, trigger] of APPEND_ONLY_TRIGGERS) await sql(`ALTER TABLE ${table} DISABLE TRIGGER ${trigger}`);
    // children first; an entry goes with its lines (all on the shard's wallets: checked before the copy)
    await sql(
      `WITH gone AS (DELETE FROM ledger_lines WHERE logical_shard(wallet_id) = $1 RETURNING entry_id)
       DELETE FROM journal_entries WHERE id IN (SELECT entry_id FROM gone)`,
      [shard],
    );
    for (const table of [
      'audit_log',
      'holds',
      'incoming_transfers',
      'notifications',
      'idempotency_records',
      'transfers',
    ]) {
      const spec = TABLES.find((t) => t.table === table)!;
      await sql(`DELETE FROM ${table} WHERE ${spec.where}`, [selector(spec, shard, callers)]);
    }
    await sql(`DELETE FROM wallets WHERE logical_shard(id) = $1`, [shard]);
    for (const [table, trigger] of APPEND_ONLY_TRIGGERS) await sql(`ALTER TABLE ${table} ENABLE TRIGGER ${trigger}`);
  });
}

export async function moveLogicalShard(config: Config, opts: MoveOptions): Promise<MoveResult> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const { shard, to } = opts;
  if (!Number.isInteger(shard) || shard < 0 || shard >= LOGICAL_SHARDS)
    throw new MoveRefused(`--shard must be a logical shard, 0-${LOGICAL_SHARDS - 1}`);
  const databases = config.shardDatabaseUrls.length;
  const from = opts.from ?? config.shardMap[shard]!;
  for (const [name, index] of [
    ['--to', to],
    ['--from', from],
  ] as const) {
    if (!Number.isInteger(index) || index < 0 || index >= databases)
      throw new MoveRefused(`${name} must be a wallet shard database index, 0-${databases - 1} (SHARD_DATABASE_URLS)`);
  }
  if (from === to) {
    throw new MoveRefused(
      `SHARD_MAP already puts logical shard ${shard} on database ${to}; to clean up an earlier source, name it with --from`,
    );
  }

  const shards = createShardSet(config, { poolMax: 2, applicationName: 'wallet-shard-move', queryTimeoutMs: 0 });
  try {
    await shards.connect(); // every database there and on this build's migrations
    const [source, target] = [shards.databases[from]!, shards.databases[to]!];
    const busy = [...(await serviceSessions(source)), ...(await serviceSessions(target))];
    if (busy.length > 0) {
      throw new MoveRefused(`stop the API and the workers first; still connected:\n  ${busy.join('\n  ')}`);
    }
    const spanning = await entriesAcrossShards(source.store, shard);
    if (spanning.length > 0) {
      throw new MoveRefused(
        `journal entries with lines on logical shard ${shard} and on others (${spanning.join(', ')}): ` +
          'run a reconciliation (journal_entry_spans_shards) and repair them first',
      );
    }
    const callers = await callersOf(source.store, shard);
    const present = await countRows(target.store, TABLES[0]!, shard);
    if (present > 0 && (await countRows(source.store, TABLES[0]!, shard)) === 0) {
      throw new MoveRefused(
        `logical shard ${shard} is on ${target.name} and no longer on ${source.name}: moved already; ` +
          `configure SHARD_MAP=${formatShardMap(config.shardMap.map((db, l) => (l === shard ? to : db)))}`,
      );
    }
    let rows: Record<string, number>;
    if (present === 0) {
      log(`copying logical shard ${shard} from ${source.name} to ${target.name}`);
      const copied = await copyShard(source.store, target.store, shard, callers);
      for (const [table, n] of Object.entries(copied)) log(`  ${table}: ${n} rows`);
      rows = await verifyCopy(source.store, target.store, shard, callers);
    } else {
      // a run that copied already (and was stopped before deleting): verify what is there
      log(
        `${target.name} already has ${present} wallets of logical shard ${shard}: verifying them against ${source.name}`,
      );
      rows = await verifyCopy(source.store, target.store, shard, callers);
    }
    log(`verified on ${target.name}: row counts, balances and held per wallet, the shard's lines sum to zero`);

    const map = [...config.shardMap];
    map[shard] = to;
    const shardMap = formatShardMap(map);
    let deleted = false;
    if (opts.deleteSource) {
      await deleteFromSource(source.store, shard, callers);
      const left = await countRows(source.store, TABLES[0]!, shard);
      if (left !== 0) throw new MoveRefused(`${left} wallets of logical shard ${shard} are still on ${source.name}`);
      deleted = true;
      log(`deleted logical shard ${shard}'s rows from ${source.name}`);
    } else {
      log(`the rows stay on ${source.name} too (run again with --delete-source before starting the services)`);
    }
    if (!map.includes(from)) {
      log(`note: database ${from} holds no logical shard any more; SHARD_MAP must name every configured database`);
    }
    log(`configure every process with SHARD_MAP=${shardMap}`);
    return { from: source.name, to: target.name, rows, shardMap, deleted };
  } finally {
    await shards.close();
  }
}

function parseArgs(argv: string[]): MoveOptions {
  const value = (flag: string): number | undefined => {
    const i = argv.indexOf(flag);
    if (i < 0) return undefined;
    const n = Number(argv[i + 1]);
    if (argv[i + 1] === undefined || !Number.isInteger(n)) throw new MoveRefused(`${flag} needs a whole number`);
    return n;
  };
  const shard = value('--shard');
  const to = value('--to');
  if (shard === undefined || to === undefined) {
    throw new MoveRefused(
      'usage: npm run shard:move -- --shard <logical shard> --to <database index> [--from <index>] [--delete-source]',
    );
  }
  const from = value('--from');
  return { shard, to, ...(from === undefined ? {} : { from }), deleteSource: argv.includes('--delete-source') };
}

if (require.main === module) {
  Promise.resolve()
    .then(() => moveLogicalShard(loadConfig(process.env), parseArgs(process.argv.slice(2))))
    .catch((err: unknown) => {
      console.error(err instanceof MoveRefused ? `shard move refused: ${err.message}` : err);
      process.exit(1);
    });
}
