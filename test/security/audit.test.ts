import { randomUUID } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../api/app';
import { deposit } from '../../domain/deposits';
import { setWalletStatus } from '../../domain/wallets';
import { ADMIN, countOnEvery, customer, FINANCE, OPS, postDeposit, uniqueKey } from '../api/helpers';
import { authHeaders, type TestCaller } from '../support/auth';
import { testConfig, uniqueTaskQueue } from '../support/env';
import { SwitchableAccounting, startTransferWorker, type RunningWorker } from '../support/transfer-worker';
import { getTransfer, waitForStatus, type TransferJson } from '../transfers/helpers';
import { createWalletAs, transferAs } from './fixtures';
import { query } from '../support/sql';

interface AuditJson {
  id: string;
  actor: string;
  roles: string[];
  action: string;
  targetType: string;
  targetId: string;
  reason: string | null;
  requestId: string;
  details: Record<string, unknown>;
  createdAt: string;
}

/**
 * Every privileged action leaves an audit row with actor, roles, action, target, reason and request
 * id, in the transaction of its effect: freeze, unfreeze and deposit in the API's; finance's retry and
 * cancel in the saga's, which applies the decision it accepted through a Workflow Update. Parked
 * transfers are parked for real: the accounting system is taken down under a real worker.
 */
