import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { Client as PgClient } from 'pg';
import { authHeaders } from '../support/auth';
import { testConfig } from '../support/env';
import { TcpProxy } from '../support/tcp-proxy';
import {
  ADMIN,
  closedPort,
  createWallet,
  expectProblem,
  FINANCE,
  getWallet,
  ownerOnDatabase,
  postDeposit,
  startApp,
  uniqueKey,
} from '../api/helpers';
import { API_MAIN, getJson, isRetryLine, spawnLogging, until, type LoggingProcess } from './helpers';

/**
 * The API with its database 0 behind a TCP proxy (test/support/tcp-proxy.ts): connections cut under a
 * request, a pool of dead connections, Postgres down at start-up. A request that meets a dropped
 * database connection is answered 503 SHARD_UNAVAILABLE (application/problem+json, Retry-After), never
 * 500, and the API serves again as soon as Postgres is reachable (and the breaker's cooldown is over).
 * The wallets are their owners' on database 0, the one behind the proxy.
 */
describe('API with its database connection dropped', () => {
  const proxy = TcpProxy.to(testConfig().DATABASE_URL);
  let app: FastifyInstance;
  let direct: PgClient;

  beforeAll(async () => {
    await proxy.listen();
    proxy.open();
    app = await startApp({
      DATABASE_URL: proxy.rewrite(testConfig().DATABASE_URL),
      DB_POOL_MAX: '4',
      DEPENDENCY_RETRY_MAX_SECONDS: '0.5',
      SHARD_BREAKER_COOLDOWN_SECONDS: '1',
    });
    direct = new PgClient({ connectionString: testConfig().DATABASE_URL }); // not through the proxy
    await direct.connect();
  });

  afterAll(async () => {
    await app?.close();
    await direct?.end();
    await proxy.stop();
  });

  afterEach(() => proxy.open());

  const readWallet = (id: string) =>
    app.inject({ method: 'GET', url: `/v1/wallets/${id}`, headers: authHeaders(ADMIN) });

  function expectUnavailable(res: LightMyRequestResponse) {
    expect(res.statusCode).not.toBe(500);
    expect(expectProblem(res, 503, 'SHARD_UNAVAILABLE').detail).toMatch(/^database db-0 is unavailable/);
    expect(res.headers['retry-after']).toBe('1');
  }

  /** A wallet on database 0, behind the proxy. */
  const walletOnProxied = () => createWallet(app, 'EUR', ownerOnDatabase(app, 0));

  /** The answer of `request` once it is no longer a 503 (the breaker may still be open for its cooldown). */
  async function once(request: () => Promise<LightMyRequestResponse>): Promise<LightMyRequestResponse> {
    let res = await request();
    const deadline = Date.now() + 10_000;
    while (res.statusCode === 503 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      res = await request();
    }
    return res;
  }

  it('answers 503 to a request whose connection is cut mid-transaction, and serves again right after', async () => {
    const wallet = await walletOnProxied();
    // hold the wallet's row, so the deposit's transaction waits on it with its connection open
    await direct.query('BEGIN');
    await direct.query('SELECT id FROM wallets WHERE id = $1 FOR UPDATE', [wallet.id]);
    const key = uniqueKey('cut');
    let inFlight: Promise<LightMyRequestResponse>;
    try {
      inFlight = postDeposit(app, wallet.id, { amount: 500 }, key);
      await until(
        async () =>
          (
            await direct.query(
              `SELECT 1 FROM pg_stat_activity WHERE pg_backend_pid() = ANY (pg_blocking_pids(pid)) AND application_name = 'wallet-api'`,
            )
          ).rowCount === 1,
        10_000,
        'the deposit to wait on the wallet row',
      );
      proxy.dropAll();
      expectUnavailable(await inFlight);
    } finally {
      await direct.query('ROLLBACK');
    }

    // the proxy still forwards: the pool opens fresh connections, and the same key posts the deposit once
    const retried = await once(() => postDeposit(app, wallet.id, { amount: 500 }, key));
    expect(retried.statusCode).toBe(201);
    expect((await getWallet(app, wallet.id)).balance).toBe(500);
  });

  it('never answers 500 when the pooled connections died while idle', async () => {
    const wallet = await walletOnProxied();
    for (let round = 0; round < 10; round++) {
      // a few connections in the pool, then cut them all and ask at once: a request may get a dead one
      await once(() => readWallet(wallet.id));
      await Promise.all([readWallet(wallet.id), readWallet(wallet.id), readWallet(wallet.id)]);
      proxy.dropAll();
      const answers = await Promise.all([readWallet(wallet.id), readWallet(wallet.id), readWallet(wallet.id)]);
      for (const res of answers) {
        if (res.statusCode !== 200) expectUnavailable(res);
      }
    }
    expect((await once(() => readWallet(wallet.id))).statusCode).toBe(200);
  });

  it('answers 503 while Postgres refuses connections, and 200 once it is back', async () => {
    const wallet = await walletOnProxied();
    proxy.close();
    proxy.dropAll();
    expectUnavailable(await readWallet(wallet.id));
    expectUnavailable(await postDeposit(app, wallet.id, { amount: 100 }));
    const ready = await app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ checks: { postgres: expect.stringMatching(/^unreachable: /) } });

    proxy.open();
    expect((await once(() => readWallet(wallet.id))).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
  });
});

