import { execFile } from 'node:child_process';
import { Client as PgClient } from 'pg';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type { ShardSet } from '../../db/shards';
import { checkLedgerInvariants } from '../../domain/invariants';
import { NOTIFICATION_STREAM } from '../../domain/transfers/notify';
import { ADMIN, createWallet, FINANCE, getWallet, uniqueKey } from '../api/helpers';
import { authHeaders } from '../support/auth';
import { connectTemporalClient, createTestShards, testConfig, uniqueTaskQueue } from '../support/env';
import { recordHistory, RECORDED_VERSION } from '../support/histories';
import { SwitchableAccounting, startTransferWorker, type RunningWorker } from '../support/transfer-worker';
import { eventually, journalEntriesOf, walletStore } from '../support/wallets';
import { buildApp } from '../../api/app';
import { findTemporalCli } from '../../scripts/temporal-cli';
import {
  fund,
  getTransfer,
  ownerOnShardDatabase,
  postTransfer,
  walletPair,
  waitForStatus,
  type TransferJson,
} from './helpers';
import { query } from '../support/sql';

/**
 * The transfer saga end to end: API → Temporal dev server → a real worker → Postgres and Redis.
 * The accounting system is the one dependency the tests take down (SwitchableAccounting wraps the
 * real built-in book).
 */
