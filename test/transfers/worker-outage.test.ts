import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import type { ShardSet } from '../../db/shards';
import type { Store } from '../../db/store';
import { startTransfer } from '../../api/transfers/start-transfer';
import { checkLedgerInvariants } from '../../domain/invariants';
import { getTransfer } from '../../domain/transfers/records';
import { getWallet } from '../../domain/wallets';
import { connectTemporalClient, createTestShards, createTestStore, testConfig, uniqueTaskQueue } from '../support/env';
import { eventually, journalEntriesOf, makeWallet } from '../support/wallets';
import { killWorker, spawnWorker, stopWorker, type WorkerProcess } from '../support/worker-process';
import { ownerOnShardDatabase } from './helpers';

/**
 * Waiting for a worker is not failing: a step's budget counts its failed attempts, so an outage of
 * every worker that lasts longer than the budget would take to spend parks nothing. The transfers in
 * flight (one killed mid-step, others started while no worker runs) complete when a worker returns.
 */
describe('an outage of every worker', () => {
  // a budget of 2 attempts of at most 3 s each: spent in about 7 s of failing
  const config = testConfig({
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue('outage'),
    TRANSFER_STEP_MAX_ATTEMPTS: '2',
    TRANSFER_STEP_ATTEMPT_TIMEOUT_SECONDS: '3',
    TRANSFER_ANSWER_TIMEOUT_SECONDS: '1',
  });
  const OUTAGE_MS = 15_000;
  let ds: Store;
  let shards: ShardSet;
  let client: Client;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    ds = await createTestStore();
    shards = await createTestShards();
    client = await connectTemporalClient();
  });

  afterAll(async () => {
    await Promise.all(workers.map(stopWorker));
    if (ds) expect(await checkLedgerInvariants(ds.sql)).toEqual([]);
    await client?.connection.close();
    await ds?.close();
    await shards?.close();
  });

  const start = (from: string, to: string) =>
    startTransfer(
      { shards, temporal: client, config },
      {
        callerId: 'outage-test',
        idempotencyKey: randomUUID(),
        requestHash: randomUUID(),
        fromWalletId: from,
        toWalletId: to,
        amount: 500n,
        currency: 'EUR',
      },
      { waitSeconds: 0 },
    );

  it('parks nothing: the transfers in flight complete when a worker returns', async () => {
    // one customer's wallets on database 0 (same-shard transfers, rows where ds and the API's startTransfer look)
    const ownerId = ownerOnShardDatabase(0);
    const senders = await Promise.all([1, 2, 3].map(() => makeWallet(ds, { balance: 10_000n, ownerId })));
    const receiver = await makeWallet(ds, { ownerId });
    const first = spawnWorker(config, 'before-outage');
    workers.push(first);
    await first.identity;

    // One transfer is caught mid-step: its accounting waits on the sender's booking lock when the
    // last worker dies.
    // (advisory locks are per database: the accounting book's)
    const blocker = new PgClient({ connectionString: config.accountingDatabaseUrl });
    await blocker.connect();
    await blocker.query(`SELECT pg_advisory_lock(hashtextextended($1, 0))`, [`accounting:${senders[0]!.id}`]);
    const caught = await start(senders[0]!.id, receiver.id);
    await eventually(
      async () => {
        const waiting = await blocker.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`);
        return waiting.rowCount ? true : undefined;
      },
      20_000,
      'the accounting step to wait on the lock',
    );
    await killWorker(first);
    await blocker.end(); // the lock goes with the session

    // Two more arrive while no worker runs: their sagas start, nobody runs them yet.
    const during = await Promise.all(senders.slice(1).map((s) => start(s.id, receiver.id)));
    expect(during.map(({ transfer }) => transfer.status)).toEqual(['PENDING', 'PENDING']);

    // the outage lasts longer than the budget would take to spend
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    const ids = [caught, ...during].map(({ transfer }) => transfer.id);
    for (const id of ids) expect((await getTransfer(ds, id)).status).not.toBe('NEEDS_ATTENTION');

    const second = spawnWorker(config, 'after-outage');
    workers.push(second);
    await second.identity;
    for (const id of ids) {
      const result = await client.workflow.getHandle(`transfer-${id}`).result();
      expect(result).toMatchObject({ status: 'COMPLETED', failure: null, parked: null, decisions: [] });
      const row = await getTransfer(ds, id);
      expect({ status: row.status, failureCode: row.failureCode }).toEqual({ status: 'COMPLETED', failureCode: null });
      expect(await journalEntriesOf(ds, id)).toBe(1);
      // never parked, not even for a moment: the search attribute never said so either
      const history = await client.workflow.getHandle(`transfer-${id}`).fetchHistory();
      const statuses = (history.events ?? []).flatMap((e) => {
        const indexed =
          e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.TransferStatus?.data;
        return indexed ? [JSON.parse(Buffer.from(indexed).toString('utf8')) as string] : [];
      });
      expect(statuses).not.toContain('NEEDS_ATTENTION');
      expect(statuses).toContain('COMPLETED');
    }
    for (const s of senders) expect(await getWallet(ds, s.id)).toMatchObject({ balance: 9_500n, held: 0n });
    expect((await getWallet(ds, receiver.id)).balance).toBe(1_500n);
  });
});
