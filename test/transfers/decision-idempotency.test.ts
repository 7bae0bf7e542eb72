import type { Client } from '@temporalio/client';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../api/app';
import { decisionUpdateIdFor } from '../../api/transfers/finance';
import { shardOfOwner } from '../../domain/shards';
import { cancelUpdate, retryUpdate } from '../../workflows/contract';
import { customer, expectProblem, postDeposit, uniqueKey } from '../api/helpers';
import { authHeaders, type TestCaller } from '../support/auth';
import { connectTemporalClient, testConfig, uniqueTaskQueue } from '../support/env';
import { SwitchableAccounting, startTransferWorker, type RunningWorker } from '../support/transfer-worker';
import { createWalletAs, transferAs } from '../security/fixtures';
import { ownerOnShardDatabase, ownerOnShard, waitForStatus, type TransferJson } from './helpers';
import { query } from '../support/sql';
import { TcpProxy } from '../support/tcp-proxy';

/**
 * Finance decisions (retry, cancel) are idempotent by their Idempotency-Key: the key names one
 * Workflow Update (its id derives from caller and key), so a decision re-sent after a lost answer or
 * a 503 answers with that decision's outcome instead of a 409 that reads like a refusal, and the
 * saga applies and audits it once. Parked transfers are parked for real under a real worker.
 */
