import { randomUUID } from 'node:crypto';
import type { ShardSet } from '../../db/shards';
import type { Sql } from '../../db/sql';
import type { Store } from '../../db/store';
import {
  clearingOwnerId,
  clearingWalletId,
  systemOwnerId,
  systemWalletId,
  transferIdFor,
  workflowIdFor,
} from '../../domain/ids';
import { shardOfId, shardOfOwner, withShard } from '../../domain/shards';

/**
 * Books planted row by row on the databases of a ShardSet, as the shard model says they are (one
 * system and one clearing account per logical shard and currency; a cross-shard transfer's debit and
 * return on the sender's database, its credit and incoming_transfers row on the receiver's), for the
 * reconciliation and shard-move tests. Straight SQL, not the saga: every entry balances on its own
 * database (the deferred trigger checks it at commit), and append-only rows are only ever inserted.
 */

/** An owner id whose logical shard SHARD_MAP puts on database `index` (and that is none of `not`). */
export function ownerOnDatabase(shards: ShardSet, index: number, not: number[] = []): string {
  for (let i = 0; i < 100_000; i++) {
    const owner = `owner-${randomUUID()}`;
    const shard = shardOfOwner(owner);
    if (shards.forShard(shard) === shards.databases[index] && !not.includes(shard)) return owner;
  }
  throw new Error(`no owner found for database ${index}`);
}

/** A customer wallet of `ownerId` on its shard's database (its id carries the shard). */
export async function plantWallet(shards: ShardSet, ownerId: string, currency = 'EUR'): Promise<string> {
  const id = withShard(randomUUID(), shardOfOwner(ownerId));
  await shards
    .forWallet(id)
    .store.sql(`INSERT INTO wallets (id, owner_id, kind, currency) VALUES ($1, $2, 'customer', $3)`, [
      id,
      ownerId,
      currency,
    ]);
  return id;
}

