import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { Client as PgClient } from 'pg';
import { maintenanceUrl } from '../../scripts/migrate';
import { authHeaders, type TestCaller } from '../support/auth';
import { testConfig, uniqueTaskQueue } from '../support/env';
import { query } from '../support/sql';
import { startTransferWorker, type RunningWorker } from '../support/transfer-worker';
import { postTransfer, type TransferJson } from '../transfers/helpers';
import {
  ADMIN,
  createWallet,
  customer,
  expectProblem,
  getWallet,
  OPS,
  ownDatabases,
  ownerOnDatabase,
  postDeposit,
  startApp,
  uniqueKey,
  type WalletJson,
} from '../api/helpers';
import { parseMetrics, valueOf } from '../observability/helpers';
import { until } from './helpers';

/**
 * One wallet database taken away while the API runs (ALTER DATABASE … ALLOW_CONNECTIONS false and its
 * sessions terminated, from a maintenance connection: what an outage of that shard looks like to the
 * API). Requests that need it answer 503 SHARD_UNAVAILABLE with Retry-After, at once once its breaker
 * is open; requests that do not need it (a transfer inside the other database included) go on; the
 * breaker's state is a metric; and it all recovers when the database is back. Two databases of this
 * file's own, so no other suite loses one.
 */
describe('a wallet database taken away', () => {
  const own = ownDatabases('outage');
  const env = { ...own.overrides, SHARD_BREAKER_COOLDOWN_SECONDS: '1', TEMPORAL_TASK_QUEUE: uniqueTaskQueue('outage') };
  let app: FastifyInstance;
  let worker: RunningWorker;
  let maintenance: PgClient;
  let taken = false;

  beforeAll(async () => {
    await own.create();
    worker = await startTransferWorker(testConfig(env));
    app = await startApp(env);
    maintenance = new PgClient({ connectionString: maintenanceUrl(own.databases[1]!.url) });
    await maintenance.connect();
  });
  afterAll(async () => {
    if (taken) await giveBack();
    await app?.close();
    await worker?.stop();
    await maintenance?.end();
    await own.drop();
  });

  async function takeAway() {
    const name = own.nameOf(1);
    await maintenance.query(`ALTER DATABASE "${name}" WITH ALLOW_CONNECTIONS false`);
    taken = true;
    await maintenance.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [name]);
  }
  async function giveBack() {
    await maintenance.query(`ALTER DATABASE "${own.nameOf(1)}" WITH ALLOW_CONNECTIONS true`);
    taken = false;
  }

  const get = (url: string, as: TestCaller = ADMIN) => app.inject({ method: 'GET', url, headers: authHeaders(as) });

  async function breakerOf(store: string): Promise<number | undefined> {
    return valueOf(
      parseMetrics((await app.inject({ method: 'GET', url: '/metrics' })).body).samples,
      'wallet_store_breaker_state',
      {
        store,
      },
    );
  }

  function expectShardUnavailable(res: LightMyRequestResponse) {
    const problem = expectProblem(res, 503, 'SHARD_UNAVAILABLE');
    expect(problem.detail).toBe('database db-1 is unavailable; retry after 1 s');
    expect(res.payload).not.toContain(own.nameOf(1)); // the database's name in the service, never its URL
    expect(res.headers['retry-after']).toBe('1');
  }

  it('answers what needs it 503 at once, serves the rest, shows its breaker, and recovers', async () => {
    const alice = ownerOnDatabase(app, 0, 'alice');
    const [a1, a2] = [await createWallet(app, 'EUR', alice), await createWallet(app, 'EUR', ownerOnDatabase(app, 0))];
    const bob = ownerOnDatabase(app, 1, 'bob');
    const b = await createWallet(app, 'EUR', bob);
    for (const w of [a1, b]) expect((await postDeposit(app, w.id, { amount: 10_000 })).statusCode).toBe(201);
    expect(await breakerOf('db-1')).toBe(0);

    await takeAway();

    // the first requests find it down, and open its breaker; from then on they fail without trying
    expectShardUnavailable(await get(`/v1/wallets/${b.id}`));
    await until(
      async () => (await get(`/v1/wallets/${b.id}`)).statusCode === 503 && (await breakerOf('db-1')) === 2,
      5000,
      'the breaker of db-1 to open',
    );
    for (const request of [
      () => get(`/v1/wallets/${b.id}`),
      () => get(`/v1/wallets/${b.id}/transactions`),
      () => postDeposit(app, b.id, { amount: 1 }),
      () => get('/v1/transfers', OPS), // a list merged across databases needs each of them
      () => get('/v1/audit', OPS),
    ]) {
      const started = performance.now();
      const res = await request();
      const elapsed = performance.now() - started;
      expectShardUnavailable(res);
      expect(elapsed).toBeLessThan(250);
    }
    // a transfer into it: refused before anything is written (the receiver is read on its database)
    const key = uniqueKey('into-the-outage');
    expectShardUnavailable(
      await postTransfer(app, { fromWalletId: a1.id, toWalletId: b.id, amount: 100 }, { key, as: customer(alice) }),
    );
    expect(
      await query(app.shards.databases[0]!.store, `SELECT 1 FROM transfers WHERE idempotency_key = $1`, [key]),
    ).toEqual([]);

    // what needs only database 0 goes on: reads, deposits, a customer's wallets, a transfer inside it
    expect((await get(`/v1/wallets/${a1.id}`)).statusCode).toBe(200);
    expect((await postDeposit(app, a2.id, { amount: 50 })).statusCode).toBe(201);
    const mine = await get('/v1/wallets', customer(alice));
    expect(mine.json<{ items: WalletJson[] }>().items.map((w) => w.id)).toEqual([a1.id]);
    const within = await postTransfer(
      app,
      { fromWalletId: a1.id, toWalletId: a2.id, amount: 1_000 },
      { waitSeconds: 20, as: customer(alice) },
    );
    expect(within.statusCode).toBe(200);
    const done = within.json<TransferJson>();
    expect(done.status).toBe('COMPLETED');
    expect((await get(`/v1/transfers/${done.id}`, customer(alice))).statusCode).toBe(200);
    expect(await getWallet(app, a2.id)).toMatchObject({ balance: 1_050 });
    // ready (database 0 decides), with the outage reported
    const ready = await app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({
      status: 'ok',
      databases: { 'db-0': 'ok', 'db-1': expect.stringMatching(/^unreachable: /) },
    });
    expect(await breakerOf('db-0')).toBe(0);

    await giveBack();

    // once the cooldown is over, one request is let through, and its success closes the breaker
    await until(async () => (await get(`/v1/wallets/${b.id}`)).statusCode === 200, 10_000, 'db-1 to serve again');
    expect(await breakerOf('db-1')).toBe(0);
    expect(await getWallet(app, b.id)).toMatchObject({ balance: 10_000 }); // the refused deposit never happened
    expect((await postDeposit(app, b.id, { amount: 1 })).statusCode).toBe(201);
    const all = await get('/v1/transfers?limit=100', OPS);
    expect(all.statusCode).toBe(200);
    expect(all.json<{ items: TransferJson[] }>().items.map((t) => t.id)).toContain(done.id);
    expect((await app.inject({ method: 'GET', url: '/health/ready' })).json()).toMatchObject({
      databases: { 'db-0': 'ok', 'db-1': 'ok' },
    });
  });
});
