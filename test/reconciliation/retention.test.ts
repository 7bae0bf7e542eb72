import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { idempotencyRetentionWorkflow } from '../../workflows/retention';
import { customer, FINANCE, getWallet, startApp, uniqueKey } from '../api/helpers';
import { authHeaders } from '../support/auth';
import { connectTemporalClient, testConfig, uniqueTaskQueue } from '../support/env';
import { recordHistory } from '../support/histories';
import { startTransferWorker, type RunningWorker } from '../support/transfer-worker';
import { createWalletAs, transferAs } from '../security/fixtures';
import { query } from '../support/sql';
import { journalEntriesOf } from '../support/wallets';

/**
 * The retention Schedule's workflow: expired idempotency records go, in bounded batches, and nothing
 * else; a key reused after its record was purged still never moves money twice (the transfer id derives
 * from the key and the transfer row keeps the request hash). Runs on the shared databases: it only
 * deletes records past their expiry, and only this file expires any.
 */
describe('idempotency retention', () => {
  const env = {
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue('retention'),
    RETENTION_BATCH_SIZE: '3',
    RETENTION_MAX_BATCHES: '2',
  };
  let app: FastifyInstance;
  let worker: RunningWorker;
  let temporal: Client;

  beforeAll(async () => {
    worker = await startTransferWorker(testConfig(env));
    app = await startApp(env);
    temporal = await connectTemporalClient();
  });
  afterAll(async () => {
    await app?.close();
    await worker?.stop();
    await temporal?.connection.close();
  });

  /** One retention run; `record`: also saved as a replay fixture (RECORD_HISTORIES=1). */
  const purge = async (record?: string) => {
    const workflowId = `retention-${randomUUID()}`;
    const result = await temporal.workflow.execute(idempotencyRetentionWorkflow, {
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      workflowId,
    });
    if (record) await recordHistory(workflowId, record);
    return result;
  };

  /** A caller's records, wherever they are: each wallet shard database holds its callers' records. */
  async function records(callerId: string): Promise<string[]> {
    const keys: string[] = [];
    for (const { store } of app.shards.databases) {
      const rows = await query<{ key: string }>(
        store,
        `SELECT idempotency_key AS key FROM idempotency_records WHERE caller_id = $1`,
        [callerId],
      );
      keys.push(...rows.map((r) => r.key));
    }
    return keys.sort();
  }

  /** The database holding a record. */
  async function holderOf(callerId: string, key: string) {
    for (const database of app.shards.databases) {
      const rows = await query(
        database.store,
        `SELECT 1 FROM idempotency_records WHERE caller_id = $1 AND idempotency_key = $2`,
        [callerId, key],
      );
      if (rows.length > 0) return database;
    }
    throw new Error(`no record ${callerId}/${key}`);
  }

  it('purges only expired records, in batches, and a reused expired key does not move money twice', async () => {
    const alice = customer(uniqueKey('alice'));
    const A = await createWalletAs(app, alice);
    const B = await createWalletAs(app, customer(uniqueKey('bob')));
    const funded = await app.inject({
      method: 'POST',
      url: `/v1/wallets/${A.id}/deposits`,
      headers: { ...authHeaders(FINANCE), 'idempotency-key': uniqueKey('fund') },
      payload: { amount: 10_000 },
    });
    expect(funded.statusCode).toBe(201);

    const [oldKey, freshKey] = [uniqueKey('old'), uniqueKey('fresh')];
    const body = { fromWalletId: A.id, toWalletId: B.id, amount: 100 };
    const first = await transferAs(app, alice, body, oldKey, { prefer: 'wait=30' });
    expect(first.json<{ status: string }>().status).toBe('COMPLETED');
    expect((await transferAs(app, alice, { ...body, amount: 200 }, freshKey, { prefer: 'wait=30' })).statusCode).toBe(
      200,
    );

    // seven long-expired records of someone else on alice's database, and alice's first key expired just
    // now (its Redis copy expires with it: both have the same TTL)
    const home = await holderOf(alice.sub, oldKey);
    let stranger = uniqueKey('stranger');
    while (app.shards.forOwner(stranger) !== home) stranger = uniqueKey('stranger');
    for (let i = 0; i < 7; i++) {
      await query(
        home.store,
        `INSERT INTO idempotency_records (caller_id, idempotency_key, request_hash, resource_type, resource_id, expires_at)
         VALUES ($1, $2, 'h', 'transfer', $3, now() - interval '1 hour')`,
        [stranger, `k${i}`, randomUUID()],
      );
    }
    await query(
      home.store,
      `UPDATE idempotency_records SET expires_at = now() - interval '1 second' WHERE caller_id = $1 AND idempotency_key = $2`,
      [alice.sub, oldKey],
    );
    await app.redis.del(`idem:${encodeURIComponent(alice.sub)}:${oldKey}`);
    const entriesBefore = await journalEntriesOf(app.shards, first.json<{ id: string }>().id);

    // batches of 3, at most 2 per database and run: the first run stops after 6 there and says there is
    // more (every other database: one statement, nothing to delete)
    expect(await purge('maintenance/retention-batches')).toEqual({
      deleted: 6,
      batches: 2 + app.shards.databases.length - 1,
      more: true,
    });
    for (let i = 0; i < 5 && (await purge()).more; i++);
    expect(await records(stranger)).toEqual([]);
    expect(await records(alice.sub)).toEqual([freshKey]); // the unexpired one stays

    // the same request again: the transfer the key names, replayed, nothing moved
    const replay = await transferAs(app, alice, body, oldKey);
    expect(replay.statusCode).toBe(202);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toMatchObject({ id: first.json<{ id: string }>().id, status: 'COMPLETED' });
    // another request under the old key: refused, nothing moved
    const reused = await transferAs(app, alice, { ...body, amount: 999 }, oldKey);
    expect(reused.statusCode).toBe(422);
    expect(reused.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });

    expect(await getWallet(app, A.id)).toMatchObject({ balance: 10_000 - 100 - 200, held: 0 });
    // the transfer's entries (one, or a debit and a credit across shards) are what they were
    expect(await journalEntriesOf(app.shards, first.json<{ id: string }>().id)).toBe(entriesBefore);
    expect(entriesBefore).toBeGreaterThan(0);
  });
});
