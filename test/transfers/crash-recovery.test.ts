import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app';
import { requestHash } from '../../api/idempotency';
import { transferIdFor, workflowIdFor } from '../../domain/ids';
import { recordTransfer } from '../../domain/transfers/records';
import { createWallet, getWallet, uniqueKey } from '../api/helpers';
import { testConfig, uniqueTaskQueue } from '../support/env';
import { startTransferWorker, type RunningWorker } from '../support/transfer-worker';
import { journalEntriesOf } from '../support/wallets';
import { fund, ownerOf, ownerOnShard, postTransfer, type TransferJson } from './helpers';

/**
 * An API instance that dies after writing the transfer row but before starting its workflow leaves
 * a PENDING row with no run. The caller's retry (same key, same body) must start the missing saga —
 * and only one — instead of answering with a transfer that never moves.
 */
describe('a transfer request that crashed between the row and the workflow start', () => {
  const env = { TEMPORAL_TASK_QUEUE: uniqueTaskQueue('crash') };
  let app: FastifyInstance;
  let worker: RunningWorker;

  beforeAll(async () => {
    worker = await startTransferWorker(testConfig(env));
    app = await buildApp({ config: testConfig(env), logger: false });
  });

  afterAll(async () => {
    await app?.close();
    await worker?.stop();
  });

  it('is completed by the retry of the same request, with one saga and one journal entry', async () => {
    // one customer on logical shard 0: its transfer id is the plain one however the API mints it
    const owner = ownerOnShard(0);
    const from = await createWallet(app, 'EUR', owner);
    const to = await createWallet(app, 'EUR', owner);
    await fund(app, from.id, 1_000);
    const caller = await ownerOf(app, from.id);
    const key = uniqueKey('crash');
    const body = { fromWalletId: from.id, toWalletId: to.id, amount: 150, currency: 'EUR' };

    // what the crashed request had written: the row, under the id and hash the API derives
    const id = transferIdFor(caller.sub, key);
    await recordTransfer(app.shards.forWallet(from.id).store, {
      id,
      callerId: caller.sub,
      idempotencyKey: key,
      requestHash: requestHash({ method: 'POST', url: '/v1/transfers', body }),
      fromWalletId: from.id,
      toWalletId: to.id,
      amount: 150n,
      currency: 'EUR',
      workflowId: workflowIdFor(id),
    });

    const retry = await postTransfer(app, body, { key, as: caller, waitSeconds: 20 });
    const transfer = retry.json<TransferJson>();
    expect({ status: retry.statusCode, id: transfer.id, state: transfer.status }).toEqual({
      status: 200,
      id,
      state: 'COMPLETED',
    });
    expect(transfer.runId).toEqual(expect.any(String));
    expect(await journalEntriesOf(app.shards, id)).toBe(1);
    expect(await getWallet(app, from.id)).toMatchObject({ balance: 850, held: 0 });

    // a further retry joins the finished saga: no second run, nothing moves again
    const again = await postTransfer(app, body, { key, as: caller, waitSeconds: 5 });
    expect(again.json<TransferJson>()).toMatchObject({ id, status: 'COMPLETED', runId: transfer.runId });
    expect(await getWallet(app, to.id)).toMatchObject({ balance: 150 });
  });
});