describe('audit trail', () => {
  const env = {
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue('audit'),
    TRANSFER_STEP_MAX_ATTEMPTS: '2',
  };
  let app: FastifyInstance;
  let worker: RunningWorker;
  let accounting: SwitchableAccounting | undefined;

  beforeAll(async () => {
    worker = await startTransferWorker(testConfig(env), {
      accounting: (book) => (accounting = new SwitchableAccounting(book)),
    });
    app = await buildApp({ config: testConfig(env), logger: false });
  });
  afterAll(async () => {
    if (accounting) accounting.available = true;
    await app?.close();
    await worker?.stop();
  });

  async function auditOf(targetId: string, as: TestCaller = OPS, query: Record<string, string> = {}) {
    const res = await app.inject({
      method: 'GET',
      url: '/v1/audit',
      query: { target: targetId, ...query },
      headers: authHeaders(as),
    });
    expect(res.statusCode).toBe(200);
    return res.json<{ items: AuditJson[]; nextCursor: string | null }>();
  }

  function post(url: string, as: TestCaller, payload: object): Promise<LightMyRequestResponse> {
    // finance decisions require an Idempotency-Key (one per decision); the other actions take none
    const key = /\/(retry|cancel)$/.test(url) ? { 'idempotency-key': uniqueKey('decide') } : {};
    return app.inject({ method: 'POST', url, headers: { ...authHeaders(as), ...key }, payload });
  }

  it('records freeze and unfreeze with actor, roles, reason, request id and the status change', async () => {
    const wallet = await createWalletAs(app, customer(uniqueKey('frozen')));
    const frozen = await post(`/v1/wallets/${wallet.id}/freeze`, ADMIN, { reason: 'suspected takeover (CASE-1)' });
    const thawed = await post(`/v1/wallets/${wallet.id}/unfreeze`, ADMIN, { reason: 'identity verified (CASE-1)' });
    expect([frozen.statusCode, thawed.statusCode]).toEqual([200, 200]);

    const { items } = await auditOf(wallet.id);
    expect(items).toEqual([
      {
        id: expect.any(String),
        actor: ADMIN.sub,
        roles: ['admin'],
        action: 'wallet.unfreeze',
        targetType: 'wallet',
        targetId: wallet.id,
        reason: 'identity verified (CASE-1)',
        requestId: thawed.headers['x-request-id'],
        details: { from: 'frozen', to: 'active' },
        createdAt: expect.stringMatching(/^\d{4}-/),
      },
      {
        id: expect.any(String),
        actor: ADMIN.sub,
        roles: ['admin'],
        action: 'wallet.freeze',
        targetType: 'wallet',
        targetId: wallet.id,
        reason: 'suspected takeover (CASE-1)',
        requestId: frozen.headers['x-request-id'],
        details: { from: 'active', to: 'frozen' },
        createdAt: expect.stringMatching(/^\d{4}-/),
      },
    ]);
  });

  it('records a deposit once (a replay adds no row), with the reference as reason', async () => {
    const wallet = await createWalletAs(app, customer(uniqueKey('payee')));
    const key = uniqueKey('dep');
    const first = await postDeposit(app, wallet.id, { amount: 4_200, reference: 'PSP batch 77' }, key);
    const replay = await postDeposit(app, wallet.id, { amount: 4_200, reference: 'PSP batch 77' }, key);
    expect(replay.headers['idempotent-replayed']).toBe('true');

    const { items } = await auditOf(wallet.id, FINANCE);
    expect(items).toEqual([
      expect.objectContaining({
        actor: FINANCE.sub,
        roles: ['finance'],
        action: 'wallet.deposit',
        targetType: 'wallet',
        targetId: wallet.id,
        reason: 'PSP batch 77',
        requestId: first.headers['x-request-id'],
        details: { depositId: first.json<{ id: string }>().id, amount: '4200', currency: 'EUR' },
      }),
    ]);
  });

  it('records finance retrying and cancelling parked transfers, as the saga applies the decisions', async () => {
    const owner = customer(uniqueKey('payer'));
    const [from, to] = [await createWalletAs(app, owner), await createWalletAs(app, customer(uniqueKey('payee')))];
    expect((await postDeposit(app, from.id, { amount: 1_000 })).statusCode).toBe(201);

    accounting!.available = false;
    const started = await Promise.all(
      [100, 200].map((amount) => transferAs(app, owner, { fromWalletId: from.id, toWalletId: to.id, amount })),
    );
    const [toRetry, toCancel] = started.map((r) => r.json<TransferJson>().id) as [string, string];
    await Promise.all([toRetry, toCancel].map((id) => waitForStatus(app, id, 'NEEDS_ATTENTION')));
    accounting!.available = true;

    const retry = await post(`/v1/transfers/${toRetry}/retry`, FINANCE, { reason: 'accounting restored (INC-42)' });
    const cancel = await post(`/v1/transfers/${toCancel}/cancel`, ADMIN, { reason: 'customer withdrew the order' });
    expect([retry.statusCode, cancel.statusCode]).toEqual([200, 200]);
    await waitForStatus(app, toRetry, 'COMPLETED');
    await waitForStatus(app, toCancel, 'CANCELLED');

    const retried = (await auditOf(toRetry)).items;
    const cancelled = (await auditOf(toCancel)).items;
    expect(retried).toEqual([
      expect.objectContaining({
        actor: FINANCE.sub,
        roles: ['finance'],
        action: 'transfer.retry',
        targetType: 'transfer',
        targetId: toRetry,
        reason: 'accounting restored (INC-42)',
        requestId: retry.headers['x-request-id'],
        details: {
          workflowId: `transfer-${toRetry}`,
          updateId: expect.any(String),
          failedStep: 'accounting',
          failureCode: 'STEP_RETRIES_EXHAUSTED',
        },
      }),
    ]);
    expect(cancelled).toEqual([
      expect.objectContaining({
        actor: ADMIN.sub,
        roles: ['admin'],
        action: 'transfer.cancel',
        reason: 'customer withdrew the order',
        requestId: cancel.headers['x-request-id'],
      }),
    ]);
    // the row commits with the decision's effect: older than the end of the compensation
    const finished = await getTransfer(app, toCancel);
    expect(Date.parse(cancelled[0]!.createdAt)).toBeLessThanOrEqual(Date.parse(finished.finishedAt!));

    // a second decision on a transfer no longer parked is refused by the saga and leaves no row
    const late = await post(`/v1/transfers/${toCancel}/retry`, FINANCE, { reason: 'too late' });
    expect([late.statusCode, late.json<{ code: string }>().code]).toEqual([409, 'TRANSFER_NOT_PARKED']);
    expect((await auditOf(toCancel)).items).toHaveLength(1);
  });

  it('writes no row for a refused privileged action', async () => {
    const wallet = await createWalletAs(app, customer(uniqueKey('untouched')));
    const attempts = [
      await post(`/v1/wallets/${wallet.id}/freeze`, FINANCE, { reason: 'not my role' }), // 403
      await post(`/v1/wallets/${wallet.id}/freeze`, ADMIN, {}), // 400: reason required
      await post(`/v1/wallets/${randomUUID()}/freeze`, ADMIN, { reason: 'no such wallet' }), // 404
      await postDeposit(app, wallet.id, { amount: 5 }, uniqueKey(), customer(uniqueKey('c'))), // 403
    ];
    expect(attempts.map((r) => r.statusCode)).toEqual([403, 400, 404, 403]);
    expect((await auditOf(wallet.id)).items).toEqual([]);
    expect(
      await countOnEvery(app.shards, `SELECT count(*)::int AS n FROM audit_log WHERE reason = 'no such wallet'`),
    ).toBe(0);
  });

  it('commits an action and its audit row together: a failing audit write undoes the action', async () => {
    const wallet = await createWalletAs(app, customer(uniqueKey('atomic')));
    // an empty actor violates audit_log's CHECK: the INSERT fails inside the action's transaction
    const broken = { actor: '', roles: ['admin'], requestId: 'req-broken', reason: 'x' };
    const store = app.shards.forWallet(wallet.id).store; // the wallet's rows and its audit rows
    await expect(setWalletStatus(store, wallet.id, 'frozen', broken)).rejects.toThrow();
    await expect(
      deposit(store, { depositId: randomUUID(), walletId: wallet.id, amount: 10n, audit: broken }),
    ).rejects.toThrow();

    const [row]: Array<{ status: string; balance: string; lines: number }> = await query(
      store,
      `SELECT status, balance::text, (SELECT count(*)::int FROM ledger_lines WHERE wallet_id = $1) AS lines FROM wallets WHERE id = $1`,
      [wallet.id],
    );
    expect(row).toEqual({ status: 'active', balance: '0', lines: 0 });
  });

  it('is append-only, on every database', async () => {
    for (const { store } of app.shards.all) {
      // a row of its own on each database: UPDATE and DELETE triggers fire per row
      await query(
        store,
        `INSERT INTO audit_log (actor, roles, action, target_type, target_id, request_id)
         VALUES ('append-only-test', '{admin}', 'wallet.freeze', 'wallet', gen_random_uuid(), 'append-only-test')`,
      );
      await expect(query(store, `UPDATE audit_log SET reason = 'rewritten'`)).rejects.toThrow(/append-only/);
      await expect(query(store, `DELETE FROM audit_log`)).rejects.toThrow(/append-only/);
      await expect(query(store, `TRUNCATE audit_log`)).rejects.toThrow(/append-only/);
    }
  });

  it('pages through a target’s trail newest first, for ops, finance and admin only', async () => {
    const wallet = await createWalletAs(app, customer(uniqueKey('paged')));
    for (let i = 0; i < 3; i++) {
      expect((await post(`/v1/wallets/${wallet.id}/freeze`, ADMIN, { reason: `round ${i}` })).statusCode).toBe(200);
    }
    const first = await auditOf(wallet.id, ADMIN, { limit: '2' });
    const second = await auditOf(wallet.id, ADMIN, { limit: '2', cursor: first.nextCursor! });
    expect([...first.items, ...second.items].map((r) => r.reason)).toEqual(['round 2', 'round 1', 'round 0']);
    expect(second.nextCursor).toBeNull();

    const owner = await app.inject({
      method: 'GET',
      url: '/v1/audit',
      query: { target: wallet.id },
      headers: authHeaders(customer(wallet.ownerId)),
    });
    expect([owner.statusCode, owner.json().code]).toEqual([403, 'FORBIDDEN']);
  });
});
