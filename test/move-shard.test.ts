import { randomUUID } from 'node:crypto';
import type { ShardSet } from '../db/shards';
import { createStore, type Store } from '../db/store';
import { checkLedgerInvariants } from '../domain/invariants';
import { checkBookingPage } from '../domain/reconciliation/accounting-checks';
import { checkJournalEntryPage, checkWalletPage } from '../domain/reconciliation/ledger-checks';
import { shardOfId, shardOfOwner, withShard } from '../domain/shards';
import { moveLogicalShard, MoveRefused } from '../scripts/move-shard';
import {
  ownerOnDatabase,
  plantCrossShardTransfer,
  plantDeposit,
  plantSameShardTransfer,
  plantWallet,
} from './reconciliation/books';
import { createTestShards, ownDatabase, testConfig } from './support/env';
import { query } from './support/sql';

/**
 * `npm run shard:move` (scripts/move-shard.ts) between two databases of this file's own: a logical
 * shard with transfers of every kind — within the shard, across shards in both directions, returned,
 * in transit, one still holding money — is copied, verified, and only then deleted from the source.
 * Both databases keep their books: balances, lines, zero sums, and they reconcile across databases
 * under the new SHARD_MAP.
 */
describe('moving a logical shard (scripts/move-shard.ts)', () => {
  const source = ownDatabase('move_src');
  const target = ownDatabase('move_dst');
  // every logical shard on the source but 1023 (the target must hold one to be a configured database)
  const env = { DATABASE_URL: source.url, SHARD_DATABASE_URLS: target.url, SHARD_MAP: '0-1022:0,1023-1023:1' };
  let shards: ShardSet;
  let moving: number;
  const w = { A1: '', A2: '', M1: '' };
  const log: string[] = [];
  let newShardMap = '';

  const sumOf = async (store: Store, sql: string, params: unknown[] = []) =>
    (await query<{ n: string }>(store, sql, params))[0]!.n;

  /** The shard's wallets with their balances, held and line counts, on one database. */
  const walletsOf = (store: Store, shard: number) =>
    query<{ id: string; balance: string; held: string; lines: number }>(
      store,
      `SELECT w.id::text AS id, w.balance::text AS balance, w.held::text AS held,
              (SELECT count(*)::int FROM ledger_lines l WHERE l.wallet_id = w.id) AS lines
         FROM wallets w WHERE logical_shard(w.id) = $1 ORDER BY w.id`,
      [shard],
    );

  /** Σ lines per currency of a database: every database's books sum to zero on their own. */
  const zeroSums = (store: Store) =>
    query<{ currency: string; total: string }>(
      store,
      `SELECT currency, sum(amount)::text AS total FROM ledger_lines GROUP BY currency HAVING sum(amount) <> 0`,
    );

  beforeAll(async () => {
    await Promise.all([source.create(), target.create()]);
    shards = await createTestShards({ overrides: env });
    const a = ownerOnDatabase(shards, 0, [1023]);
    moving = shardOfOwner(a);
    const m = ownerOnDatabase(shards, 0, [1023, moving]);
    w.A1 = await plantWallet(shards, a);
    w.A2 = await plantWallet(shards, a);
    w.M1 = await plantWallet(shards, m);
    await plantDeposit(shards, w.A1, 10_000n);
    await plantDeposit(shards, w.M1, 5_000n);
    await plantSameShardTransfer(shards, w.A1, w.A2, 700n);
    const out = await plantCrossShardTransfer(shards, { from: w.A1, to: w.M1, amount: 1_000n, stage: 'completed' });
    await plantCrossShardTransfer(shards, { from: w.M1, to: w.A2, amount: 300n, stage: 'completed' });
    await plantCrossShardTransfer(shards, { from: w.A1, to: w.M1, amount: 50n, stage: 'returned' });
    await plantCrossShardTransfer(shards, { from: w.A1, to: w.M1, amount: 20n, stage: 'debited' });
    const src = shards.databases[0]!.store;
    // a transfer still reserving: an active hold, held on the wallet
    const reserved = withShard(randomUUID(), moving);
    await src.transaction(async (sql) => {
      await sql(`UPDATE wallets SET held = held + 400 WHERE id = $1`, [w.A1]);
      await sql(
        `INSERT INTO transfers (id, caller_id, idempotency_key, request_hash, from_wallet_id, to_wallet_id, amount,
                                currency, status, workflow_id)
         VALUES ($1::uuid, $2, $1::text, 'h', $3, $4, 400, 'EUR', 'RESERVED', 'transfer-' || $1::text)`,
        [reserved, a, w.A1, w.M1],
      );
      await sql(`INSERT INTO holds (transfer_id, wallet_id, amount, status) VALUES ($1, $2, 400, 'active')`, [
        reserved,
        w.A1,
      ]);
    });
    // notifications, idempotency records and audit rows of both shards
    for (const [walletId, owner, kind] of [
      [w.A1, a, 'transfer.sent'],
      [w.M1, m, 'transfer.received'],
    ] as const) {
      await query(
        src,
        `INSERT INTO notifications (transfer_id, wallet_id, recipient_id, kind, payload) VALUES ($1, $2, $3, $4, '{}')`,
        [out.id, walletId, owner, kind],
      );
      await query(
        src,
        `INSERT INTO idempotency_records (caller_id, idempotency_key, request_hash, resource_type, resource_id, expires_at)
         VALUES ($1, 'k1', 'h', 'transfer', $2, now() + interval '1 day')`,
        [owner, out.id],
      );
      await query(
        src,
        `INSERT INTO audit_log (actor, roles, action, target_type, target_id, request_id)
         VALUES ('ops-1', '{ops}', 'wallet.freeze', 'wallet', $1, 'req-1')`,
        [walletId],
      );
    }
    await query(
      src,
      `INSERT INTO audit_log (actor, roles, action, target_type, target_id, request_id)
       VALUES ('fin-1', '{finance}', 'transfer.retry', 'transfer', $1, 'req-2')`,
      [out.id],
    );
  });

  afterAll(async () => {
    await shards?.close();
    await source.drop();
    await target.drop();
  });

  it('refuses while a process of the service is connected to either database', async () => {
    const api = createStore({ url: target.url, poolMax: 1, applicationName: 'wallet-api' });
    await api.connect();
    try {
      await expect(moveLogicalShard(testConfig(env), { shard: moving, to: 1, log: () => undefined })).rejects.toThrow(
        MoveRefused,
      );
    } finally {
      await api.close();
    }
    expect(await walletsOf(shards.databases[1]!.store, moving)).toEqual([]);
  });

  it('copies the shard, verifies it, prints the new SHARD_MAP, and deletes the source rows only when told to', async () => {
    const [src, dst] = [shards.databases[0]!.store, shards.databases[1]!.store];
    const before = await walletsOf(src, moving);
    expect(before).toHaveLength(4); // A1, A2, its system and clearing accounts
    const stays = await walletsOf(src, shardOfId(w.M1));

    const copied = await moveLogicalShard(testConfig(env), { shard: moving, to: 1, log: (l) => log.push(l) });
    expect(copied).toMatchObject({ from: 'db-0', to: 'db-1', deleted: false });
    expect(copied.rows).toMatchObject({
      wallets: 4,
      // A1's deposit, the same-shard transfer, 3 debits, 1 return, the credit of M1 → A2
      journal_entries: 7,
      holds: 5,
      ledger_lines: 14,
      transfers: 5,
      incoming_transfers: 1,
      notifications: 1,
      idempotency_records: 1,
      audit_log: 2,
    });
    // the same wallets, balances, held and lines on the target; both copies' books sound
    expect(await walletsOf(dst, moving)).toEqual(before);
    expect(before.find((x) => x.id === w.A1)).toMatchObject({ held: '400' });
    for (const store of [src, dst]) {
      expect(await zeroSums(store)).toEqual([]);
      expect(await checkLedgerInvariants(store.sql)).toEqual([]);
    }
    // the map to configure: the moved shard on database 1, every other shard where it was
    const moved = testConfig({ ...env, SHARD_MAP: copied.shardMap });
    expect(moved.shardMap[moving]).toBe(1);
    expect(moved.shardMap.filter((db, l) => db !== testConfig(env).shardMap[l])).toEqual([1]);
    expect(log).toContain(`configure every process with SHARD_MAP=${copied.shardMap}`);
    newShardMap = copied.shardMap;

    // again, now deleting the source's rows: verified again first, then gone from the source only
    const deleted = await moveLogicalShard(testConfig(env), {
      shard: moving,
      to: 1,
      deleteSource: true,
      log: () => undefined,
    });
    expect(deleted).toMatchObject({ deleted: true, rows: copied.rows, shardMap: copied.shardMap });
    expect(await walletsOf(src, moving)).toEqual([]);
    expect(
      await sumOf(src, `SELECT count(*)::text AS n FROM ledger_lines WHERE logical_shard(wallet_id) = $1`, [moving]),
    ).toBe('0');
    expect(await walletsOf(src, shardOfId(w.M1))).toEqual(stays);
    expect(await walletsOf(dst, moving)).toEqual(before);
    for (const store of [src, dst]) {
      expect(await zeroSums(store)).toEqual([]);
      expect(await checkLedgerInvariants(store.sql)).toEqual([]);
    }
    // the append-only triggers are back on
    await expect(query(src, `DELETE FROM ledger_lines WHERE id = (SELECT min(id) FROM ledger_lines)`)).rejects.toThrow(
      /append-only/,
    );
    // a third run finds nothing left to move
    await expect(moveLogicalShard(testConfig(env), { shard: moving, to: 1, log: () => undefined })).rejects.toThrow(
      /moved already/,
    );
  });

  it('leaves books that reconcile across both databases under the new SHARD_MAP', async () => {
    expect(newShardMap).not.toBe('');
    const moved = await createTestShards({ overrides: { ...env, SHARD_MAP: newShardMap } });
    try {
      expect(moved.forWallet(w.A1)).toBe(moved.databases[1]);
      for (const [index, database] of moved.databases.entries()) {
        for (const check of [checkWalletPage, checkJournalEntryPage, checkBookingPage]) {
          const page = await check(moved, { index, database }, null, 10_000);
          expect({ database: database.name, check: check.name, found: page.found }).toEqual({
            database: database.name,
            check: check.name,
            found: [],
          });
        }
      }
    } finally {
      await moved.close();
    }
  });
});
