import { WorkflowFailedError, type Client } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { postgresCeiling } from '../scripts/bench-postgres';
import type { baselineActivities, baselineLocalActivities } from '../workflows/baseline';
import { loadConfig } from '../config';
import { connectTemporalClient, testConfig, uniqueTaskQueue } from './support/env';
import { startTransferWorker, type RunningWorker } from './support/transfer-worker';

/**
 * The ceilings `npm run bench` measures against work: the bare workflows run on a real transfer worker
 * with WORKER_BENCH_BASELINE=true (workflows/bench.ts, activitiesFor), a production worker (the setting
 * off) has none of them, and the raw Postgres ceiling completes and cleans up after itself.
 * No timings here: speed is the bench's business, not the test suite's.
 */
describe('bench baselines', () => {
  const config = testConfig({ TEMPORAL_TASK_QUEUE: uniqueTaskQueue('bench'), WORKER_BENCH_BASELINE: 'true' });
  const production = testConfig({ TEMPORAL_TASK_QUEUE: uniqueTaskQueue('prod') });
  let client: Client;
  let worker: RunningWorker;
  let productionWorker: RunningWorker;

  beforeAll(async () => {
    client = await connectTemporalClient();
    [worker, productionWorker] = await Promise.all([startTransferWorker(config), startTransferWorker(production)]);
  });

  afterAll(async () => {
    await worker?.stop();
    await productionWorker?.stop();
    await client?.connection.close();
  });

  it('production refuses the setting, and leaves it off by default', () => {
    expect(loadConfig({ NODE_ENV: 'production' }).WORKER_BENCH_BASELINE).toBe(false);
    expect(() => loadConfig({ NODE_ENV: 'production', WORKER_BENCH_BASELINE: 'true' })).toThrow(
      /WORKER_BENCH_BASELINE/,
    );
  });

  it('a worker with the setting off (production) registers no bench workflow', async () => {
    expect(production.WORKER_BENCH_BASELINE).toBe(false);
    const run = client.workflow.execute<typeof baselineLocalActivities>('baselineLocalActivities', {
      taskQueue: production.TEMPORAL_TASK_QUEUE,
      workflowId: `${production.TEMPORAL_TASK_QUEUE}-baselineLocalActivities`,
      args: [1],
      // the worker fails every workflow task of an unknown type, so the run never completes: it times out
      workflowExecutionTimeout: '3 seconds',
    });
    await expect(run).rejects.toBeInstanceOf(WorkflowFailedError);
  });

  it.each([
    ['baselineLocalActivities', 3],
    ['baselineActivities', 2],
  ] as const)('%s(%i) runs its no-op activities on a transfer worker', async (workflow, n) => {
    const result = await client.workflow.execute<typeof baselineLocalActivities | typeof baselineActivities>(workflow, {
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      workflowId: `${config.TEMPORAL_TASK_QUEUE}-${workflow}`,
      args: [n],
    });
    expect(result).toBe(n);
  });

  it('the raw Postgres ceiling completes its transfers in a scratch schema it drops', async () => {
    const pg = new PgClient({ connectionString: config.DATABASE_URL });
    await pg.connect();
    try {
      // the bench's own wallets carry its seed balance (10^12, above any one deposit the API accepts): none
      // may land in the real table. Counting every wallet would race the suites that run alongside.
      const benchWallets = async () =>
        (await pg.query<{ n: string }>('SELECT count(*) AS n FROM wallets WHERE balance = 1000000000000')).rows[0]!.n;
      expect(await benchWallets()).toBe('0');

      const row = await postgresCeiling({
        databaseUrl: config.DATABASE_URL,
        runs: 12,
        aloneRuns: 3,
        senders: 2,
        connections: 3,
      });

      expect({ loaded: row.loaded.completed, alone: row.alone.completed, other: row.loaded.other }).toEqual({
        loaded: 12,
        alone: 3,
        other: {},
      });
      const { rows } = await pg.query(
        `SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'bench\\_%'`,
      );
      expect(rows).toEqual([]);
      expect(await benchWallets()).toBe('0');
    } finally {
      await pg.end();
    }
  });
});
