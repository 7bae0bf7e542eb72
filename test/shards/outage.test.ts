import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app';
import { createShardSet, type ShardSet } from '../../db/shards';
import { checkLedgerInvariants } from '../../domain/invariants';
import { LOGICAL_SHARDS, shardOfOwner } from '../../domain/shards';
import { createWallet, getWallet, uniqueKey } from '../api/helpers';
import { authHeaders } from '../support/auth';
import { DatabaseOutage } from '../support/database-outage';
import { connectTemporalClient, ownShardedDatabases, testConfig, uniqueTaskQueue } from '../support/env';
import { query } from '../support/sql';
import { startTransferWorker, type RunningWorker } from '../support/transfer-worker';
import { eventually } from '../support/wallets';
import { fund, getTransfer, postTransfer, waitForStatus, type TransferJson } from '../transfers/helpers';

/** An owner id whose wallets land on database 0 (logical shards 0–511) or 1 (512–1023) under the default map of two. */
function ownerOn(database: 0 | 1): string {
  for (;;) {
    const owner = uniqueKey(`outage-owner-db${database}`);
    if (shardOfOwner(owner) < LOGICAL_SHARDS / 2 === (database === 0)) return owner;
  }
}

/**
 * One wallet shard database taken away (it refuses connections, its sessions are dropped) for far longer
 * than a step's attempts would last. The outage is local: what does not touch that database carries on,
 * requests that need it are refused at once with 503 SHARD_UNAVAILABLE, and sagas already past their
 * debit wait for it on durable timers and complete when it is back, without parking and without finance.
 * The file has databases of its own: taking one away must not reach the other test files.
 */
describe('an outage of one shard database', () => {
  const dbs = ownShardedDatabases('outage');
  const env = {
    ...dbs.overrides,
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue('outage'),
    // two failed attempts (about a second) would park a step: the outage lasts many times that
    TRANSFER_STEP_MAX_ATTEMPTS: '2',
    TRANSFER_ANSWER_TIMEOUT_SECONDS: '1',
    SHARD_BREAKER_COOLDOWN_SECONDS: '1',
  };
  const outage = new DatabaseOutage(dbs.urls.shard1);
  let app: FastifyInstance;
  let worker: RunningWorker | undefined;
  let client: Client;
  let shards: ShardSet;

  beforeAll(async () => {
    await dbs.create();
    app = await buildApp({ config: testConfig(env), logger: false });
    client = await connectTemporalClient();
    shards = createShardSet(testConfig(env), { poolMax: 2, applicationName: 'wallet-test' });
  });

  afterAll(async () => {
    await outage.end().catch(() => undefined);
    await worker?.stop();
    await app?.close();
    if (shards) {
      for (const db of shards.databases) expect(await checkLedgerInvariants(db.store.sql)).toEqual([]);
      await shards.close();
    }
    await client?.connection.close();
    await dbs.drop();
  });

  it('stops only what needs the database; sagas in flight wait for it and complete after it returns, nothing parks', async () => {
    const sender = await createWallet(app, 'EUR', ownerOn(0));
    const neighbour = await createWallet(app, 'EUR', ownerOn(0));
    const remote = await createWallet(app, 'EUR', ownerOn(1));
    await fund(app, sender.id, 10_000);

    // recorded and answered before any worker runs: their sagas start once the database is already gone
    const inFlight: TransferJson[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await postTransfer(app, { fromWalletId: sender.id, toWalletId: remote.id, amount: 100 });
      expect(res.statusCode).toBe(202);
      inFlight.push(res.json<TransferJson>());
    }

    await outage.begin();
    worker = await startTransferWorker(testConfig(env));

    // the credit cannot land: each saga waits on database 1, visibly (search attribute and step state)
    for (const t of inFlight) {
      await eventually(
        async () => {
          const description = await client.workflow.getHandle(t.workflowId).describe();
          const waiting = description.searchAttributes.WaitingOnStore as string[] | undefined;
          return waiting?.includes('db-1') ? true : undefined;
        },
        30_000,
        `transfer ${t.id} to wait for db-1`,
      );
    }
    expect((await getTransfer(app, inFlight[0]!.id)).status).toBe('DEBITED');

    // a transfer that does not touch database 1 completes during the outage
    const local = await postTransfer(
      app,
      { fromWalletId: sender.id, toWalletId: neighbour.id, amount: 50 },
      { waitSeconds: 20 },
    );
    expect(local.statusCode).toBe(200);
    expect(local.json<TransferJson>().status).toBe('COMPLETED');
    expect(await getWallet(app, neighbour.id)).toMatchObject({ balance: 50 });

    // what needs database 1 is refused at once, with a time to come back
    const started = Date.now();
    const refused = await postTransfer(app, { fromWalletId: sender.id, toWalletId: remote.id, amount: 100 });
    expect(refused.statusCode).toBe(503);
    expect(refused.json()).toMatchObject({ code: 'SHARD_UNAVAILABLE' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    const read = await app.inject({
      method: 'GET',
      url: `/v1/wallets/${remote.id}`,
      headers: authHeaders({ sub: 'ops', roles: ['ops'] }),
    });
    expect(read.statusCode).toBe(503);
    expect(Date.now() - started).toBeLessThan(3000);

    // many times a step's budget later, nothing parked
    await new Promise((r) => setTimeout(r, 6000));
    for (const t of inFlight) expect((await getTransfer(app, t.id)).status).toBe('DEBITED');

    await outage.end();
    for (const t of inFlight) await waitForStatus(app, t.id, 'COMPLETED', 60_000);
    expect(await getWallet(app, remote.id)).toMatchObject({ balance: 300 });
    expect(await getWallet(app, sender.id)).toMatchObject({ balance: 10_000 - 300 - 50, held: 0 });
    // the audit trail holds no finance decision: nobody had to act
    expect(await query(shards.home.store, `SELECT 1 FROM audit_log WHERE action LIKE 'transfer.%'`)).toHaveLength(0);
  });
});