/** The system (external:CCY@L) or clearing (clearing:CCY@L) account of a logical shard, created on first use. */
export async function account(sql: Sql, kind: 'system' | 'clearing', currency: string, shard: number): Promise<string> {
  const [id, owner] =
    kind === 'system'
      ? [systemWalletId(currency, shard), systemOwnerId(currency, shard)]
      : [clearingWalletId(currency, shard), clearingOwnerId(currency, shard)];
  await sql(`INSERT INTO wallets (id, owner_id, kind, currency) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, [
    id,
    owner,
    kind,
    currency,
  ]);
  return id;
}

/** One journal entry and its lines (amount > 0 credits the wallet), each wallet's balance moved with its line. */
export async function postLines(
  sql: Sql,
  entry: { kind: string; transferId?: string; currency: string; lines: Array<[walletId: string, amount: bigint]> },
): Promise<string> {
  const entryId = randomUUID();
  await sql(`INSERT INTO journal_entries (id, kind, reference, transfer_id, currency) VALUES ($1, $2, $3, $4, $5)`, [
    entryId,
    entry.kind,
    `${entry.kind}:${entry.transferId ?? entryId}`,
    entry.transferId ?? null,
    entry.currency,
  ]);
  for (const [walletId, amount] of [...entry.lines].sort(([a], [b]) => a.localeCompare(b))) {
    const { rows } = await sql<{ balance: string }>(
      `UPDATE wallets SET balance = balance + $2, updated_at = now() WHERE id = $1 RETURNING balance::text AS balance`,
      [walletId, amount.toString()],
    );
    if (!rows[0]) throw new Error(`no wallet ${walletId} on this database`);
    await sql(
      `INSERT INTO ledger_lines (entry_id, wallet_id, amount, currency, balance_after) VALUES ($1, $2, $3, $4, $5)`,
      [entryId, walletId, amount.toString(), entry.currency, rows[0].balance],
    );
  }
  return entryId;
}

/** A deposit: external:CCY of the wallet's logical shard → the wallet, on its database. */
export async function plantDeposit(shards: ShardSet, walletId: string, amount: bigint, currency = 'EUR') {
  await shards.forWallet(walletId).store.transaction(async (sql) => {
    const system = await account(sql, 'system', currency, shardOfId(walletId));
    await postLines(sql, {
      kind: 'deposit',
      currency,
      lines: [
        [system, -amount],
        [walletId, amount],
      ],
    });
  });
}

export interface PlantedTransfer {
  id: string;
  workflowId: string;
}

async function transferRow(
  sql: Sql,
  t: { id: string; from: string; to: string; amount: bigint; currency: string; status: string; agoSeconds: number },
) {
  await sql(
    `INSERT INTO transfers (id, caller_id, idempotency_key, request_hash, from_wallet_id, to_wallet_id, amount, currency,
                            status, workflow_id, created_at, updated_at)
     VALUES ($1::uuid, 'planted', $1::text, 'planted', $2, $3, $4, $5, $6, $7, now() - make_interval(secs => $8),
             now() - make_interval(secs => $8))`,
    [t.id, t.from, t.to, t.amount.toString(), t.currency, t.status, workflowIdFor(t.id), t.agoSeconds],
  );
  // reserved, then captured by the posting: the hold is spent, held is back where it was
  await sql(`INSERT INTO holds (transfer_id, wallet_id, amount, status) VALUES ($1, $2, $3, 'captured')`, [
    t.id,
    t.from,
    t.amount.toString(),
  ]);
}

/** The accounting book's booking of a transfer (liability of the sender down, of the receiver up), or its reversal too. */
async function booking(
  accounting: Store,
  t: { id: string; from: string; to: string; amount: bigint; currency: string },
  reversed: boolean,
) {
  await accounting.transaction(async (sql) => {
    await sql(
      `INSERT INTO accounting_bookings (transfer_id, wallet_id, amount, currency, booking_date, status)
       VALUES ($1, $2, $3, $4, current_date, $5)`,
      [t.id, t.from, t.amount.toString(), t.currency, reversed ? 'reversed' : 'booked'],
    );
    for (const [kind, sign] of reversed
      ? ([
          ['booking', 1n],
          ['reversal', -1n],
        ] as const)
      : ([['booking', 1n]] as const)) {
      await sql(
        `INSERT INTO accounting_lines (transfer_id, kind, account, currency, amount)
         VALUES ($1, $2, $3, $5, $6), ($1, $2, $4, $5, $7)`,
        [
          t.id,
          kind,
          `liabilities:customer:${t.from}`,
          `liabilities:customer:${t.to}`,
          t.currency,
          (sign * t.amount).toString(),
          (-sign * t.amount).toString(),
        ],
      );
    }
  });
}

/** A transfer inside one logical shard: one 'transfer' entry, COMPLETED, booked. */
export async function plantSameShardTransfer(
  shards: ShardSet,
  from: string,
  to: string,
  amount: bigint,
  currency = 'EUR',
): Promise<PlantedTransfer> {
  const id = transferIdFor('planted', randomUUID(), shardOfId(from));
  const t = { id, from, to, amount, currency, status: 'COMPLETED', agoSeconds: 0 };
  await booking(shards.accounting.store, t, false);
  await shards.forWallet(from).store.transaction(async (sql) => {
    await transferRow(sql, t);
    await postLines(sql, {
      kind: 'transfer',
      transferId: id,
      currency,
      lines: [
        [from, -amount],
        [to, amount],
      ],
    });
  });
  return { id, workflowId: workflowIdFor(id) };
}

/**
 * A transfer between two logical shards, as far as `stage`: 'debited' (sender → clearing of the
 * sender's shard: money in transit), 'completed' (and clearing → receiver on the receiver's shard) or
 * 'returned' (refused by the receiving shard, clearing → sender). `skip` leaves out one of its rows,
 * to plant a discrepancy; `status` overrides the row's status; `agoSeconds` dates the row.
 */
export async function plantCrossShardTransfer(
  shards: ShardSet,
  opts: {
    from: string;
    to: string;
    amount: bigint;
    stage: 'debited' | 'completed' | 'returned';
    currency?: string;
    skip?: 'credit' | 'return' | 'sender';
    status?: string;
    agoSeconds?: number;
  },
): Promise<PlantedTransfer> {
  const { from, to, amount, stage } = opts;
  const currency = opts.currency ?? 'EUR';
  const id = transferIdFor('planted', randomUUID(), shardOfId(from));
  const status = opts.status ?? { debited: 'DEBITED', completed: 'COMPLETED', returned: 'RETURNED' }[stage];
  const t = { id, from, to, amount, currency, status, agoSeconds: opts.agoSeconds ?? 0 };
  await booking(shards.accounting.store, t, stage === 'returned');
  if (opts.skip !== 'sender') {
    await shards.forWallet(from).store.transaction(async (sql) => {
      await transferRow(sql, t);
      const clearing = await account(sql, 'clearing', currency, shardOfId(from));
      await postLines(sql, {
        kind: 'transfer_debit',
        transferId: id,
        currency,
        lines: [
          [from, -amount],
          [clearing, amount],
        ],
      });
    });
  }
  if (stage === 'completed' && opts.skip !== 'credit') {
    await shards.forWallet(to).store.transaction(async (sql) => {
      await sql(
        `INSERT INTO incoming_transfers (transfer_id, from_wallet_id, to_wallet_id, amount, currency, status)
         VALUES ($1, $2, $3, $4, $5, 'credited')`,
        [id, from, to, amount.toString(), currency],
      );
      const clearing = await account(sql, 'clearing', currency, shardOfId(to));
      await postLines(sql, {
        kind: 'transfer_credit',
        transferId: id,
        currency,
        lines: [
          [clearing, -amount],
          [to, amount],
        ],
      });
    });
  }
  if (stage === 'returned') {
    await shards.forWallet(to).store.sql(
      `INSERT INTO incoming_transfers (transfer_id, from_wallet_id, to_wallet_id, amount, currency, status, failure_code,
                                         failure_reason)
         VALUES ($1, $2, $3, $4, $5, 'refused', 'WALLET_NOT_ACTIVE', 'the receiver was frozen')`,
      [id, from, to, amount.toString(), currency],
    );
    if (opts.skip !== 'return') {
      await shards.forWallet(from).store.transaction(async (sql) => {
        const clearing = await account(sql, 'clearing', currency, shardOfId(from));
        await postLines(sql, {
          kind: 'transfer_return',
          transferId: id,
          currency,
          lines: [
            [clearing, -amount],
            [from, amount],
          ],
        });
      });
    }
  }
  return { id, workflowId: workflowIdFor(id) };
}

/** Σ of one query's `n` over every wallet shard database. */
export async function countEverywhere(shards: ShardSet, text: string, params: unknown[] = []): Promise<number> {
  let n = 0;
  for (const db of shards.databases) n += (await db.store.sql<{ n: number }>(text, params)).rows[0]!.n;
  return n;
}
