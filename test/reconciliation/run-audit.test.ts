import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { Client as PgClient } from 'pg';
import { expectProblem, startApp, uniqueKey } from '../api/helpers';
import { until } from '../resilience/helpers';
import { authHeaders, type TestCaller } from '../support/auth';
import { connectTemporalClient, testConfig, uniqueTaskQueue } from '../support/env';
import { TcpProxy } from '../support/tcp-proxy';

/**
 * A manual reconciliation run is a privileged action: it is audited exactly when it takes effect.
 * The API's Postgres and Temporal each sit behind a TCP proxy (test/support/tcp-proxy.ts), so either
 * can fail at the moment the run is requested; no worker polls the task queue, so a workflow that
 * was started stays visible (and harmless) in Temporal.
 */
describe('POST /v1/reconciliation/runs under outages', () => {
  const db = TcpProxy.to(testConfig().DATABASE_URL);
  const temporalProxy = TcpProxy.to(testConfig().TEMPORAL_ADDRESS);
  const taskQueue = uniqueTaskQueue('recon-audit');
  let app: FastifyInstance;
  let direct: PgClient;
  let temporal: Client;

  beforeAll(async () => {
    await Promise.all([db.listen(), temporalProxy.listen()]);
    db.open();
    temporalProxy.open();
    app = await startApp({
      DATABASE_URL: db.rewrite(testConfig().DATABASE_URL),
      TEMPORAL_ADDRESS: temporalProxy.address,
      TEMPORAL_TASK_QUEUE: taskQueue,
      DEPENDENCY_RETRY_MAX_SECONDS: '0.5',
    });
    direct = new PgClient({ connectionString: testConfig().DATABASE_URL }); // not through the proxy
    await direct.connect();
    temporal = await connectTemporalClient();
  });

  afterAll(async () => {
    await app?.close();
    await direct?.end();
    await temporal?.connection.close();
    await Promise.all([db.stop(), temporalProxy.stop()]);
  });

  afterEach(() => {
    db.open();
    temporalProxy.open();
  });

  /** A finance caller of its own, so its runs and audit rows are told apart from every other test's. */
  const financeCaller = (): TestCaller => ({ sub: uniqueKey('finance'), roles: ['finance'] });
  const requestRun = (who: TestCaller) =>
    app.inject({
      method: 'POST',
      url: '/v1/reconciliation/runs',
      headers: authHeaders(who),
      payload: { reason: 'outage test' },
    });

  async function runsOf(who: TestCaller) {
    const { rows } = await direct.query<{ id: string; status: string; failure: string | null }>(
      `SELECT id::text, status, failure FROM reconciliation_runs WHERE requested_by = $1`,
      [who.sub],
    );
    return rows;
  }
  async function auditRowsOf(who: TestCaller) {
    const { rows } = await direct.query<{ target_id: string }>(
      `SELECT target_id::text FROM audit_log WHERE actor = $1 AND action = 'reconciliation.run'`,
      [who.sub],
    );
    return rows.map((r) => r.target_id);
  }
  async function workflowsStarted(): Promise<string[]> {
    const ids: string[] = [];
    for await (const wf of temporal.workflow.list({ query: `TaskQueue = '${taskQueue}'` })) ids.push(wf.workflowId);
    return ids;
  }

  it('answers 503 with nothing started and nothing written while Postgres is down', async () => {
    const who = financeCaller();
    db.close();
    db.dropAll();
    const res = await requestRun(who);
    // the runs live on database 0: that database is the store the request needs (docs/architecture.md §9)
    expectProblem(res, 503, 'SHARD_UNAVAILABLE');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    db.open();

    // visibility lags a moment behind a start: give a wrongly started workflow the time to show
    await new Promise((r) => setTimeout(r, 2000));
    expect(await workflowsStarted()).toEqual([]);
    expect(await runsOf(who)).toEqual([]);
    expect(await auditRowsOf(who)).toEqual([]);
  });

  it('answers 202 only with the run and its audit row committed', async () => {
    const who = financeCaller();
    const res = await requestRun(who);
    expect(res.statusCode).toBe(202);
    const run = res.json<{ id: string; workflowId: string; status: string }>();
    expect(run).toMatchObject({ status: 'running', workflowId: `reconciliation-manual-${run.id}` });
    // read at once, no polling: the audit row is there when the answer is
    expect(await auditRowsOf(who)).toEqual([run.id]);
    expect(await runsOf(who)).toEqual([{ id: run.id, status: 'running', failure: null }]);
    await until(async () => (await workflowsStarted()).includes(run.workflowId), 10_000, 'the workflow in visibility');
    // the read back through the API matches the answer
    const read = await app.inject({
      method: 'GET',
      url: `/v1/reconciliation/runs/${run.id}`,
      headers: authHeaders(who),
    });
    expect(read.json()).toMatchObject({
      id: run.id,
      status: 'running',
      startedAt: res.json<{ startedAt: string }>().startedAt,
    });
  });

  it('answers 503 and records the run as failed (audited, nothing checked) when Temporal refuses the start', async () => {
    const who = financeCaller();
    temporalProxy.close();
    temporalProxy.dropAll();
    const res = await requestRun(who);
    expectProblem(res, 503, 'SERVICE_UNAVAILABLE');
    const runs = await runsOf(who);
    expect(runs).toEqual([
      { id: expect.any(String), status: 'failed', failure: expect.stringContaining('could not be started') },
    ]);
    expect(res.json<{ detail: string }>().detail).toContain(`/v1/reconciliation/runs/${runs[0]!.id}`);
    // the request that reached the books is in the trail, tied to the failed run
    expect(await auditRowsOf(who)).toEqual([runs[0]!.id]);
  });
});
