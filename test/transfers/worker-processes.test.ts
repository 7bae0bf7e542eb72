import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { Client } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import type { ShardSet } from '../../db/shards';
import type { Store } from '../../db/store';
import { startTransfer } from '../../api/transfers/start-transfer';
import { getTransfer } from '../../domain/transfers/records';
import { getWallet } from '../../domain/wallets';
import { connectTemporalClient, createTestShards, createTestStore, testConfig, uniqueTaskQueue } from '../support/env';
import { eventually, journalEntriesOf, makeWallet } from '../support/wallets';
import { spawnWorker, stopWorker, WORKER_MAIN, type WorkerProcess } from '../support/worker-process';
import { ownerOnShardDatabase } from './helpers';

/**
 * Real worker processes (the built `dist/worker/main.js`, as `npm start` and production run it)
 * on one task queue: a SIGKILLed worker's transfer is finished by another, and two workers share
 * a batch. `npm test` builds before jest runs.
 */
describe('transfer workers as separate processes', () => {
  let ds: Store;
  let shards: ShardSet;
  let client: Client;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    if (!fs.existsSync(WORKER_MAIN)) throw new Error(`${WORKER_MAIN} is missing: run \`npm run build\` first`);
    ds = await createTestStore();
    shards = await createTestShards();
    client = await connectTemporalClient();
  });

  afterAll(async () => {
    await Promise.all(workers.map(stopWorker));
    await client?.connection.close();
    await ds?.close();
    await shards?.close();
  });

  function transferRequest(from: string, to: string, amount: bigint) {
    return {
      callerId: 'worker-test',
      idempotencyKey: randomUUID(),
      requestHash: randomUUID(),
      fromWalletId: from,
      toWalletId: to,
      amount,
      currency: 'EUR',
    };
  }

  it('finishes a transfer on another worker after its worker is SIGKILLed mid-saga, posting it once', async () => {
    // short attempts so the dead worker's accounting attempt is retried quickly elsewhere
    const config = testConfig({
      TEMPORAL_TASK_QUEUE: uniqueTaskQueue('sigkill'),
      TRANSFER_STEP_ATTEMPT_TIMEOUT_SECONDS: '3',
    });
    // one customer's wallets on database 0 (a same-shard transfer, rows where ds and startTransfer look)
    const ownerId = ownerOnShardDatabase(0);
    const from = await makeWallet(ds, { balance: 10_000n, ownerId });
    const to = await makeWallet(ds, { ownerId });

    // Block the accounting step: the built-in book serialises a sender's bookings on this lock.
    // (advisory locks are per database: the accounting book's)
    const blocker = new PgClient({ connectionString: config.accountingDatabaseUrl });
    await blocker.connect();
    await blocker.query(`SELECT pg_advisory_lock(hashtextextended($1, 0))`, [`accounting:${from.id}`]);
    try {
      const first = spawnWorker(config, 'doomed');
      workers.push(first);
      await first.identity;
      // the early answer comes once the hold is placed, while accounting waits on the lock
      const { transfer } = await startTransfer(
        { shards, temporal: client, config },
        transferRequest(from.id, to.id, 1_250n),
        { waitSeconds: 0 },
      );
      expect(transfer.status).toBe('RESERVED');
      await eventually(
        async () => {
          const waiting = await blocker.query(
            `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND pid <> pg_backend_pid()`,
          );
          return waiting.rowCount ? true : undefined;
        },
        30_000,
        'the accounting step to wait on the lock on the first worker',
      );

      first.child.kill('SIGKILL');
      expect(await first.exited).toBeNull(); // killed by the signal, not a clean exit

      const second = spawnWorker(config, 'rescuer');
      workers.push(second);
      await second.identity;
      await blocker.query(`SELECT pg_advisory_unlock(hashtextextended($1, 0))`, [`accounting:${from.id}`]);

      const done = await eventually(
        async () => {
          const t = await getTransfer(ds, transfer.id);
          return t.status === 'COMPLETED' ? t : undefined;
        },
        60_000,
        'the transfer to complete on the second worker',
      );
      expect(done.status).toBe('COMPLETED');
      expect(await journalEntriesOf(ds, transfer.id)).toBe(1);
      expect((await getWallet(ds, from.id)).balance).toBe(10_000n - 1_250n);
      expect((await getWallet(ds, to.id)).balance).toBe(1_250n);
      expect((await getWallet(ds, from.id)).held).toBe(0n);

      // and a SIGTERM drains the second worker cleanly
      expect(await stopWorker(second)).toBe(0);
    } finally {
      await blocker.end();
    }
  });

  it('spreads a batch of 40 transfers over two worker processes on one task queue', async () => {
    const config = testConfig({ TEMPORAL_TASK_QUEUE: uniqueTaskQueue('pair') });
    const pair = [spawnWorker(config, 'a'), spawnWorker(config, 'b')];
    workers.push(...pair);
    const identities = await Promise.all(pair.map((w) => w.identity));

    const ownerId = ownerOnShardDatabase(0);
    const from = await makeWallet(ds, { balance: 100_000n, ownerId });
    const receivers = await Promise.all(Array.from({ length: 4 }, () => makeWallet(ds, { ownerId })));
    const started = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        startTransfer({ shards, temporal: client, config }, transferRequest(from.id, receivers[i % 4]!.id, 100n), {
          waitSeconds: 0,
        }),
      ),
    );
    const results = await Promise.all(
      started.map(({ transfer }) => client.workflow.getHandle(transfer.workflowId).result()),
    );
    expect(results.map((r) => r.status)).toEqual(Array(40).fill('COMPLETED'));

    // Which worker ran each workflow task (and the local activities in it) is recorded by Temporal.
    const seen = new Set<string>();
    for (const { transfer } of started) {
      const history = await client.workflow.getHandle(transfer.workflowId).fetchHistory();
      for (const event of history.events ?? []) {
        const identity =
          event.workflowTaskStartedEventAttributes?.identity ?? event.activityTaskStartedEventAttributes?.identity;
        if (identity) seen.add(identity);
      }
    }
    expect([...seen].sort()).toEqual([...identities].sort());
    expect((await getWallet(ds, from.id)).balance).toBe(100_000n - 4_000n);
  });
});
