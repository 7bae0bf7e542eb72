import net from 'node:net';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type { ShardSet } from '../../db/shards';
import { buildApp } from '../../api/app';
import { checkLedgerInvariants } from '../../domain/invariants';
import { shardOfId } from '../../domain/shards';
import { createWallet, expectProblem, FINANCE, getWallet, uniqueKey } from '../api/helpers';
import { authHeaders } from '../support/auth';
import { connectTemporalClient, createTestShards, testConfig, uniqueTaskQueue } from '../support/env';
import { startTransferWorker, type RunningWorker } from '../support/transfer-worker';
import { eventually, journalEntriesOf, walletStore } from '../support/wallets';
import { fund, getTransfer, ownerOnShardDatabase, postTransfer, walletPair, type TransferJson } from './helpers';
import { query } from '../support/sql';

/**
 * POST /v1/transfers answers with the saga's reserve decision (update-with-start), and a completed
 * transfer is cheap on the engine: two workflow tasks, every step readable in its history.
 */
describe('transfer early answer and history shape', () => {
  const env = { TEMPORAL_TASK_QUEUE: uniqueTaskQueue('answer') };
  let app: FastifyInstance;
  let worker: RunningWorker;
  let shards: ShardSet;
  let client: Client;

  beforeAll(async () => {
    shards = await createTestShards();
    client = await connectTemporalClient();
    worker = await startTransferWorker(testConfig(env));
    app = await buildApp({ config: testConfig(env), logger: false });
  });

  afterAll(async () => {
    await app?.close();
    await worker?.stop();
    for (const db of shards?.all ?? []) expect(await checkLedgerInvariants(db.store.sql)).toEqual([]);
    await client?.connection.close();
    await shards?.close();
  });

  const twoWallets = (balance: number) => walletPair(app, balance);
  /** An API whose sagas go to a task queue no worker polls, answering after 1 s at most. */
  const appWithoutWorker = () =>
    buildApp({
      config: testConfig({ TEMPORAL_TASK_QUEUE: uniqueTaskQueue('no-worker'), TRANSFER_ANSWER_TIMEOUT_SECONDS: '1' }),
      logger: false,
    });

  it('refuses on the POST itself when funds are short: 422 INSUFFICIENT_FUNDS, nothing held, the refusal in history', async () => {
    const { from, to } = await twoWallets(100);
    const key = uniqueKey('short');
    const res = await postTransfer(app, { fromWalletId: from.id, toWalletId: to.id, amount: 500 }, { key });
    expectProblem(res, 422, 'INSUFFICIENT_FUNDS');
    const { transferId } = res.json<{ transferId: string }>();
    expect(res.headers.location).toBe(`/v1/transfers/${transferId}`);

    expect(await getWallet(app, from.id)).toMatchObject({ balance: 100, held: 0, available: 100 });
    expect(
      await query(
        shards.forTransfer(transferId).store,
        `SELECT 1 FROM holds WHERE transfer_id = $1 AND status <> 'released'`,
        [transferId],
      ),
    ).toEqual([]);
    const transfer = await getTransfer(app, transferId);
    expect(transfer).toMatchObject({ status: 'REJECTED', failure: { step: 'reserve', code: 'INSUFFICIENT_FUNDS' } });

    // the workflow's history holds the refusal: the reserve step's local activity failed with that type
    const history = await client.workflow.getHandle(transfer.workflowId).fetchHistory();
    const refusals = (history.events ?? []).filter(
      (e) => e.markerRecordedEventAttributes?.failure?.applicationFailureInfo?.type === 'INSUFFICIENT_FUNDS',
    );
    expect(refusals).toHaveLength(1);
    expect(await client.workflow.getHandle(transfer.workflowId).result()).toMatchObject({ status: 'REJECTED' });

    // a replay of the same key answers the same
    const replay = await postTransfer(app, { fromWalletId: from.id, toWalletId: to.id, amount: 500 }, { key });
    expectProblem(replay, 422, 'INSUFFICIENT_FUNDS');
    expect(replay.json()).toMatchObject({ transferId });
    expect(replay.headers['idempotent-replayed']).toBe('true');
  });

  it('answers with the transfer once the hold is placed (RESERVED or later), without waiting for the rest', async () => {
    const { from, to } = await twoWallets(1_000);
    const key = uniqueKey('enough');
    const res = await postTransfer(app, { fromWalletId: from.id, toWalletId: to.id, amount: 300 }, { key });
    expect(res.statusCode).toBe(202);
    const transfer = res.json<TransferJson>();
    expect(['RESERVED', 'ACCOUNTED', 'POSTED', 'COMPLETED']).toContain(transfer.status);
    expect(transfer.steps.reserve).toBe('done');
    expect(transfer.runId).toEqual(expect.any(String));

    const replay = await postTransfer(app, { fromWalletId: from.id, toWalletId: to.id, amount: 300 }, { key });
    expect(replay.statusCode).toBe(202);
    expect(replay.json<TransferJson>().id).toBe(transfer.id);
  });

  it('takes wallet ids in upper case like any other spelling of the same UUIDs (normalised once, at validation)', async () => {
    const { from, to } = await twoWallets(1_000);
    const key = uniqueKey('upper');
    const upper = { fromWalletId: from.id.toUpperCase(), toWalletId: to.id.toUpperCase(), amount: 200 };
    const res = await postTransfer(app, upper, { key, waitSeconds: 20 });
    expect(res.statusCode).toBe(200);
    const transfer = res.json<TransferJson>();
    expect(transfer).toMatchObject({ status: 'COMPLETED', fromWalletId: from.id, toWalletId: to.id });
    expect(await getWallet(app, to.id)).toMatchObject({ balance: 200 });

    // the same request in lower case is the same request: a replay, not IDEMPOTENCY_KEY_REUSED
    const lower = await postTransfer(app, { ...upper, fromWalletId: from.id, toWalletId: to.id }, { key });
    const replayed = [lower.statusCode, lower.json<TransferJson>().id, lower.headers['idempotent-replayed']];
    expect(replayed).toEqual([202, transfer.id, 'true']);
    // one wallet in two spellings is one wallet
    const same = await postTransfer(app, { fromWalletId: from.id, toWalletId: from.id.toUpperCase(), amount: 1 });
    expectProblem(same, 422, 'SAME_WALLET');
    // and every read takes the upper case too
    expect((await getTransfer(app, transfer.id.toUpperCase())).id).toBe(transfer.id);
    expect(await getWallet(app, from.id.toUpperCase())).toMatchObject({ id: from.id, balance: 800 });
  });

  it('refuses a finance decision on a transfer that is not parked at once, even while no worker runs its saga', async () => {
    const idle = await appWithoutWorker();
    try {
      const { from, to } = await twoWallets(1_000);
      const res = await postTransfer(
        idle,
        { fromWalletId: from.id, toWalletId: to.id, amount: 100 },
        { key: uniqueKey('idle') },
      );
      expect(res.json<TransferJson>().status).toBe('PENDING');
      for (const action of ['retry', 'cancel']) {
        // before: the API waited on the workflow for the answer timeout and said 503 (no worker took it)
        const decision = await idle.inject({
          method: 'POST',
          url: `/v1/transfers/${res.json<TransferJson>().id}/${action}`,
          headers: { ...authHeaders(FINANCE), 'idempotency-key': uniqueKey('decide') },
          payload: { reason: 'not parked yet' },
        });
        expectProblem(decision, 409, 'TRANSFER_NOT_PARKED');
        expect(decision.json().detail).toMatch(/it is PENDING/);
      }
    } finally {
      await idle.close();
    }
  });

  it('answers 202 PENDING when no worker answers in time, and a replay after its workflow was terminated never starts a second run', async () => {
    const idle = await appWithoutWorker();
    try {
      const { from, to } = await twoWallets(1_000);
      const key = uniqueKey('idle');
      const res = await postTransfer(idle, { fromWalletId: from.id, toWalletId: to.id, amount: 100 }, { key });
      expect(res.statusCode).toBe(202);
      const transfer = res.json<TransferJson>();
      expect(transfer.status).toBe('PENDING');
      // ops terminate it (e.g. from the Temporal UI) before any worker ran it
      await client.workflow.getHandle(transfer.workflowId).terminate('test: terminated by ops');
      const replay = await postTransfer(idle, { fromWalletId: from.id, toWalletId: to.id, amount: 100 }, { key });
      expect(replay.statusCode).toBe(202);
      expect(replay.json<TransferJson>()).toMatchObject({ id: transfer.id, status: 'PENDING' });
      // the visibility store may lag a moment behind the terminate
      const runs = await eventually(
        async () => {
          const seen: string[] = [];
          for await (const wf of client.workflow.list({ query: `WorkflowId = "${transfer.workflowId}"` }))
            seen.push(wf.status.name);
          return seen.length > 0 && seen.every((s) => s !== 'RUNNING') ? seen : undefined;
        },
        15_000,
        'the terminated run to be visible',
      );
      expect(runs).toEqual(['TERMINATED']);
      expect(await getWallet(app, from.id)).toMatchObject({ balance: 1_000, held: 0 });
    } finally {
      await idle.close();
    }
  });

  it('answers 503, not 202, when the saga cannot be confirmed (a Temporal server that never answers); the replay starts it and it completes', async () => {
    // accepts connections and never says a word: every call to it runs into its deadline
    // (its sockets are kept, to be destroyed at the end: an open one would keep jest from exiting)
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentApp = await buildApp({
      config: testConfig({
        ...env,
        TEMPORAL_ADDRESS: `127.0.0.1:${(silent.address() as net.AddressInfo).port}`,
        TRANSFER_ANSWER_TIMEOUT_SECONDS: '1',
      }),
      logger: false,
    });
    try {
      const { from, to } = await twoWallets(1_000);
      const key = uniqueKey('unconfirmed');
      const body = { fromWalletId: from.id, toWalletId: to.id, amount: 150 };
      const res = await postTransfer(silentApp, body, { key });
      expectProblem(res, 503, 'SERVICE_UNAVAILABLE');
      const rows = await query<{ id: string; status: string }>(
        walletStore(shards, from.id),
        `SELECT id, status FROM transfers WHERE idempotency_key = $1`,
        [key],
      );
      expect(rows).toEqual([{ id: expect.any(String), status: 'PENDING' }]);

      // the client re-sends the same key once Temporal answers again: the saga starts and the money moves once
      const replay = await postTransfer(app, body, { key, waitSeconds: 20 });
      expect(replay.statusCode).toBe(200);
      expect(replay.json<TransferJson>()).toMatchObject({ id: rows[0]!.id, status: 'COMPLETED' });
      expect(await journalEntriesOf(shards, rows[0]!.id)).toBe(1);
      expect(await getWallet(app, from.id)).toMatchObject({ balance: 850, held: 0 });
    } finally {
      await silentApp.close();
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it('records at most two workflow tasks for a completed transfer, each step with its summary', async () => {
    const { from, to } = await twoWallets(1_000);
    const res = await postTransfer(app, { fromWalletId: from.id, toWalletId: to.id, amount: 125 }, { waitSeconds: 20 });
    expect(res.statusCode).toBe(200);
    const transfer = res.json<TransferJson>();
    expect(transfer.status).toBe('COMPLETED');

    const history = await client.workflow.getHandle(transfer.workflowId).fetchHistory();
    const events = history.events ?? [];
    const workflowTasks = events.filter((e) => e.workflowTaskCompletedEventAttributes);
    expect(workflowTasks.length).toBeLessThanOrEqual(2);

    const summaries = events
      .map((e) => e.userMetadata?.summary?.data)
      .filter((d): d is Uint8Array => d instanceof Uint8Array)
      .map((d) => JSON.parse(Buffer.from(d).toString('utf8')) as string);
    // each names where it ran: the logical shard and its database (one shard: a same-shard transfer)
    const where = `on shard ${shardOfId(from.id)} (${shards.forWallet(from.id).name})`;
    expect(summaries).toEqual(
      expect.arrayContaining([
        `reserve 1.25 EUR on wallet ${from.id} ${where}`,
        `book 1.25 EUR in the accounting book (${shards.accounting.name})`,
        `post 1.25 EUR from ${from.id} to ${to.id} ${where}`,
        `notify sender and receiver ${where}`,
      ]),
    );
  });

  it('gives 50 identical concurrent POSTs one transfer, 20 times over, never a 5xx', async () => {
    const owner = ownerOnShardDatabase(0);
    const from = await createWallet(app, 'EUR', owner);
    await fund(app, from.id, 100_000);
    const to = await createWallet(app, 'EUR', owner);
    const body = { fromWalletId: from.id, toWalletId: to.id, amount: 10 };
    for (let round = 0; round < 20; round++) {
      const key = uniqueKey(`burst-${round}`);
      const answers = await Promise.all(Array.from({ length: 50 }, () => postTransfer(app, body, { key })));
      const codes = answers.map((r) => r.statusCode);
      expect(codes.filter((c) => c >= 500)).toEqual([]);
      expect(new Set(codes)).toEqual(new Set([202]));
      const ids = new Set(answers.map((r) => r.json<TransferJson>().id));
      expect(ids.size).toBe(1);
    }
    const sender = walletStore(shards, from.id);
    const rows: Array<{ n: number }> = await query(
      sender,
      `SELECT count(*)::int AS n FROM transfers WHERE from_wallet_id = $1`,
      [from.id],
    );
    expect(rows[0]!.n).toBe(20);
    // every one of them completes once
    const ids: Array<{ id: string }> = await query(sender, `SELECT id FROM transfers WHERE from_wallet_id = $1`, [
      from.id,
    ]);
    for (const { id } of ids) {
      await client.workflow.getHandle(`transfer-${id}`).result();
      expect(await journalEntriesOf(shards, id)).toBe(1);
    }
    expect(await getWallet(app, from.id)).toMatchObject({ balance: 100_000 - 200, held: 0 });
    // 1,000 requests and 20 sagas: on a busy machine (the suite's files in parallel) longer than the default 60 s
  }, 120_000);
});
