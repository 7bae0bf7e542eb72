import type { Client } from '@temporalio/client';
import type { ShardSet } from '../../db/shards';
import { clearingWalletId, systemWalletId } from '../../domain/ids';
import { findRun } from '../../domain/reconciliation/runs';
import { shardOfId, withShard } from '../../domain/shards';
import { reconciliationWorkflow } from '../../workflows/reconciliation';
import type { ReconciliationResult } from '../../workflows/contract';
import { connectTemporalClient, createTestShards, ownDatabase, testConfig, uniqueTaskQueue } from '../support/env';
import { startTransferWorker, type RunningWorker } from '../support/transfer-worker';
import {
  account,
  countEverywhere,
  ownerOnDatabase,
  plantCrossShardTransfer,
  plantDeposit,
  plantSameShardTransfer,
  plantWallet,
  postLines,
  type PlantedTransfer,
} from './books';

/**
 * Reconciliation across wallet shard databases: two of them and the accounting book's own, in
 * databases of this file's own (planted discrepancies never reach the run's shared databases), with a
 * real worker running the reconciliation workflow. The books are planted row by row as the shard model
 * lays them out (test/reconciliation/books.ts): healthy ones reconcile to nothing — money in transit
 * included — and each planted cross-shard discrepancy is found, naming the database and the logical
 * shard it is on.
 */
