import { randomUUID } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { depositIdFor, systemWalletId, transferIdFor, workflowIdFor } from '../../domain/ids';
import { shardOfId, shardOfOwner, withShard } from '../../domain/shards';
import { recordTransfer } from '../../domain/transfers/records';
import { authHeaders, type TestCaller } from '../support/auth';
import { testConfig, uniqueTaskQueue } from '../support/env';
import { query } from '../support/sql';
import { startTransferWorker, type RunningWorker } from '../support/transfer-worker';
import { postTransfer, type TransferJson } from '../transfers/helpers';
import {
  ADMIN,
  countOnEvery,
  createWallet,
  customer,
  expectProblem,
  FINANCE,
  getWallet,
  idempotencyRecordCount,
  lineCount,
  OPS,
  ownDatabases,
  ownerOnDatabase,
  postDeposit,
  startApp,
  uniqueKey,
  type WalletJson,
} from './helpers';

/**
 * The API on the run's wallet databases (TEST_WALLET_SHARDS of them): every row is read and written on
 * the database its id (or its owner's, or its caller's) routes to, wallets from before sharding keep
 * working where they are, and a transfer whose receiver cannot take it is refused before anything is
 * written. With one database the same requests must give the same answers.
 */
describe('the API on wallet shards', () => {
  let app: FastifyInstance;
  let worker: RunningWorker;
  /**
   * The API on a task queue no worker polls: a transfer it accepts answers 202 PENDING after a second,
   * whatever its saga would do. For what the API alone decides (where the row goes, which refusals it
   * makes before any saga), whether or not the transfer crosses databases.
   */
  let unanswered: FastifyInstance;
  /** the last wallet database: another than database 0 whenever the run has two */
  let other: number;

  beforeAll(async () => {
    const env = { TEMPORAL_TASK_QUEUE: uniqueTaskQueue('shards') };
    worker = await startTransferWorker(testConfig(env));
    app = await startApp(env);
    unanswered = await startApp({
      TEMPORAL_TASK_QUEUE: uniqueTaskQueue('unpolled'),
      TRANSFER_ANSWER_TIMEOUT_SECONDS: '1',
    });
    other = app.shards.databases.length - 1;
  });
  afterAll(async () => {
    await unanswered?.close();
    await app?.close();
    await worker?.stop();
  });

  const get = (url: string, as: TestCaller = ADMIN) => app.inject({ method: 'GET', url, headers: authHeaders(as) });

  it('creates a wallet on its owner’s database, with an id any process routes by alone', async () => {
    for (const index of app.shards.databases.keys()) {
      const ownerId = ownerOnDatabase(app, index);
      const wallet = await createWallet(app, 'EUR', ownerId);
      expect(shardOfId(wallet.id)).toBe(shardOfOwner(ownerId));
      for (const db of app.shards.databases) {
        const rows = await query(db.store, `SELECT 1 FROM wallets WHERE id = $1`, [wallet.id]);
        expect([db.name, rows.length]).toEqual([db.name, db === app.shards.databases[index] ? 1 : 0]);
      }
      // another process: connections of its own, nothing shared with this one but the configuration
      const elsewhere = await startApp();
      try {
        expect(await getWallet(elsewhere, wallet.id, customer(ownerId))).toEqual(wallet);
      } finally {
        await elsewhere.close();
      }
    }
  });

  it('keeps a wallet from before sharding working on database 0: reads, deposits, lists and transfers', async () => {
    // an owner whose new wallets go to the last database, holding a random v4 wallet from before sharding
    const ownerId = ownerOnDatabase(app, other, 'legacy');
    const owner = customer(ownerId);
    const legacyId = randomUUID();
    expect(shardOfId(legacyId)).toBe(0);
    const legacyDb = app.shards.forShard(0);
    await query(
      legacyDb.store,
      `INSERT INTO wallets (id, owner_id, kind, currency) VALUES ($1, $2, 'customer', 'EUR')`,
      [legacyId, ownerId],
    );

    expect(await getWallet(app, legacyId, owner)).toMatchObject({
      id: legacyId,
      ownerId,
      balance: 0,
      status: 'active',
    });
    const deposit = await postDeposit(app, legacyId, { amount: 5_000, reference: 'legacy funding' });
    expect(deposit.statusCode).toBe(201);
    // from shard 0's system account (external:EUR, the one from before sharding), on database 0
    const lines = await query<{ wallet_id: string }>(
      legacyDb.store,
      `SELECT wallet_id FROM ledger_lines WHERE entry_id = $1 ORDER BY amount`,
      [deposit.json<{ id: string }>().id],
    );
    expect(lines.map((l) => l.wallet_id)).toEqual([systemWalletId('EUR', 0), legacyId]);

    // the owner's wallets: the new one on its own database and the old one, in one list
    const fresh = await createWallet(app, 'EUR', ownerId);
    const listed = await get('/v1/wallets', owner);
    expect(listed.statusCode).toBe(200);
    expect(
      listed
        .json<{ items: WalletJson[] }>()
        .items.map((w) => w.id)
        .sort(),
    ).toEqual([legacyId, fresh.id].sort());

    // a transfer out of it lives on database 0 under the id from before sharding (shard 0: v5)
    const receiver = await createWallet(app, 'EUR', ownerOnDatabase(app, app.shards.databases.indexOf(legacyDb)));
    const key = uniqueKey('legacy-transfer');
    const sent = await postTransfer(
      app,
      { fromWalletId: legacyId, toWalletId: receiver.id, amount: 1_200 },
      { key, waitSeconds: 20, as: owner },
    );
    expect(sent.statusCode).toBe(200);
    const transfer = sent.json<TransferJson>();
    expect(transfer).toMatchObject({ id: transferIdFor(ownerId, key), status: 'COMPLETED' });
    expect(
      await countOnEvery(legacyDb.store, `SELECT count(*)::int AS n FROM transfers WHERE id = $1`, [transfer.id]),
    ).toBe(1);
    expect(await getWallet(app, legacyId)).toMatchObject({ balance: 3_800, held: 0 });
    expect(await getWallet(app, receiver.id)).toMatchObject({ balance: 1_200 });
    const ofWallet = await get(`/v1/transfers?walletId=${legacyId}`, owner);
    expect(ofWallet.json<{ items: TransferJson[] }>().items.map((t) => t.id)).toEqual([transfer.id]);
    const mine = await get('/v1/transfers', owner);
    expect(mine.json<{ items: TransferJson[] }>().items.map((t) => t.id)).toContain(transfer.id);

    // and to the owner's new wallet on the other database: accepted, recorded on the sender's database 0
    const crossKey = uniqueKey('legacy-cross');
    const crossing = await postTransfer(
      unanswered,
      { fromWalletId: legacyId, toWalletId: fresh.id, amount: 100 },
      { key: crossKey, as: owner },
    );
    expect(crossing.statusCode).toBe(202);
    expect(crossing.json<TransferJson>()).toMatchObject({ id: transferIdFor(ownerId, crossKey), status: 'PENDING' });
    expect(
      await countOnEvery(legacyDb.store, `SELECT count(*)::int AS n FROM transfers WHERE idempotency_key = $1`, [
        crossKey,
      ]),
    ).toBe(1);
  });

  it('refuses a finance key reused for a deposit into a wallet on another database, writing nothing', async () => {
    const first = await createWallet(app, 'EUR', ownerOnDatabase(app, 0));
    const second = await createWallet(app, 'EUR', ownerOnDatabase(app, other));
    const key = uniqueKey('one-key');

    expect((await postDeposit(app, first.id, { amount: 100 }, key)).statusCode).toBe(201);
    expectProblem(await postDeposit(app, second.id, { amount: 100 }, key), 422, 'IDEMPOTENCY_KEY_REUSED');
    // and from Postgres alone, the cache lost: the record is one, on the caller's database
    await app.redis.del(`idem:${FINANCE.sub}:${key}`);
    expectProblem(await postDeposit(app, second.id, { amount: 100 }, key), 422, 'IDEMPOTENCY_KEY_REUSED');

    expect(await lineCount(app.shards, second.id)).toBe(0);
    expect((await getWallet(app, second.id)).balance).toBe(0);
    const entries = await query<{ n: number }>(
      app.shards.forWallet(second.id).store,
      `SELECT count(*)::int AS n FROM journal_entries WHERE id = $1`,
      [depositIdFor(FINANCE.sub, key)],
    );
    expect(entries[0]!.n).toBe(app.shards.forWallet(second.id) === app.shards.forWallet(first.id) ? 1 : 0);
    expect(await idempotencyRecordCount(app.shards, key)).toBe(1);
    expect(await idempotencyRecordCount(app.shards.forOwner(FINANCE.sub).store, key)).toBe(1);
  });

  it('refuses at once (422, nothing written) a receiver missing, frozen or of another currency on its database', async () => {
    const senderOwner = ownerOnDatabase(app, 0);
    const sender = await createWallet(app, 'EUR', senderOwner);
    await postDeposit(app, sender.id, { amount: 1_000 });
    const frozen = await createWallet(app, 'EUR', ownerOnDatabase(app, other));
    const freeze = await app.inject({
      method: 'POST',
      url: `/v1/wallets/${frozen.id}/freeze`,
      headers: authHeaders(ADMIN),
      payload: { reason: 'receiver under review' },
    });
    expect(freeze.statusCode).toBe(200);
    const dollars = await createWallet(app, 'USD', ownerOnDatabase(app, other));
    // an id of a logical shard on that database, which no wallet has
    const missing = withShard(randomUUID(), shardOfOwner(ownerOnDatabase(app, other)));

    const keys: string[] = [];
    for (const [to, code] of [
      [missing, 'WALLET_NOT_FOUND'],
      [frozen.id, 'WALLET_NOT_ACTIVE'],
      [dollars.id, 'CURRENCY_MISMATCH'],
    ] as const) {
      const key = uniqueKey('refused-early');
      keys.push(key);
      const res = await postTransfer(app, { fromWalletId: sender.id, toWalletId: to, amount: 100 }, { key });
      const problem = expectProblem(res, 422, code);
      expect(problem.title).toMatch(/^Transfer refused: /);
      expect(problem).not.toHaveProperty('transferId'); // no transfer exists
      expect(problem.detail).toContain(to);
    }
    const written = await countOnEvery(
      app.shards,
      `SELECT (SELECT count(*) FROM transfers WHERE idempotency_key = ANY($1))
            + (SELECT count(*) FROM idempotency_records WHERE idempotency_key = ANY($1))
            + (SELECT count(*) FROM holds WHERE wallet_id = $2) AS n`,
      [keys, sender.id],
    );
    expect(written).toBe(0);
    expect(await getWallet(app, sender.id)).toMatchObject({ balance: 1_000, held: 0 });

    // the key was not spent: once the receiver is active again, the same request goes through
    await app.inject({
      method: 'POST',
      url: `/v1/wallets/${frozen.id}/unfreeze`,
      headers: authHeaders(ADMIN),
      payload: { reason: 'review closed' },
    });
    const retried = await postTransfer(
      unanswered,
      { fromWalletId: sender.id, toWalletId: frozen.id, amount: 100 },
      { key: keys[1] },
    );
    expect(retried.statusCode).toBe(202);
    const recorded = retried.json<TransferJson>();
    expect(recorded).toMatchObject({ status: 'PENDING', fromWalletId: sender.id, toWalletId: frozen.id });
    expect(recorded.id).toBe(transferIdFor(senderOwner, keys[1]!, shardOfId(sender.id)));
    // on the sender's database, under an id that says so
    expect(app.shards.forTransfer(recorded.id)).toBe(app.shards.forWallet(sender.id));
    const rows = await query(app.shards.forWallet(sender.id).store, `SELECT 1 FROM transfers WHERE id = $1`, [
      recorded.id,
    ]);
    expect(rows).toHaveLength(1);
  });

  it('refuses the cursor of a list kept in one database on a list merged across them, and accepts any merged one', async () => {
    expectProblem(await get('/v1/transfers?cursor=12'), 400, 'VALIDATION_FAILED');
    expectProblem(await get(`/v1/audit?cursor=${'1'.repeat(17)}-${'0'.repeat(32)}`), 400, 'VALIDATION_FAILED');
    for (const url of ['/v1/transfers', '/v1/wallets', '/v1/audit']) {
      const past = await get(`${url}?limit=1&cursor=9999999999999999-${'f'.repeat(32)}`); // after every row: the start
      expect([url, past.statusCode]).toEqual([url, 200]);
      const before = await get(`${url}?cursor=0-${'0'.repeat(32)}`); // before every row: nothing
      expect([url, before.json()]).toEqual([url, { items: [], nextCursor: null }]);
    }
  });
});

