import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { buildApp } from '../../api/app';
import { FallbackRateLimitStore } from '../../api/plugins/rate-limit-store';
import { countOnEvery, customer, startApp, uniqueKey } from '../api/helpers';
import { authHeaders, type TestCaller } from '../support/auth';
import { testConfig, uniqueTaskQueue } from '../support/env';
import { TcpProxy } from '../support/tcp-proxy';
import { createWalletAs, transferAs } from './fixtures';

/** Rate limits per caller and route class, in Redis, and in memory while Redis does not answer (docs/security.md). */
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
      const written = await countOnEvery(
        app.shards,
        `SELECT (SELECT count(*) FROM transfers WHERE idempotency_key = $1)
              + (SELECT count(*) FROM idempotency_records WHERE idempotency_key = $1) AS n`,
        [key],
      );
      expect(written).toBe(0);
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

  describe('when Redis does not answer', () => {
    const FALLBACK_ON = 'rate limit falling back to in-memory counting';
    const FALLBACK_OFF = 'rate limit back to Redis';
    const redisUrl = testConfig().REDIS_URL;
    const proxy = TcpProxy.to(redisUrl);
    let app: FastifyInstance; // its Redis through the proxy
    let peer: FastifyInstance; // a second API instance on the same Redis, directly
    const logs: Array<{ level: number; msg: string }> = [];
    let storeErrors = 0;
    let eve: TestCaller;
    let url: string;

    async function until(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!probe()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const get = (via: FastifyInstance) => via.inject({ method: 'GET', url, headers: authHeaders(eve) });
    const remaining = (res: { headers: Record<string, unknown> }) => res.headers['ratelimit-remaining'];
    const scrape = async (via: FastifyInstance) => (await via.inject({ method: 'GET', url: '/metrics' })).payload;
    const fallbackGauge = async (via: FastifyInstance) =>
      Number(/^rate_limit_fallback_active (\d+)$/m.exec(await scrape(via))?.[1]);
    const transitions = () =>
      logs.filter((l) => l.msg === FALLBACK_ON || l.msg === FALLBACK_OFF).map((l) => [l.level, l.msg]);

    beforeAll(async () => {
      await proxy.listen();
      proxy.open();
      const stream = { write: (line: string) => logs.push(JSON.parse(line)) };
      app = await buildApp({
        config: testConfig({ REDIS_URL: proxy.rewrite(redisUrl), RATE_LIMIT_READ: '3' }),
        logger: { level: 'info', stream },
      });
      app.rateLimitEvents.on('storeError', () => (storeErrors += 1));
      peer = await startApp({ RATE_LIMIT_READ: '3' });
      eve = customer(uniqueKey('eve'));
      url = `/v1/wallets/${(await createWalletAs(app, eve)).id}`;
    });
    afterAll(async () => {
      await app?.close();
      await peer?.close();
      await proxy.stop();
    });

    it('counts the same budget in memory: the headers fall request by request, then 429', async () => {
      const before = await get(app);
      expect([before.statusCode, remaining(before)]).toEqual([200, '2']); // in Redis: 1 of 3
      expect(await fallbackGauge(app)).toBe(0);

      proxy.close();
      proxy.dropAll();
      await until('the app to notice Redis is gone', () => app.redis.status !== 'ready');

      // this process alone counts now, from its own (empty) window
      const during = [await get(app), await get(app), await get(app), await get(app)];
      expect(during.map((r) => [r.statusCode, r.headers['ratelimit-limit'], remaining(r)])).toEqual([
        [200, '3', '2'],
        [200, '3', '1'],
        [200, '3', '0'],
        [429, '3', '0'],
      ]);
      const refused = during[3]!;
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(refused.json()).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
      const retryAfter = Number(refused.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(app.config.RATE_LIMIT_WINDOW_SECONDS);
      expect(Number(refused.headers['ratelimit-reset'])).toBe(retryAfter);

      // the outage is on the gauge, in one log line, and every check counted in memory is counted
      expect(await fallbackGauge(app)).toBe(1);
      expect(transitions()).toEqual([[40, FALLBACK_ON]]);
      expect(storeErrors).toBe(4);
      expect(Number(/^rate_limit_store_errors_total (\d+)$/m.exec(await scrape(app))?.[1])).toBe(storeErrors);

      // the other instance still reaches Redis and counts there (2 of 3): one budget per instance at most
      const elsewhere = await get(peer);
      expect([elsewhere.statusCode, remaining(elsewhere)]).toEqual([200, '1']);
      expect(await fallbackGauge(peer)).toBe(0);
    });

    it('counts in Redis again once it answers, shared with the other instance; one log line each way', async () => {
      proxy.open();
      await until('the app to reconnect to Redis', () => app.redis.status === 'ready', 15_000);

      // Redis's count goes on (3 of 3), where the in-memory one would refuse
      const after = await get(app);
      expect([after.statusCode, remaining(after)]).toEqual([200, '0']);
      expect(await peer.redis.get(`rl:read:${eve.sub}`)).toBe('3');
      expect(await fallbackGauge(app)).toBe(0);
      expect(transitions()).toEqual([
        [40, FALLBACK_ON],
        [30, FALLBACK_OFF],
      ]);

      // one budget again for both instances
      expect((await get(peer)).statusCode).toBe(429);
      expect((await get(app)).statusCode).toBe(429);
      expect(await peer.redis.get(`rl:read:${eve.sub}`)).toBe('5');
      expect(transitions()).toHaveLength(2);
    });
  });

  describe('the fallback store', () => {
    const WINDOW = 60_000;
    type Answer = (err: Error | null, res?: [number, number]) => void;
    /** A Redis client stand-in whose rate-limit script hangs, fails or answers, as told. */
    function fakeRedis() {
      const fake = {
        status: 'ready',
        mode: 'hang' as 'hang' | 'fail' | 'answer',
        answer: [7, 500] as [number, number],
        late: [] as Answer[],
        expiries: [] as Array<[string, number]>,
        pexpire: async (key: string, ms: number) => fake.expiries.push([key, ms]),
        // @fastify/rate-limit's RedisStore: rateLimit(key, timeWindow, max, continueExceeding, exponentialBackoff, cb)
        rateLimit(...args: unknown[]) {
          const cb = args.at(-1) as Answer;
          if (fake.mode === 'hang') fake.late.push(cb);
          else if (fake.mode === 'fail') setImmediate(() => cb(new Error('connection is closed')));
          else setImmediate(() => cb(null, fake.answer));
        },
      };
      return fake;
    }
    function storeOn(redis: ReturnType<typeof fakeRedis>, changes: boolean[]) {
      return new FallbackRateLimitStore({
        redis: redis as unknown as Redis,
        nameSpace: 'rl:',
        redisTimeoutMs: 50,
        localKeys: 100,
        onMiss: () => undefined,
        onFallback: (active) => changes.push(active),
      });
    }
    function incr(store: FallbackRateLimitStore, key: string): Promise<{ current: number; ttl: number; ms: number }> {
      const started = Date.now();
      return new Promise((resolve, reject) =>
        store.incr(
          key,
          (err, res) =>
            err || !res
              ? reject(err ?? new Error('no answer from the store'))
              : resolve({ ...res, ms: Date.now() - started }),
          WINDOW,
          3,
        ),
      );
    }

    it('waits for a silent Redis no longer than its bound, and for an absent one not at all', async () => {
      const redis = fakeRedis();
      const changes: boolean[] = [];
      const store = storeOn(redis, changes);

      const first = await incr(store, 'k');
      expect(first).toMatchObject({ current: 1 });
      expect(first.ttl).toBeLessThanOrEqual(WINDOW);
      expect(first.ms).toBeGreaterThanOrEqual(45);
      expect(first.ms).toBeLessThan(1000);
      expect(store.fallbackActive).toBe(true);

      // one check at a time asks Redis again; the others count in memory at once
      const [probe, meanwhile] = await Promise.all([incr(store, 'k'), incr(store, 'k')]);
      expect(meanwhile).toMatchObject({ current: 2 });
      expect(meanwhile.ms).toBeLessThan(45);
      expect(probe).toMatchObject({ current: 3 });
      redis.status = 'reconnecting';
      expect(await incr(store, 'k')).toMatchObject({ current: 4 });
      expect(redis.late).toHaveLength(2); // the first and the probe; the others were not put to Redis

      // answers that come too late change nothing (their requests were counted in memory)
      for (const cb of redis.late) cb(null, [1, WINDOW]);
      expect(store.fallbackActive).toBe(true);
      expect(changes).toEqual([true]);
    });

    it('falls back at once on an error, and returns to Redis on its first timely answer', async () => {
      const redis = fakeRedis();
      const changes: boolean[] = [];
      const store = storeOn(redis, changes);
      redis.mode = 'fail';
      expect(await incr(store, 'k')).toMatchObject({ current: 1 });
      expect((await incr(store, 'k')).ms).toBeLessThan(45);
      expect(changes).toEqual([true]);

      redis.mode = 'answer';
      expect(await incr(store, 'k')).toMatchObject({ current: 7, ttl: 500 });
      expect(await incr(store, 'k')).toMatchObject({ current: 7, ttl: 500 });
      expect(store.fallbackActive).toBe(false);
      expect(changes).toEqual([true, false]);

      // a counter in Redis without expiry gets one, rather than limiting for ever
      redis.answer = [2, -1];
      expect(await incr(store, 'k')).toMatchObject({ current: 2, ttl: WINDOW });
      expect(redis.expiries).toEqual([['rl:k', WINDOW]]);
    });
  });
});