/** The API process's base URL, from Fastify's "Server listening at …" line (PORT=0 picks a free port). */
async function listeningAt(api: LoggingProcess): Promise<string> {
  const line = await api.waitForLine(
    (l) => String(l.msg).startsWith('Server listening at '),
    15_000,
    'the API to listen',
  );
  return String(line.msg).replace('Server listening at ', '');
}

describe('API started while its database is down', () => {
  const proxies: TcpProxy[] = [];
  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.stop()));
  });

  async function closedProxy(): Promise<TcpProxy> {
    const proxy = TcpProxy.to(testConfig().DATABASE_URL);
    proxies.push(proxy);
    await proxy.listen();
    return proxy;
  }

  it('boots, answers 503 on /v1 and /health/ready while waiting, and serves once Postgres is reachable', async () => {
    const proxy = await closedProxy();
    const app = await startApp({
      DATABASE_URL: proxy.rewrite(testConfig().DATABASE_URL),
      DEPENDENCY_RETRY_MAX_SECONDS: '0.3',
    });
    try {
      expect((await app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
      const ready = await app.inject({ method: 'GET', url: '/health/ready' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toMatchObject({
        status: 'unavailable',
        checks: { postgres: 'unreachable: not connected yet' },
      });
      const refused = await app.inject({
        method: 'GET',
        url: `/v1/wallets/${randomUUID()}`,
        headers: authHeaders(ADMIN),
      });
      expectProblem(refused, 503, 'SERVICE_UNAVAILABLE');
      // the caller's own mistakes still come first
      expectProblem(await app.inject({ method: 'GET', url: `/v1/wallets/${randomUUID()}` }), 401, 'UNAUTHENTICATED');

      proxy.open();
      const isReady = async () => (await app.inject({ method: 'GET', url: '/health/ready' })).statusCode === 200;
      await until(isReady, 10_000, 'the API to be ready');
      const wallet = await createWallet(app);
      expect((await postDeposit(app, wallet.id, { amount: 700 }, uniqueKey('late'), FINANCE)).statusCode).toBe(201);
    } finally {
      await app.close();
    }
  });

  it('as a process: does not exit, logs one JSON retry line per attempt, and serves once Postgres is reachable', async () => {
    if (!fs.existsSync(API_MAIN)) throw new Error(`${API_MAIN} is missing: run \`npm run build\` first`);
    const proxy = await closedProxy();
    const api: LoggingProcess = spawnLogging(API_MAIN, {
      PORT: '0',
      DATABASE_URL: proxy.rewrite(testConfig().DATABASE_URL),
      DEPENDENCY_RETRY_MAX_SECONDS: '0.3',
    });
    try {
      const base = await listeningAt(api);
      await api.waitForLine(
        (l) => isRetryLine('postgres')(l) && (l.attempt as number) >= 3,
        15_000,
        '3 postgres retry lines',
      );
      expect(api.alive()).toBe(true);

      expect((await getJson(`${base}/health/live`)).status).toBe(200);
      const refused = await getJson(`${base}/v1/wallets/${randomUUID()}`, authHeaders(ADMIN));
      expect(refused.status).toBe(503);
      expect(refused.type).toMatch(/^application\/problem\+json/);
      expect(refused.body).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });

      proxy.open();
      await api.waitForLine((l) => l.msg === 'postgres connected', 10_000, 'the API to reach Postgres');
      const missing = await getJson(`${base}/v1/wallets/${randomUUID()}`, authHeaders(ADMIN));
      expect(missing.body).toMatchObject({ status: 404, code: 'WALLET_NOT_FOUND' });

      expect(await api.stop()).toBe(0);
      expect(api.nonJsonLines()).toEqual([]);
      expect(api.jsonLines(isRetryLine('postgres')).length).toBeGreaterThanOrEqual(3);
    } finally {
      await api.stop();
    }
  });

  it('as a process with Redis and Temporal down too: serves what needs neither, writing JSON lines only', async () => {
    const proxy = await closedProxy();
    const api: LoggingProcess = spawnLogging(API_MAIN, {
      PORT: '0',
      DATABASE_URL: proxy.rewrite(testConfig().DATABASE_URL),
      REDIS_URL: `redis://127.0.0.1:${await closedPort()}`,
      TEMPORAL_ADDRESS: `127.0.0.1:${await closedPort()}`,
      DEPENDENCY_RETRY_MAX_SECONDS: '0.3',
    });
    try {
      const base = await listeningAt(api);
      proxy.open();
      await api.waitForLine((l) => l.msg === 'postgres connected', 10_000, 'the API to reach Postgres');
      const ready = await getJson(`${base}/health/ready`);
      const unreachable = expect.stringMatching(/^unreachable/);
      expect(ready).toMatchObject({
        status: 503,
        body: { checks: { postgres: 'ok', redis: unreachable, temporal: unreachable } },
      });
      const missing = await getJson(`${base}/v1/wallets/${randomUUID()}`, authHeaders(ADMIN));
      expect(missing.body).toMatchObject({ status: 404, code: 'WALLET_NOT_FOUND' });
      await new Promise((r) => setTimeout(r, 1000)); // a few Redis reconnect attempts
      expect(await api.stop()).toBe(0);
      expect(api.nonJsonLines()).toEqual([]);
      expect(api.output()).not.toContain('Unhandled error event');
      expect(api.jsonLines((l) => l.dependency === 'redis')).toHaveLength(1);
    } finally {
      await api.stop();
    }
  });
});