describe('transfer saga', () => {
  const env = { TEMPORAL_TASK_QUEUE: uniqueTaskQueue('saga'), DAILY_OUTGOING_LIMIT_MINOR: '50000' };
  // Parking needs a spent budget: a step's budget is its failed attempts, 3 here (about 1.5 s of
  // backoff) instead of 10, only for the transfers meant to park.
  const parkingEnv = { ...env, TRANSFER_STEP_MAX_ATTEMPTS: '3' };
  let app: FastifyInstance;
  let parkingApp: FastifyInstance;
  let shortDeadlineApp: FastifyInstance;
  let worker: RunningWorker;
  let accounting: SwitchableAccounting | undefined;
  let shards: ShardSet;
  let client: Client;

  beforeAll(async () => {
    shards = await createTestShards();
    client = await connectTemporalClient();
    worker = await startTransferWorker(testConfig(env), {
      accounting: (book) => (accounting = new SwitchableAccounting(book)),
    });
    app = await buildApp({ config: testConfig(env), logger: false });
    parkingApp = await buildApp({ config: testConfig(parkingEnv), logger: false });
    shortDeadlineApp = await buildApp({
      config: testConfig({ ...parkingEnv, TRANSFER_PARK_DEADLINE_SECONDS: '2' }),
      logger: false,
    });
  });

  afterEach(() => {
    if (accounting) accounting.available = true;
  });

  afterAll(async () => {
    await app?.close();
    await parkingApp?.close();
    await shortDeadlineApp?.close();
    await worker?.stop();
    for (const db of shards?.all ?? []) expect(await checkLedgerInvariants(db.store.sql)).toEqual([]);
    await client?.connection.close();
    await shards?.close();
  });

  const twoWallets = (balance: number) => walletPair(app, balance);
  /** The database of a transfer's rows (its sender's): its hold, its audit rows, its notifications. */
  const transferDb = (transferId: string) => shards.forTransfer(transferId).store;

  async function accountingRows(transferId: string) {
    const book = shards.accounting.store;
    const [booking] = await query(book, `SELECT status FROM accounting_bookings WHERE transfer_id = $1`, [transferId]);
    const lines: Array<{ kind: string; amount: string }> = await query(
      book,
      `SELECT kind, amount::text FROM accounting_lines WHERE transfer_id = $1 ORDER BY id`,
      [transferId],
    );
    return { status: booking?.status as string | undefined, lines };
  }

  it('completes a transfer: money moved, hold captured, booked, both parties notified, searchable by status', async () => {
    const { from, to } = await twoWallets(10_000);
    const res = await postTransfer(
      app,
      { fromWalletId: from.id, toWalletId: to.id, amount: 1_250, description: 'rent' },
      { waitSeconds: 20 },
    );
    expect(res.statusCode).toBe(200);
    const transfer = res.json<TransferJson>();
    expect(transfer).toMatchObject({
      status: 'COMPLETED',
      amount: 1_250,
      currency: 'EUR',
      failure: null,
      steps: { reserve: 'done', accounting: 'done', ledger: 'done', notify: 'done' },
      workflowId: `transfer-${transfer.id}`,
    });
    expect(transfer.runId).toEqual(expect.any(String));

    expect(await getWallet(app, from.id)).toMatchObject({ balance: 8_750, held: 0, available: 8_750 });
    expect(await getWallet(app, to.id)).toMatchObject({ balance: 1_250, held: 0, available: 1_250 });
    expect(await journalEntriesOf(shards, transfer.id)).toBe(1);
    expect(await accountingRows(transfer.id)).toEqual({
      status: 'booked',
      lines: [
        { kind: 'booking', amount: '1250' },
        { kind: 'booking', amount: '-1250' },
      ],
    });

    const notes: Array<{ kind: string; wallet_id: string; published: boolean }> = await query(
      transferDb(transfer.id),
      `SELECT kind, wallet_id, published_at IS NOT NULL AS published FROM notifications WHERE transfer_id = $1 ORDER BY kind`,
      [transfer.id],
    );
    expect(notes).toEqual([
      { kind: 'transfer.received', wallet_id: to.id, published: true },
      { kind: 'transfer.sent', wallet_id: from.id, published: true },
    ]);
    const stream = await app.redis.xrevrange(NOTIFICATION_STREAM, '+', '-', 'COUNT', 500);
    const published = stream.filter(([, fields]) => fields.join(' ').includes(transfer.id));
    expect(published).toHaveLength(2);

    const found = await eventually(
      async () => {
        const ids: string[] = [];
        for await (const wf of client.workflow.list({
          query: `TransferStatus = "COMPLETED" AND FromWalletId = "${from.id}"`,
        })) {
          ids.push(wf.workflowId);
        }
        return ids.length > 0 ? ids : undefined;
      },
      15_000,
      'the visibility store to index the completed transfer',
    );
    expect(found).toEqual([transfer.workflowId]);
    await recordHistory(transfer.workflowId, `${RECORDED_VERSION}-completed`);
  });

  it('refuses a transfer the sender cannot fund with 422 INSUFFICIENT_FUNDS, holding and posting nothing', async () => {
    const { from, to } = await twoWallets(100);
    const res = await postTransfer(app, { fromWalletId: from.id, toWalletId: to.id, amount: 500 }, { waitSeconds: 20 });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ code: 'INSUFFICIENT_FUNDS', transferId: expect.any(String) });
    const transfer = await getTransfer(app, res.json<{ transferId: string }>().transferId);
    expect(transfer).toMatchObject({ status: 'REJECTED', failure: { step: 'reserve', code: 'INSUFFICIENT_FUNDS' } });
    expect(await getWallet(app, from.id)).toMatchObject({ balance: 100, held: 0 });
    expect(await getWallet(app, to.id)).toMatchObject({ balance: 0 });
    // a tombstone at most: no late attempt of the reserve can hold the money afterwards
    expect(
      await query(transferDb(transfer.id), `SELECT status FROM holds WHERE transfer_id = $1`, [transfer.id]),
    ).toEqual([{ status: 'released' }]);
    expect(await journalEntriesOf(shards, transfer.id)).toBe(0);
    await recordHistory(transfer.workflowId, `${RECORDED_VERSION}-rejected-insufficient-funds`);
  });

  it('cancels when the receiver is frozen after the reserve: booking reversed, hold released, balances as before', async () => {
    const { from, to } = await twoWallets(5_000);
    // A receiver frozen before the POST is refused early (422, nothing recorded): to reach the ledger
    // step with a frozen receiver, the accounting step waits on the book's per-sender lock meanwhile.
    const blocker = new PgClient({ connectionString: testConfig(env).accountingDatabaseUrl });
    await blocker.connect();
    let transferId: string;
    try {
      await blocker.query(`SELECT pg_advisory_lock(hashtextextended($1, 0))`, [`accounting:${from.id}`]);
      const res = await postTransfer(app, { fromWalletId: from.id, toWalletId: to.id, amount: 700 });
      expect(res.statusCode).toBe(202);
      transferId = res.json<TransferJson>().id;
      const freeze = await app.inject({
        method: 'POST',
        url: `/v1/wallets/${to.id}/freeze`,
        headers: authHeaders(ADMIN),
        payload: { reason: 'receiver under review' },
      });
      expect(freeze.statusCode).toBe(200);
    } finally {
      await blocker.end(); // the lock goes with the session
    }
    const transfer = await waitForStatus(app, transferId, 'CANCELLED');
    expect(transfer).toMatchObject({
      failure: { step: 'ledger', code: 'WALLET_NOT_ACTIVE' },
      steps: { reserve: 'compensated', accounting: 'compensated' },
    });
    expect(await getWallet(app, from.id)).toMatchObject({ balance: 5_000, held: 0, available: 5_000 });
    expect(await getWallet(app, to.id)).toMatchObject({ balance: 0, status: 'frozen' });
    expect(await accountingRows(transfer.id)).toEqual({
      status: 'reversed',
      lines: [
        { kind: 'booking', amount: '700' },
        { kind: 'booking', amount: '-700' },
        { kind: 'reversal', amount: '-700' },
        { kind: 'reversal', amount: '700' },
      ],
    });
    expect(await journalEntriesOf(shards, transfer.id)).toBe(0);
    await recordHistory(transfer.workflowId, `${RECORDED_VERSION}-cancelled-receiver-frozen`);
  });

  it('cancels with LIMIT_EXCEEDED when the daily outgoing limit would be passed, releasing the hold', async () => {
    const { from, to } = await twoWallets(80_000);
    const first = await postTransfer(
      app,
      { fromWalletId: from.id, toWalletId: to.id, amount: 45_000 },
      { waitSeconds: 20 },
    );
    expect(first.json<TransferJson>().status).toBe('COMPLETED');
    const res = await postTransfer(
      app,
      { fromWalletId: from.id, toWalletId: to.id, amount: 6_000 },
      { waitSeconds: 20 },
    );
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ code: 'LIMIT_EXCEEDED' });
    const transfer = await getTransfer(app, res.json<{ transferId: string }>().transferId);
    expect(transfer).toMatchObject({ status: 'CANCELLED', failure: { step: 'accounting', code: 'LIMIT_EXCEEDED' } });
    expect(await getWallet(app, from.id)).toMatchObject({ balance: 35_000, held: 0 });
    expect(await accountingRows(transfer.id)).toEqual({ status: 'reversed', lines: [] });
    await recordHistory(transfer.workflowId, `${RECORDED_VERSION}-cancelled-limit-exceeded`);
  });

  describe('when the accounting system is down', () => {
    async function parkedTransfer(target: FastifyInstance, amount: number) {
      const { from, to } = await twoWallets(2_000);
      accounting!.available = false;
      const res = await postTransfer(target, { fromWalletId: from.id, toWalletId: to.id, amount }, { waitSeconds: 25 });
      const transfer = res.json<TransferJson>();
      expect(transfer).toMatchObject({
        status: 'NEEDS_ATTENTION',
        failure: { step: 'accounting', code: 'STEP_RETRIES_EXHAUSTED' },
      });
      expect(transfer.failure!.reason).toContain('accounting system unavailable');
      // funds stay held while the transfer is parked
      expect(await getWallet(app, from.id)).toMatchObject({ balance: 2_000, held: amount, available: 2_000 - amount });
      return { transfer, from, to };
    }

    it('parks the transfer; once accounting is back, finance retries it to completion', async () => {
      const { transfer, from, to } = await parkedTransfer(parkingApp, 300);
      accounting!.available = true;
      const retry = await app.inject({
        method: 'POST',
        url: `/v1/transfers/${transfer.id}/retry`,
        headers: { ...authHeaders(FINANCE), 'idempotency-key': uniqueKey('decide') },
        payload: { reason: 'accounting restored (INC-42)' },
      });
      // the decision is applied when the answer comes: the step ran again and the saga moved on
      expect(retry.statusCode).toBe(200);
      expect(['ACCOUNTED', 'POSTED', 'COMPLETED']).toContain(retry.json<TransferJson>().status);
      const done = await waitForStatus(app, transfer.id, 'COMPLETED');
      expect(done.failure).toBeNull();
      expect(await getWallet(app, from.id)).toMatchObject({ balance: 1_700, held: 0 });
      expect(await getWallet(app, to.id)).toMatchObject({ balance: 300 });
      expect(await journalEntriesOf(shards, transfer.id)).toBe(1);
      await recordHistory(transfer.workflowId, `${RECORDED_VERSION}-parked-then-retried`);
    });

    it('parks the transfer; finance cancels it and the hold is released', async () => {
      const { transfer, from } = await parkedTransfer(parkingApp, 400);
      accounting!.available = true; // the reversal leaves a tombstone in the (reachable) book
      const cancel = await app.inject({
        method: 'POST',
        url: `/v1/transfers/${transfer.id}/cancel`,
        headers: { ...authHeaders(FINANCE), 'idempotency-key': uniqueKey('decide') },
        payload: { reason: 'customer withdrew the order' },
      });
      expect(cancel.statusCode).toBe(200);
      const done = cancel.json<TransferJson>();
      expect(done.status).toBe('CANCELLED');
      expect(done.failure).toMatchObject({ code: 'CANCELLED_BY_FINANCE' });
      expect(done.failure!.reason).toContain('customer withdrew the order');
      expect(await getWallet(app, from.id)).toMatchObject({ balance: 2_000, held: 0, available: 2_000 });
      expect(await accountingRows(transfer.id)).toEqual({ status: 'reversed', lines: [] });
      await recordHistory(transfer.workflowId, `${RECORDED_VERSION}-parked-then-cancelled`);
    });

    it('applies exactly one of two decisions sent at once; the other is refused and changes nothing', async () => {
      const { transfer, from } = await parkedTransfer(parkingApp, 250);
      accounting!.available = true;
      const decide = (action: string, reason: string) =>
        app.inject({
          method: 'POST',
          url: `/v1/transfers/${transfer.id}/${action}`,
          headers: { ...authHeaders(FINANCE), 'idempotency-key': uniqueKey('decide') },
          payload: { reason },
        });
      const answers = await Promise.all([
        decide('retry', 'fiona: accounting is back'),
        decide('cancel', 'bob: customer called'),
      ]);
      const codes = answers.map((r) => r.statusCode).sort();
      expect(codes).toEqual([200, 409]);
      const refused = answers.find((r) => r.statusCode === 409)!;
      expect(refused.json()).toMatchObject({ code: 'TRANSFER_NOT_PARKED' });
      const applied = answers.find((r) => r.statusCode === 200)!;
      const appliedRetry = applied === answers[0];
      const done = await waitForStatus(app, transfer.id, appliedRetry ? 'COMPLETED' : 'CANCELLED');
      expect(await getWallet(app, from.id)).toMatchObject({ balance: appliedRetry ? 1_750 : 2_000, held: 0 });
      expect(await journalEntriesOf(shards, done.id)).toBe(appliedRetry ? 1 : 0);
      const audit: Array<{ action: string }> = await query(
        transferDb(transfer.id),
        `SELECT action FROM audit_log WHERE target_id = $1`,
        [transfer.id],
      );
      expect(audit).toEqual([{ action: appliedRetry ? 'transfer.retry' : 'transfer.cancel' }]);
    });

    it('takes finance decisions from the Temporal CLI through the same validation, audited by the saga', async () => {
      const { transfer, from } = await parkedTransfer(parkingApp, 150);
      accounting!.available = true;
      const cli = findTemporalCli()!;
      // asynchronously: the worker runs in this process and must go on while the CLI waits
      const update = (name: string, input: object) =>
        new Promise<{ status: number | null; output: string }>((resolve) => {
          execFile(
            cli,
            [
              'workflow',
              'update',
              'execute',
              '--workflow-id',
              transfer.workflowId,
              '--name',
              name,
              '--input',
              JSON.stringify(input),
              '--address',
              testConfig().TEMPORAL_ADDRESS,
              '--namespace',
              testConfig().TEMPORAL_NAMESPACE,
            ],
            (err, stdout, stderr) =>
              resolve({ status: err ? ((err.code as number | undefined) ?? 1) : 0, output: `${stdout}${stderr}` }),
          );
        });
      // a decision without a reason is refused by the workflow's validator; nothing changes
      const invalid = await update('cancel', { actor: 'cli-user', reason: ' ' });
      expect(invalid.status).not.toBe(0);
      expect(invalid.output).toContain('INVALID_DECISION');
      expect((await getTransfer(app, transfer.id)).status).toBe('NEEDS_ATTENTION');

      const cancelled = await update('cancel', { actor: 'cli-user', reason: 'duplicate order' });
      expect(cancelled.status).toBe(0);
      expect(await getTransfer(app, transfer.id)).toMatchObject({
        status: 'CANCELLED',
        failure: { code: 'CANCELLED_BY_FINANCE' },
      });
      expect(await getWallet(app, from.id)).toMatchObject({ balance: 2_000, held: 0 });
      const audit: Array<{ actor: string; action: string; request_id: string }> = await query(
        transferDb(transfer.id),
        `SELECT actor, action, request_id FROM audit_log WHERE target_id = $1`,
        [transfer.id],
      );
      expect(audit).toEqual([
        { actor: 'cli-user', action: 'transfer.cancel', request_id: expect.stringMatching(/^update:/) },
      ]);

      // and a second decision is refused: the saga is over (the API answers this 409 TRANSFER_NOT_PARKED)
      const late = await update('retry', { actor: 'cli-user', reason: 'changed my mind' });
      expect(late.status).not.toBe(0);
      expect(late.output).toContain('workflow execution already completed');
      const trail = transferDb(transfer.id);
      expect(
        await query(trail, `SELECT count(*)::int AS n FROM audit_log WHERE target_id = $1`, [transfer.id]),
      ).toEqual([{ n: 1 }]);
    });

    it('cancels a parked transfer by itself when nobody decides before the deadline', async () => {
      const { transfer, from } = await parkedTransfer(shortDeadlineApp, 500);
      accounting!.available = true;
      const done = await waitForStatus(app, transfer.id, 'CANCELLED', 20_000);
      expect(done.failure).toMatchObject({ code: 'PARK_DEADLINE_EXCEEDED' });
      expect(await getWallet(app, from.id)).toMatchObject({ balance: 2_000, held: 0 });
      await recordHistory(transfer.workflowId, `${RECORDED_VERSION}-parked-deadline-passed`);
    });
  });

  it('refuses retry and cancel of a transfer that is not parked (409)', async () => {
    const { from, to } = await twoWallets(1_000);
    const res = await postTransfer(app, { fromWalletId: from.id, toWalletId: to.id, amount: 10 }, { waitSeconds: 20 });
    const transfer = res.json<TransferJson>();
    for (const action of ['retry', 'cancel']) {
      const r = await app.inject({
        method: 'POST',
        url: `/v1/transfers/${transfer.id}/${action}`,
        headers: { ...authHeaders(FINANCE), 'idempotency-key': uniqueKey('decide') },
        payload: { reason: 'why not' },
      });
      expect(r.statusCode).toBe(409);
      expect(r.json()).toMatchObject({ code: 'TRANSFER_NOT_PARKED' });
    }
    expect((await getTransfer(app, transfer.id)).status).toBe('COMPLETED');
  });

  it('runs one saga per Idempotency-Key, sequentially and under 20 concurrent duplicates', async () => {
    const { from, to } = await twoWallets(1_000);
    const body = { fromWalletId: from.id, toWalletId: to.id, amount: 25 };
    const [seqKey, burstKey] = [uniqueKey('seq'), uniqueKey('burst')];

    const first = await postTransfer(app, body, { key: seqKey, waitSeconds: 20 });
    const again = await postTransfer(app, body, { key: seqKey, waitSeconds: 20 });
    expect(first.statusCode).toBe(200);
    expect(again.statusCode).toBe(200);
    expect(again.body).toBe(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');

    const burst = await Promise.all(
      Array.from({ length: 20 }, () => postTransfer(app, body, { key: burstKey, waitSeconds: 20 })),
    );
    const bodies = new Set(burst.map((r) => r.body));
    expect(bodies.size).toBe(1);
    const burstTransfer = burst[0]!.json<TransferJson>();
    expect(burstTransfer.status).toBe('COMPLETED');
    expect(await journalEntriesOf(shards, burstTransfer.id)).toBe(1);
    const runs: string[] = [];
    for await (const wf of client.workflow.list({ query: `WorkflowId = "${burstTransfer.workflowId}"` }))
      runs.push(wf.runId);
    expect(runs).toHaveLength(1);

    const reused = await postTransfer(app, { ...body, amount: 26 }, { key: burstKey });
    expect(reused.statusCode).toBe(422);
    expect(reused.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await getWallet(app, from.id)).toMatchObject({ balance: 950, held: 0 });
  });

  it('lets exactly 33 of 50 concurrent transfers of 30 through from a wallet holding 1000', async () => {
    // one customer's wallets: same-shard transfers (one journal entry each)
    const owner = ownerOnShardDatabase(0);
    const from = await createWallet(app, 'EUR', owner);
    await fund(app, from.id, 1_000);
    const receivers = await Promise.all(Array.from({ length: 5 }, () => createWallet(app, 'EUR', owner)));
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        postTransfer(app, { fromWalletId: from.id, toWalletId: receivers[i % 5]!.id, amount: 30 }, { waitSeconds: 30 }),
      ),
    );
    const outcomes = responses.map((r) =>
      r.statusCode === 422 ? r.json<{ code: string }>().code : r.json<TransferJson>().status,
    );
    const count = (s: string) => outcomes.filter((x) => x === s).length;
    expect({ completed: count('COMPLETED'), refused: count('INSUFFICIENT_FUNDS') }).toEqual({
      completed: 33,
      refused: 17,
    });

    const sender = await getWallet(app, from.id);
    expect(sender).toMatchObject({ balance: 10, held: 0, available: 10 });
    const received = await Promise.all(receivers.map((r) => getWallet(app, r.id)));
    expect(sender.balance + received.reduce((sum, w) => sum + w.balance, 0)).toBe(1_000);
    // the balance after every line of the sender stayed within [0, 1000]
    const after: Array<{ min: string; max: string }> = await query(
      walletStore(shards, from.id),
      `SELECT min(balance_after)::text AS min, max(balance_after)::text AS max FROM ledger_lines WHERE wallet_id = $1`,
      [from.id],
    );
    expect(after[0]).toEqual({ min: '10', max: '1000' });
  });
});