/**
 * Lists merged across two wallet databases of this file's own (so it sees only its own rows, whatever
 * the run's shard count): walked page by page with small limits while rows keep arriving on both, every
 * row that existed at the start is seen exactly once, newest first, rows created in the same microsecond
 * on both databases included.
 */
describe('lists across wallet databases', () => {
  const own = ownDatabases('lists');
  let app: FastifyInstance;
  const owners: string[][] = [[], []];
  const wallets: string[][] = [[], []];
  let serial = 0;

  beforeAll(async () => {
    await own.create();
    app = await startApp(own.overrides);
    expect(app.shards.databases).toHaveLength(2);
    for (const index of [0, 1]) {
      for (let i = 0; i < 4; i++) {
        const ownerId = ownerOnDatabase(app, index, 'lister');
        owners[index]!.push(ownerId);
        wallets[index]!.push((await createWallet(app, 'EUR', ownerId)).id);
      }
    }
  });
  afterAll(async () => {
    await app?.close();
    await own.drop();
  });

  /** A transfer row on its sender's database, as POST /v1/transfers records it (no saga runs here). */
  async function transferRow(from: string, to: string): Promise<string> {
    const [db] = [0, 1].filter((i) => wallets[i]!.includes(from));
    const callerId = owners[db!]![wallets[db!]!.indexOf(from)]!;
    const key = uniqueKey('row');
    const id = transferIdFor(callerId, key, shardOfId(from));
    await recordTransfer(app.shards.forTransfer(id).store, {
      id,
      callerId,
      idempotencyKey: key,
      requestHash: key,
      fromWalletId: from,
      toWalletId: to,
      amount: 10n,
      currency: 'EUR',
      workflowId: workflowIdFor(id),
    });
    return id;
  }

  /** Rows sent from each database to the other and within it. */
  async function someTransfers(): Promise<string[]> {
    const ids: string[] = [];
    for (const [a, b] of [
      [0, 1],
      [1, 0],
      [0, 0],
      [1, 1],
    ] as const) {
      ids.push(await transferRow(wallets[a]![serial % 4]!, wallets[b]![(serial + 1) % 4]!));
      serial += 1;
    }
    return ids;
  }

  /** Sets `created_at` of rows on both databases to one microsecond: the tie the id (or database) breaks. */
  async function sameMicrosecond(table: 'transfers' | 'wallets', ids: string[]) {
    const at = '2026-11-30T12:00:00.123456Z';
    for (const db of app.shards.databases) {
      await query(db.store, `UPDATE ${table} SET created_at = $1 WHERE id = ANY($2::uuid[])`, [at, ids]);
    }
  }

  /** Every page of `url`, `limit` at a time, calling `between` after each page. */
  async function walk<T>(url: string, as: TestCaller, limit: number, between: () => Promise<unknown>): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 200; pages++) {
      const sep = url.includes('?') ? '&' : '?';
      const res: LightMyRequestResponse = await app.inject({
        method: 'GET',
        url: `${url}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`,
        headers: authHeaders(as),
      });
      expect(res.statusCode).toBe(200);
      const page: { items: T[]; nextCursor: string | null } = res.json();
      expect(page.items.length).toBeLessThanOrEqual(limit);
      items.push(...page.items);
      cursor = page.nextCursor;
      if (!cursor) return items;
      await between();
    }
    throw new Error('the list did not end');
  }

  function expectNewestFirst(createdAts: string[]) {
    const sorted = [...createdAts].sort().reverse();
    expect(createdAts).toEqual(sorted);
  }

  it('pages through every transfer of both databases once, newest first, while more are written', async () => {
    const existing = [...(await someTransfers()), ...(await someTransfers()), ...(await someTransfers())];
    await sameMicrosecond('transfers', existing.slice(0, 4)); // two on each database
    const seen = await walk<TransferJson>('/v1/transfers', OPS, 3, () => someTransfers());
    const ids = seen.map((t) => t.id);
    expect(new Set(ids).size).toBe(ids.length); // nothing repeated
    expect(existing.filter((id) => !ids.includes(id))).toEqual([]); // nothing skipped
    expectNewestFirst(seen.map((t) => t.createdAt));
  });

  it('merges a wallet’s transfers, sent from its database and received from the other, and a customer’s', async () => {
    const target = wallets[0]![3]!;
    const sent = await transferRow(target, wallets[1]![2]!);
    const received = await transferRow(wallets[1]![3]!, target); // lives on database 1
    const within = await transferRow(wallets[0]![2]!, target);
    const expected = [within, received, sent];
    const ofWallet = await walk<TransferJson>(`/v1/transfers?walletId=${target}`, OPS, 1, async () => undefined);
    expect(ofWallet.map((t) => t.id).filter((id) => expected.includes(id))).toEqual(expected);
    expect(ofWallet.every((t) => t.fromWalletId === target || t.toWalletId === target)).toBe(true);
    // the owner sees the same, as a customer, with or without the filter
    const owner = customer(owners[0]![3]!);
    const asOwner = await walk<TransferJson>(`/v1/transfers?walletId=${target}`, owner, 2, async () => undefined);
    expect(asOwner.map((t) => t.id)).toEqual(ofWallet.map((t) => t.id));
    const all = await walk<TransferJson>('/v1/transfers', owner, 2, async () => undefined);
    expect(all.map((t) => t.id)).toEqual(ofWallet.map((t) => t.id));
    // a customer naming another's wallet: 404, like a wallet that does not exist
    const res = await app.inject({
      method: 'GET',
      url: `/v1/transfers?walletId=${wallets[1]![0]}`,
      headers: authHeaders(owner),
    });
    expectProblem(res, 404, 'WALLET_NOT_FOUND');
  });

  it('pages through every wallet of both databases once, newest first, while more are created', async () => {
    const before = await walk<WalletJson>('/v1/wallets', OPS, 100, async () => undefined);
    await sameMicrosecond('wallets', [wallets[0]![0]!, wallets[0]![1]!, wallets[1]![0]!, wallets[1]![1]!]);
    let created = 0;
    const seen = await walk<WalletJson>('/v1/wallets', OPS, 3, async () => {
      created += 1;
      await createWallet(app, 'EUR', ownerOnDatabase(app, created % 2, 'late'));
    });
    const ids = seen.map((w) => w.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(before.map((w) => w.id).filter((id) => !ids.includes(id))).toEqual([]);
    expect(ids).toEqual(expect.arrayContaining([...wallets[0]!, ...wallets[1]!]));
    expectNewestFirst(seen.map((w) => w.createdAt));
    // filtered, and a customer's own
    const frozen = await walk<WalletJson>('/v1/wallets?status=frozen', OPS, 3, async () => undefined);
    expect(frozen).toEqual([]);
    const mine = await walk<WalletJson>('/v1/wallets', customer(owners[1]![0]!), 5, async () => undefined);
    expect(mine.map((w) => w.id)).toEqual([wallets[1]![0]]);
    const someoneElses = await walk<WalletJson>(
      `/v1/wallets?ownerId=${owners[0]![0]}`,
      customer(owners[1]![0]!),
      5,
      async () => undefined,
    );
    expect(someoneElses).toEqual([]);
    const byOwner = await walk<WalletJson>(`/v1/wallets?ownerId=${owners[0]![0]}`, OPS, 5, async () => undefined);
    expect(byOwner.map((w) => w.id)).toEqual([wallets[0]![0]]);
  });

  it('pages through the audit trail of both databases once, newest first, while more is written', async () => {
    const reasons: string[] = [];
    const audited = async () => {
      for (const index of [0, 1]) {
        const reference = uniqueKey(`audit-${index}`);
        reasons.push(reference);
        const res = await postDeposit(app, wallets[index]![0]!, { amount: 1, reference });
        expect(res.statusCode).toBe(201);
      }
    };
    for (let i = 0; i < 4; i++) await audited();
    // two rows of the same microsecond on each database: their row ids may be equal too
    const at = '2026-11-30T12:00:00.654321Z';
    for (const [index, db] of app.shards.databases.entries()) {
      for (let i = 0; i < 2; i++) {
        const reason = uniqueKey(`tie-${index}`);
        reasons.push(reason);
        await query(
          db.store,
          `INSERT INTO audit_log (actor, roles, action, target_type, target_id, reason, request_id, created_at)
           VALUES ('test-admin', '{admin}', 'wallet.freeze', 'wallet', $1, $2, 'req-tie', $3)`,
          [wallets[index]![1], reason, at],
        );
      }
    }
    const existing = [...reasons];
    const seen = await walk<{ reason: string; createdAt: string }>('/v1/audit', OPS, 3, audited);
    const seenReasons = seen.map((a) => a.reason);
    expect(new Set(seenReasons).size).toBe(seenReasons.length);
    expect(existing.filter((r) => !seenReasons.includes(r))).toEqual([]);
    expectNewestFirst(seen.map((a) => a.createdAt));
    // one target's trail: read where the target lives
    const ofWallet = await walk<{ targetId: string }>(
      `/v1/audit?target=${wallets[1]![1]}`,
      OPS,
      1,
      async () => undefined,
    );
    expect(ofWallet.map((a) => a.targetId)).toEqual([wallets[1]![1], wallets[1]![1]]);
  });
});
