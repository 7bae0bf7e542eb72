import { spawn, type ChildProcess } from 'node:child_process';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app';
import { closedPort, customer, startApp, uniqueKey } from '../api/helpers';
import { authHeaders, type TestCaller } from '../support/auth';
import { testConfig, uniqueTaskQueue } from '../support/env';
import { createWalletAs, transferAs } from './fixtures';

/** Rate limits per caller and route class, in Redis (README "Security"). */
describe('rate limits', () => {
  describe('with small limits', () => {
    let app: FastifyInstance;
    const limited: Array<{ route: string; rateClass: string }> = [];

    beforeAll(async () => {
      app = await startApp({
        RATE_LIMIT_READ: '3',
        RATE_LIMIT_TRANSFER: '1',
        RATE_LIMIT_CREATE_WALLET: '5',
        TEMPORAL_TASK_QUEUE: uniqueTaskQueue('ratelimit'),
      });
      app.rateLimitEvents.on('limited', (e) => limited.push(e));
    });
    afterAll(async () => {
      await app.close();
    });

    const read = (as: TestCaller, url: string) => app.inject({ method: 'GET', url, headers: authHeaders(as) });

    it('answers the n+1-th request of a class with 429, Retry-After and the RateLimit headers', async () => {
      const alice = customer(uniqueKey('alice'));
      const wallet = await createWalletAs(app, alice);

      // one budget for the whole "read" class: two routes draw from it
      const answers = [
        await read(alice, `/v1/wallets/${wallet.id}`),
        await read(alice, `/v1/wallets/${wallet.id}/transactions`),
        await read(alice, `/v1/wallets/${wallet.id}`),
      ];
      expect(answers.map((r) => r.statusCode)).toEqual([200, 200, 200]);
      expect(answers.map((r) => [r.headers['ratelimit-limit'], r.headers['ratelimit-remaining']])).toEqual([
        ['3', '2'],
        ['3', '1'],
        ['3', '0'],
      ]);

      const refused = await read(alice, `/v1/wallets/${wallet.id}/transactions`);
      expect(refused.statusCode).toBe(429);
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(refused.json()).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
      const retryAfter = Number(refused.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(app.config.RATE_LIMIT_WINDOW_SECONDS);
      expect(refused.headers['ratelimit-limit']).toBe('3');
      expect(refused.headers['ratelimit-remaining']).toBe('0');
      expect(Number(refused.headers['ratelimit-reset'])).toBe(retryAfter);
      expect(limited).toContainEqual({ route: '/v1/wallets/:id/transactions', rateClass: 'read' });
      const scraped = (await app.inject({ method: 'GET', url: '/metrics' })).payload;
      expect(scraped).toMatch(/^rate_limited_total\{route="\/v1\/wallets\/:id\/transactions"\} [1-9]/m);

      // per caller: bob still has his budget; per class: alice may still create wallets
      const bob = customer(uniqueKey('bob'));
      const bobs = await createWalletAs(app, bob);
      expect((await read(bob, `/v1/wallets/${bobs.id}`)).statusCode).toBe(200);
      expect((await createWalletAs(app, alice)).ownerId).toBe(alice.sub);
    });

    it('refuses before doing anything: a rate-limited transfer writes nothing', async () => {
      const carol = customer(uniqueKey('carol'));
      const [from, to] = [await createWalletAs(app, carol), await createWalletAs(app, carol)];
      const first = await transferAs(app, carol, { fromWalletId: from.id, toWalletId: to.id, amount: 1 });
      const key = uniqueKey('limited');
      const second = await transferAs(app, carol, { fromWalletId: from.id, toWalletId: to.id, amount: 1 }, key);

      expect(first.statusCode).toBe(202); // (fails later in the saga: no funds; the limit counts requests)
      expect(second.statusCode).toBe(429);
      const rows: Array<{ n: number }> = await app.db.query(
        `SELECT (SELECT count(*) FROM transfers WHERE idempotency_key = $1)
              + (SELECT count(*) FROM idempotency_records WHERE idempotency_key = $1) AS n`,
        [key],
      );
      expect(Number(rows[0]!.n)).toBe(0);
    });

    it('does not limit the public routes', async () => {
      const codes = [];
      for (let i = 0; i < 6; i++) codes.push((await app.inject({ method: 'GET', url: '/health/live' })).statusCode);
      expect(codes).toEqual(Array(6).fill(200));
    });
  });

  it('opens a new window once the old one has passed', async () => {
    const app = await startApp({ RATE_LIMIT_READ: '1', RATE_LIMIT_WINDOW_SECONDS: '1' });
    try {
      const dan = customer(uniqueKey('dan'));
      const wallet = await createWalletAs(app, dan);
      const url = `/v1/wallets/${wallet.id}`;
      expect((await app.inject({ method: 'GET', url, headers: authHeaders(dan) })).statusCode).toBe(200);
      const refused = await app.inject({ method: 'GET', url, headers: authHeaders(dan) });
      expect(refused.statusCode).toBe(429);
      await new Promise((r) => setTimeout(r, Number(refused.headers['retry-after']) * 1000 + 100));
      expect((await app.inject({ method: 'GET', url, headers: authHeaders(dan) })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  describe('when Redis stops', () => {
    let redis: ChildProcess | undefined;
    let port: number;
    let app: FastifyInstance;
    const logs: Array<{ level: number; msg: string }> = [];
    let storeErrors = 0;

    function startRedis(): Promise<ChildProcess> {
      return new Promise((resolve, reject) => {
        const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        child.stdout!.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('Ready to accept connections')) resolve(child);
        });
        child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
      });
    }

    function stopRedis(): Promise<void> {
      const child = redis;
      redis = undefined;
      if (!child || child.exitCode !== null) return Promise.resolve();
      return new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    }

    async function until(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!probe()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }

    beforeAll(async () => {
      port = await closedPort();
      redis = await startRedis();
      const stream = { write: (line: string) => logs.push(JSON.parse(line)) };
      app = await buildApp({
        config: testConfig({ REDIS_URL: `redis://127.0.0.1:${port}`, RATE_LIMIT_READ: '2' }),
        logger: { level: 'info', stream },
      });
      app.rateLimitEvents.on('storeError', () => (storeErrors += 1));
    });
    afterAll(async () => {
      await app?.close();
      await stopRedis();
    });

    it('lets requests through (fail-open), logs the outage once and counts every miss', async () => {
      const eve = customer(uniqueKey('eve'));
      const wallet = await createWalletAs(app, eve);
      const get = () => app.inject({ method: 'GET', url: `/v1/wallets/${wallet.id}`, headers: authHeaders(eve) });

      // the limiter works while Redis runs
      expect([(await get()).statusCode, (await get()).statusCode, (await get()).statusCode]).toEqual([200, 200, 429]);

      await stopRedis();
      await until('the app to notice Redis is gone', () => app.redis.status !== 'ready');
      const during = [];
      for (let i = 0; i < 5; i++) during.push((await get()).statusCode);

      expect(during).toEqual([200, 200, 200, 200, 200]);
      expect(storeErrors).toBeGreaterThanOrEqual(5);
      const warnings = logs.filter((l) => l.msg === 'rate limiting unavailable (redis); letting requests through');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.level).toBe(40);
      const scraped = (await app.inject({ method: 'GET', url: '/metrics' })).payload;
      expect(Number(/^rate_limit_store_errors_total (\d+)/m.exec(scraped)?.[1])).toBe(storeErrors);

      // Redis back (empty: a new window): limits apply again, and the recovery is logged
      redis = await startRedis();
      await until('the app to reconnect to Redis', () => app.redis.status === 'ready', 15_000);
      expect([(await get()).statusCode, (await get()).statusCode, (await get()).statusCode]).toEqual([200, 200, 429]);
      expect(logs.filter((l) => l.msg === 'rate limiting available again')).toHaveLength(1);
    });
  });
});