describe('finance decisions with an Idempotency-Key', () => {
  const env = { TEMPORAL_TASK_QUEUE: uniqueTaskQueue('decide'), TRANSFER_STEP_MAX_ATTEMPTS: '1' };
  let app: FastifyInstance;
  let worker: RunningWorker;
  let accounting: SwitchableAccounting | undefined;
  let temporal: Client;
  // both on database 0: the rows the API writes and the saga's on one database, shard-aware API or not
  const owner = customer(ownerOnShardDatabase(0, 'payer'));
  // the payee on the payer's logical shard: a same-shard transfer (the cross-shard ones: cross-shard.test.ts)
  const payee = customer(ownerOnShard(shardOfOwner(owner.sub), 'payee'));
  let from = '';
  let to = '';

  beforeAll(async () => {
    worker = await startTransferWorker(testConfig(env), {
      accounting: (book) => (accounting = new SwitchableAccounting(book)),
    });
    app = await buildApp({ config: testConfig(env), logger: false });
    temporal = await connectTemporalClient();
    [from, to] = [(await createWalletAs(app, owner)).id, (await createWalletAs(app, payee)).id];
    expect((await postDeposit(app, from, { amount: 10_000 })).statusCode).toBe(201);
  });
  afterAll(async () => {
    if (accounting) accounting.available = true;
    await app?.close();
    await worker?.stop();
    await temporal?.connection.close();
  });

  /** A finance caller of its own per test: keys are scoped to the caller. */
  const financeCaller = (): TestCaller => ({ sub: uniqueKey('finance'), roles: ['finance'] });

  async function parkedTransfer(amount: number): Promise<string> {
    accounting!.available = false;
    const res = await transferAs(app, owner, { fromWalletId: from, toWalletId: to, amount });
    const id = res.json<TransferJson>().id;
    await waitForStatus(app, id, 'NEEDS_ATTENTION');
    accounting!.available = true;
    return id;
  }

  function decide(id: string, action: 'retry' | 'cancel', as: TestCaller, key: string | undefined, reason: string) {
    const headers: Record<string, string> = { ...authHeaders(as) };
    if (key !== undefined) headers['idempotency-key'] = key;
    return app.inject({ method: 'POST', url: `/v1/transfers/${id}/${action}`, headers, payload: { reason } });
  }

  async function decisionsOf(id: string): Promise<Array<{ action: string; actor: string; reason: string }>> {
    return query(
      app.shards.forTransfer(id).store,
      `SELECT action, actor, reason FROM audit_log WHERE target_id = $1 ORDER BY id`,
      [id],
    );
  }

  const answer = (res: LightMyRequestResponse) => ({ status: res.statusCode, body: res.json<unknown>() });

  it("applies a decision sent twice with the same key once, and answers the second with the first one's outcome", async () => {
    const id = await parkedTransfer(100);
    const fiona = financeCaller();
    const key = uniqueKey('click');
    const first = await decide(id, 'cancel', fiona, key, 'customer withdrew the order');
    expect(first.statusCode).toBe(200);
    expect(first.json<TransferJson>().status).toBe('CANCELLED');
    expect(first.headers['idempotent-replayed']).toBeUndefined();

    const again = await decide(id, 'cancel', fiona, key, 'customer withdrew the order');
    expect(answer(again)).toEqual(answer(first));
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(await decisionsOf(id)).toEqual([
      { action: 'transfer.cancel', actor: fiona.sub, reason: 'customer withdrew the order' },
    ]);

    // another key is another decision: refused, the transfer is no longer parked
    expectProblem(await decide(id, 'cancel', fiona, uniqueKey('click'), 'once more'), 409, 'TRANSFER_NOT_PARKED');
  });

  it('answers a decision whose first answer was lost with its outcome, not a 409', async () => {
    for (const [action, update, settled] of [
      ['retry', retryUpdate, 'COMPLETED'],
      ['cancel', cancelUpdate, 'CANCELLED'],
    ] as const) {
      const id = await parkedTransfer(200);
      const fiona = financeCaller();
      const key = uniqueKey('click');
      // what the API sends for (fiona, key), taken by the saga while the API's answer is lost
      const handle = temporal.workflow.getHandle(`transfer-${id}`);
      await handle.executeUpdate(update, {
        args: [{ actor: fiona.sub, reason: 'lost answer', roles: ['finance'], requestId: 'req-lost' }],
        updateId: decisionUpdateIdFor(fiona.sub, key),
      });
      await waitForStatus(app, id, settled);

      const resent = await decide(id, action, fiona, key, 'lost answer');
      expect([action, resent.statusCode]).toEqual([action, 200]);
      expect(resent.json<TransferJson>().status).toBe(settled);
      expect(resent.headers['idempotent-replayed']).toBe('true');
      expect(await decisionsOf(id)).toEqual([
        { action: `transfer.${action}`, actor: fiona.sub, reason: 'lost answer' },
      ]);
    }
  });

  it('refuses the same key with another decision or another reason (422), and requires a key (400)', async () => {
    const id = await parkedTransfer(300);
    const fiona = financeCaller();
    const key = uniqueKey('click');
    expectProblem(await decide(id, 'retry', fiona, undefined, 'no key'), 400, 'IDEMPOTENCY_KEY_MISSING');
    expect((await decide(id, 'retry', fiona, key, 'accounting restored (INC-7)')).statusCode).toBe(200);
    expectProblem(await decide(id, 'retry', fiona, key, 'another reason'), 422, 'IDEMPOTENCY_KEY_REUSED');
    expectProblem(await decide(id, 'cancel', fiona, key, 'accounting restored (INC-7)'), 422, 'IDEMPOTENCY_KEY_REUSED');
    await waitForStatus(app, id, 'COMPLETED');
    expect(await decisionsOf(id)).toEqual([
      { action: 'transfer.retry', actor: fiona.sub, reason: 'accounting restored (INC-7)' },
    ]);
  });

  it('answers 503, never 202, when Temporal cannot say whether a decision on a transfer no longer parked was taken', async () => {
    const id = await parkedTransfer(500);
    expect((await decide(id, 'cancel', financeCaller(), uniqueKey('click'), 'cancelled first')).statusCode).toBe(200);
    // an API whose Temporal is away (killed, restarting) when the decision comes
    const temporalProxy = TcpProxy.to(testConfig().TEMPORAL_ADDRESS);
    await temporalProxy.listen();
    temporalProxy.open();
    const cut = await buildApp({
      config: testConfig({ ...env, TEMPORAL_ADDRESS: temporalProxy.address, TRANSFER_ANSWER_TIMEOUT_SECONDS: '2' }),
      logger: false,
    });
    try {
      await cut.ready();
      temporalProxy.close();
      temporalProxy.dropAll();
      const fiona = financeCaller();
      const key = uniqueKey('click');
      const send = () =>
        cut.inject({
          method: 'POST',
          url: `/v1/transfers/${id}/retry`,
          headers: { ...authHeaders(fiona), 'idempotency-key': key },
          payload: { reason: 'too late' },
        });
      // the decision was never taken: a 202 would tell finance it is being applied
      expectProblem(await send(), 503, 'SERVICE_UNAVAILABLE');
      // Temporal back (its client reconnects after a backoff): the same request is the refusal it is
      temporalProxy.open();
      let again = await send();
      for (const giveUp = Date.now() + 20_000; again.statusCode === 503 && Date.now() < giveUp;) again = await send();
      expectProblem(again, 409, 'TRANSFER_NOT_PARKED');
    } finally {
      await cut.close();
      await temporalProxy.stop();
    }
  });

  it('keeps a refusal a refusal: the key of a refused decision stays free, the same request is refused again', async () => {
    const id = await parkedTransfer(400);
    const key = uniqueKey('click');
    const [fiona, ada] = [financeCaller(), financeCaller()];
    expect((await decide(id, 'cancel', ada, uniqueKey('click'), 'ada was first')).statusCode).toBe(200);
    expectProblem(await decide(id, 'retry', fiona, key, 'too late'), 409, 'TRANSFER_NOT_PARKED');
    expectProblem(await decide(id, 'retry', fiona, key, 'too late'), 409, 'TRANSFER_NOT_PARKED');
    expect(await decisionsOf(id)).toEqual([{ action: 'transfer.cancel', actor: ada.sub, reason: 'ada was first' }]);
  });
});
