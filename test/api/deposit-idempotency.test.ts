import type { FastifyInstance } from 'fastify';
import {
  closedPort,
  createWallet,
  expectProblem,
  FINANCE,
  getWallet,
  idempotencyRecordCount,
  lineCount,
  postDeposit,
  startApp,
  uniqueKey,
} from './helpers';
import type { Store } from '../../db/store';
import { query } from '../support/sql';

/** Journal entries with this id on every wallet database. */
async function journalEntryCountForKey(app: FastifyInstance, depositId: string): Promise<number> {
  let n = 0;
  for (const db of app.shards.databases) n += await entriesOn(db.store, depositId);
  return n;
}

async function entriesOn(store: Store, depositId: string): Promise<number> {
  const rows: Array<{ n: number }> = await query(
    store,
    `SELECT count(*)::int AS n FROM journal_entries WHERE id = $1`,
    [depositId],
  );
  return rows[0]!.n;
}

describe('POST /v1/wallets/:id/deposits idempotency', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(async () => {
    await app.close();
  });

  it('replays the same key and body with a byte-identical body, Idempotent-Replayed and one journal entry', async () => {
    const wallet = await createWallet(app);
    const key = uniqueKey();

    const first = await postDeposit(app, wallet.id, { amount: 1250, reference: 'invoice 7' }, key);
    // same body with its keys in another order: canonical JSON hashes it identically
    const second = await postDeposit(app, wallet.id, { reference: 'invoice 7', amount: 1250 }, key);

    expect(first.statusCode).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(second.statusCode).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.payload).toBe(first.payload);
    const deposit = first.json<{ id: string; amount: number; balanceAfter: number; walletId: string }>();
    expect(deposit).toMatchObject({ walletId: wallet.id, amount: 1250, balanceAfter: 1250 });
    expect(await journalEntryCountForKey(app, deposit.id)).toBe(1);
    expect((await getWallet(app, wallet.id)).balance).toBe(1250);
  });

  it('converges 20 concurrent requests with one key on one journal entry and identical bodies', async () => {
    const wallet = await createWallet(app);
    const key = uniqueKey();

    const responses = await Promise.all(
      Array.from({ length: 20 }, () => postDeposit(app, wallet.id, { amount: 700 }, key)),
    );

    expect(responses.map((r) => r.statusCode)).toEqual(Array(20).fill(201));
    expect(new Set(responses.map((r) => r.payload)).size).toBe(1);
    // Every request that found the key claimed is a replay, even if it happened to run the (idempotent)
    // posting first; so at most one, the claimant, may lack the header.
    const replayed = responses.filter((r) => r.headers['idempotent-replayed'] === 'true');
    expect(replayed.length).toBeGreaterThanOrEqual(19);
    const { id } = responses[0]!.json<{ id: string }>();
    expect(await journalEntryCountForKey(app, id)).toBe(1);
    expect(await lineCount(app.shards, wallet.id)).toBe(1);
    expect((await getWallet(app, wallet.id)).balance).toBe(700);
  });

  it('refuses the same key with another amount with 422 and writes nothing', async () => {
    const wallet = await createWallet(app);
    const key = uniqueKey();
    const first = await postDeposit(app, wallet.id, { amount: 500 }, key);
    expect(first.statusCode).toBe(201);

    const reused = await postDeposit(app, wallet.id, { amount: 501 }, key);
    // also refused when the cache is bypassed: a different body on another wallet
    const otherWallet = await createWallet(app);
    const elsewhere = await postDeposit(app, otherWallet.id, { amount: 500 }, key);

    expectProblem(reused, 422, 'IDEMPOTENCY_KEY_REUSED');
    expectProblem(elsewhere, 422, 'IDEMPOTENCY_KEY_REUSED');
    expect((await getWallet(app, wallet.id)).balance).toBe(500);
    expect(await lineCount(app.shards, wallet.id)).toBe(1);
    expect(await lineCount(app.shards, otherWallet.id)).toBe(0);
    expect(await idempotencyRecordCount(app.shards, key)).toBe(1);
  });

  it('releases the key when the deposit fails for a business reason, so it can be retried once fixed', async () => {
    const key = uniqueKey();
    const missingWallet = '00000000-0000-4000-8000-000000000000';

    const failed = await postDeposit(app, missingWallet, { amount: 300 }, key);
    expectProblem(failed, 404, 'WALLET_NOT_FOUND');
    expect(await idempotencyRecordCount(app.shards, key)).toBe(0);

    const wallet = await createWallet(app);
    const retried = await postDeposit(app, wallet.id, { amount: 300 }, key);
    expect(retried.statusCode).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    expect((await getWallet(app, wallet.id)).balance).toBe(300);
  });

  it('keeps the record in Postgres for the configured TTL and caches it in Redis', async () => {
    const wallet = await createWallet(app);
    const key = uniqueKey();
    await postDeposit(app, wallet.id, { amount: 100 }, key);

    // on the caller's database: a record lives on its caller's shard
    const rows: Array<{ ttl: number; resource_type: string }> = await query(
      app.shards.forOwner(FINANCE.sub).store,
      `SELECT extract(epoch FROM expires_at - created_at)::int AS ttl, resource_type
         FROM idempotency_records WHERE caller_id = $2 AND idempotency_key = $1`,
      [key, FINANCE.sub],
    );
    expect(rows).toEqual([{ ttl: app.config.IDEMPOTENCY_TTL_SECONDS, resource_type: 'deposit' }]);
    const cached = await app.redis.get(`idem:${FINANCE.sub}:${key}`);
    expect(JSON.parse(cached!)).toMatchObject({ resourceType: 'deposit' });
    const ttl = await app.redis.ttl(`idem:${FINANCE.sub}:${key}`);
    expect(ttl).toBeGreaterThan(app.config.IDEMPOTENCY_TTL_SECONDS - 60);
    expect(ttl).toBeLessThanOrEqual(app.config.IDEMPOTENCY_TTL_SECONDS);
  });

  it('answers from Postgres when the Redis cache lost the record', async () => {
    const wallet = await createWallet(app);
    const key = uniqueKey();
    const first = await postDeposit(app, wallet.id, { amount: 900 }, key);
    await app.redis.del(`idem:${FINANCE.sub}:${key}`);

    const replay = await postDeposit(app, wallet.id, { amount: 900 }, key);
    const reused = await postDeposit(app, wallet.id, { amount: 901 }, key);

    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.payload).toBe(first.payload);
    expectProblem(reused, 422, 'IDEMPOTENCY_KEY_REUSED');
    expect((await getWallet(app, wallet.id)).balance).toBe(900);
  });

  it('refuses a key whose record was purged when it comes back with a different deposit', async () => {
    const wallet = await createWallet(app);
    const key = uniqueKey();
    const first = await postDeposit(app, wallet.id, { amount: 100 }, key);
    expect(first.statusCode).toBe(201);
    // what an expiry clean-up would do
    await query(
      app.shards.forOwner(FINANCE.sub).store,
      `DELETE FROM idempotency_records WHERE caller_id = $2 AND idempotency_key = $1`,
      [key, FINANCE.sub],
    );
    await app.redis.del(`idem:${FINANCE.sub}:${key}`);

    // the deposit id derives from the key, so it names the old deposit: refuse, never replay it
    const reused = await postDeposit(app, wallet.id, { amount: 200 }, key);
    // the same request again is still answered from the deposit itself
    const replay = await postDeposit(app, wallet.id, { amount: 100 }, key);

    expectProblem(reused, 422, 'IDEMPOTENCY_KEY_REUSED');
    expect(replay.payload).toBe(first.payload);
    expect((await getWallet(app, wallet.id)).balance).toBe(100);
    expect(await lineCount(app.shards, wallet.id)).toBe(1);
  });

  describe('while Redis is down', () => {
    let noRedis: FastifyInstance;

    beforeAll(async () => {
      noRedis = await startApp({ REDIS_URL: `redis://127.0.0.1:${await closedPort()}` });
    });
    afterAll(async () => {
      await noRedis.close();
    });

    it('still deposits, replays and refuses reused keys, from Postgres alone', async () => {
      const wallet = await createWallet(noRedis);
      const key = uniqueKey();

      const first = await postDeposit(noRedis, wallet.id, { amount: 4200 }, key);
      const replay = await postDeposit(noRedis, wallet.id, { amount: 4200 }, key);
      const reused = await postDeposit(noRedis, wallet.id, { amount: 1 }, key);
      // and the app with a working Redis agrees: losing Redis lost nothing
      const elsewhere = await postDeposit(app, wallet.id, { amount: 4200 }, key);

      expect(first.statusCode).toBe(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.payload).toBe(first.payload);
      expectProblem(reused, 422, 'IDEMPOTENCY_KEY_REUSED');
      expect(elsewhere.payload).toBe(first.payload);
      expect((await getWallet(noRedis, wallet.id)).balance).toBe(4200);
    });
  });
});