describe('reconciliation across shards', () => {
  const databases = [ownDatabase('xrecon'), ownDatabase('xrecon_s1'), ownDatabase('xrecon_acc')];
  const env = {
    DATABASE_URL: databases[0]!.url,
    SHARD_DATABASE_URLS: databases[1]!.url,
    ACCOUNTING_DATABASE_URL: databases[2]!.url,
    SHARD_MAP: '0-511:0,512-1023:1',
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue('xrecon'),
  };
  // the planted sagas in flight: their workflows exist, on a queue no worker polls (so they never run)
  const idleQueue = uniqueTaskQueue('xrecon-idle');
  let shards: ShardSet;
  let worker: RunningWorker;
  let temporal: Client;
  const w = { A: '', A2: '', B: '', C: '', D: '' };
  const started: string[] = [];

  async function run(pageSize: number): Promise<ReconciliationResult & { found: Awaited<ReturnType<typeof findRun>> }> {
    const result = await temporal.workflow.execute(reconciliationWorkflow, {
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      workflowId: `xrecon-${pageSize}-${Date.now()}`,
      args: [{ trigger: 'manual', pageSize }],
    });
    return { ...result, found: await findRun(shards.home.store, result.runId) };
  }

  /** A saga that is running (it would be, for a transfer in flight): its workflow, parked on the idle queue. */
  async function inFlight(t: PlantedTransfer): Promise<PlantedTransfer> {
    await temporal.workflow.start('transferWorkflow', { taskQueue: idleQueue, workflowId: t.workflowId, args: [] });
    started.push(t.workflowId);
    return t;
  }

  beforeAll(async () => {
    await Promise.all(databases.map((d) => d.create()));
    shards = await createTestShards({ overrides: env });
    worker = await startTransferWorker(testConfig(env));
    temporal = await connectTemporalClient();
    // A and A2: one owner on database 0; B and C: two owners of different logical shards on database 1;
    // D: another logical shard on database 0
    const a = ownerOnDatabase(shards, 0);
    const b = ownerOnDatabase(shards, 1);
    w.A = await plantWallet(shards, a);
    w.A2 = await plantWallet(shards, a);
    w.B = await plantWallet(shards, b);
    w.C = await plantWallet(shards, ownerOnDatabase(shards, 1, [shardOfId(w.B)]));
    w.D = await plantWallet(shards, ownerOnDatabase(shards, 0, [shardOfId(w.A)]));
    await plantDeposit(shards, w.A, 10_000n);
    await plantDeposit(shards, w.B, 5_000n);
  });

  afterAll(async () => {
    for (const id of started)
      await temporal?.workflow
        .getHandle(id)
        .terminate('test over')
        .catch(() => undefined);
    await worker?.stop();
    await temporal?.connection.close();
    await shards?.close();
    for (const d of databases) await d.drop();
  });

  it('finds nothing wrong in healthy books: transfers across databases, across shards of one database, returned and in transit', async () => {
    await plantCrossShardTransfer(shards, { from: w.A, to: w.B, amount: 1_000n, stage: 'completed' }); // db-0 → db-1
    await plantCrossShardTransfer(shards, { from: w.B, to: w.C, amount: 300n, stage: 'completed' }); // within db-1
    await plantCrossShardTransfer(shards, { from: w.B, to: w.A, amount: 200n, stage: 'returned' }); // db-1 → db-0, refused
    await inFlight(await plantCrossShardTransfer(shards, { from: w.A, to: w.B, amount: 50n, stage: 'debited' }));
    await plantSameShardTransfer(shards, w.A, w.A2, 100n);

    // 50 in transit: the clearing accounts net to it, on no one database
    const clearing = await countEverywhere(
      shards,
      `SELECT coalesce(sum(balance), 0)::int AS n FROM wallets WHERE kind = 'clearing'`,
    );
    expect(clearing).toBe(50);

    const paged = await run(2);
    expect(paged.found?.found).toEqual([]);
    expect(paged.discrepancyCounts).toEqual({});
    // every row of both databases checked once, across pages that cross from one database to the next
    expect(paged.checked.wallets).toBe(await countEverywhere(shards, `SELECT count(*)::int AS n FROM wallets`));
    expect(paged.checked.journalEntries).toBe(
      await countEverywhere(shards, `SELECT count(*)::int AS n FROM journal_entries`),
    );
    expect(paged.checked.transfers).toBe(await countEverywhere(shards, `SELECT count(*)::int AS n FROM transfers`));
    expect((await run(10_000)).checked).toEqual(paged.checked);
  });

  it('finds each planted cross-shard discrepancy, naming its database and logical shard', async () => {
    const [sA, sB] = [shardOfId(w.A), shardOfId(w.B)];
    // (a) COMPLETED, but its credit never landed on the receiver's database
    const noCredit = await plantCrossShardTransfer(shards, {
      from: w.A,
      to: w.B,
      amount: 400n,
      stage: 'completed',
      skip: 'credit',
    });
    // (b) money in B's clearing account that no transfer leg put there: a clearing imbalance on db-1
    await shards.databases[1]!.store.transaction(async (sql) => {
      const system = await account(sql, 'system', 'EUR', sB);
      const clearing = await account(sql, 'clearing', 'EUR', sB);
      await postLines(sql, {
        kind: 'deposit',
        currency: 'EUR',
        lines: [
          [system, -70n],
          [clearing, 70n],
        ],
      });
    });
    // (c) debited an hour ago, still no credit: stuck in transit
    const stuck = await inFlight(
      await plantCrossShardTransfer(shards, { from: w.A, to: w.B, amount: 25n, stage: 'debited', agoSeconds: 3600 }),
    );
    // (d) a credit on db-1 for a transfer its sender's database never debited
    const phantom = await plantCrossShardTransfer(shards, {
      from: w.A,
      to: w.B,
      amount: 33n,
      stage: 'completed',
      skip: 'sender',
    });
    // (e) RETURNED, refused by the receiver, but the money never went back to the sender
    const unreturned = await plantCrossShardTransfer(shards, {
      from: w.B,
      to: w.A,
      amount: 60n,
      stage: 'returned',
      skip: 'return',
    });
    // (f) an entry across two logical shards of db-0 (a shard must be movable whole)
    await shards.databases[0]!.store.transaction(async (sql) => {
      await postLines(sql, {
        kind: 'deposit',
        currency: 'EUR',
        lines: [
          [await account(sql, 'system', 'EUR', sA), -5n],
          [w.D, 5n],
        ],
      });
    });
    // (g) a wallet of a logical shard of db-1 left on db-0
    const strayShard = shardOfId(w.B);
    const stray = withShard('00000000-0000-4000-8000-000000000001', strayShard);
    await shards.databases[0]!.store.sql(
      `INSERT INTO wallets (id, owner_id, currency) VALUES ($1, 'left-behind', 'EUR')`,
      [stray],
    );

    const result = await run(3);
    const found = result.found!.found;
    const byKind = (kind: string) => found.filter((d) => d.kind === kind);
    const receiver = { database: 'db-1', logicalShard: String(sB) };
    expect(byKind('cross_shard_credit_missing')).toEqual([
      expect.objectContaining({
        subject: noCredit.id,
        ids: expect.objectContaining({ transferId: noCredit.id, ...receiver }),
      }),
    ]);
    expect(byKind('clearing_balance_mismatch')).toEqual([
      expect.objectContaining({
        subject: clearingWalletId('EUR', sB),
        ids: expect.objectContaining({ walletId: clearingWalletId('EUR', sB), ...receiver, currency: 'EUR' }),
      }),
    ]);
    expect(byKind('clearing_transit_mismatch')).toEqual([
      expect.objectContaining({ subject: 'EUR', ids: { currency: 'EUR', database: 'db-1' } }),
    ]);
    expect(byKind('cross_shard_transfer_stuck')).toEqual([
      expect.objectContaining({ subject: stuck.id, ids: expect.objectContaining(receiver) }),
    ]);
    expect(byKind('cross_shard_credit_without_debit')).toEqual([
      expect.objectContaining({
        subject: phantom.id,
        ids: expect.objectContaining({ ...receiver, senderDatabase: 'db-0' }),
      }),
    ]);
    expect(byKind('cross_shard_return_missing')).toEqual([
      expect.objectContaining({
        subject: unreturned.id,
        ids: expect.objectContaining({ database: 'db-1', logicalShard: String(sB) }),
      }),
    ]);
    expect(byKind('journal_entry_spans_shards')).toEqual([
      expect.objectContaining({
        ids: expect.objectContaining({
          database: 'db-0',
          logicalShard: [sA, shardOfId(w.D)].sort((x, y) => x - y).join(','),
        }),
      }),
    ]);
    expect(byKind('shard_on_wrong_database')).toEqual([
      expect.objectContaining({
        subject: `${strayShard}@db-0`,
        ids: { database: 'db-0', logicalShard: String(strayShard) },
      }),
    ]);
    expect(Object.keys(result.discrepancyCounts).sort()).toEqual(
      [
        'clearing_balance_mismatch',
        'clearing_transit_mismatch',
        'cross_shard_credit_missing',
        'cross_shard_credit_without_debit',
        'cross_shard_return_missing',
        'cross_shard_transfer_stuck',
        'journal_entry_spans_shards',
        'shard_on_wrong_database',
      ].sort(),
    );
    // every discrepancy names where it is
    expect(found.filter((d) => !d.ids.database)).toEqual([]);
    // the system accounts are one per logical shard: none of them is a discrepancy for being negative
    expect(found.map((d) => d.subject)).not.toContain(systemWalletId('EUR', sA));
  });
});
