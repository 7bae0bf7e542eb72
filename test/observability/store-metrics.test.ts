import { randomUUID } from 'node:crypto';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app';
import { WAITING_ON_STORE_ATTRIBUTE } from '../../observability/store-metrics';
import { testConfig, uniqueTaskQueue } from '../support/env';
import { eventually } from '../support/wallets';
import { ensureWaitingOnStoreAttribute, parseMetrics, valueOf } from './helpers';

const WaitingOnStoreKey = defineSearchAttributeKey(WAITING_ON_STORE_ATTRIBUTE, SearchAttributeType.KEYWORD);

/**
 * wallet_sagas_waiting_for_store{store}: the running transfer workflows whose WaitingOnStore search
 * attribute names a database, counted by the API from Temporal's visibility store at scrape time. A
 * workflow that no worker polls, started with the attribute set (as a saga step waiting for a database
 * leaves it), stands in for a waiting saga on the real dev server.
 */
describe('the sagas waiting for a database, as a metric', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = await buildApp({ config: testConfig(), logger: false });
    await ensureWaitingOnStoreAttribute(app.temporal);
  });
  afterAll(async () => {
    await app?.close();
  });

  const waitingFor = async (store: string) =>
    valueOf(
      parseMetrics((await app.inject({ method: 'GET', url: '/metrics' })).body).samples,
      'wallet_sagas_waiting_for_store',
      { store },
    );

  it('counts each database’s waiting sagas, and drops one that goes on', async () => {
    const store = app.shards.all[app.shards.all.length - 1]!.name;
    const handle = await app.temporal.workflow.start('transferWorkflow', {
      taskQueue: uniqueTaskQueue('nobody-polls'),
      workflowId: `waiting-${randomUUID()}`,
      args: [],
      typedSearchAttributes: [{ key: WaitingOnStoreKey, value: store }],
    });
    try {
      // visibility is eventually consistent, and a count is reused for 5 s
      await eventually(
        async () => ((await waitingFor(store)) === 1 ? true : undefined),
        20_000,
        `1 saga waiting on ${store}`,
      );
      for (const other of app.shards.all.filter((db) => db.name !== store))
        expect(await waitingFor(other.name)).toBe(0);
    } finally {
      await handle.terminate('test over');
    }
    await eventually(
      async () => ((await waitingFor(store)) === 0 ? true : undefined),
      20_000,
      `none waiting on ${store}`,
    );
  });
});
