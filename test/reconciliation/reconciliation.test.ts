import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type { Store } from '../../db/store';
import { createStore } from '../../db/store';
import { transferIdFor, workflowIdFor } from '../../domain/ids';
import { shardOfOwner } from '../../domain/shards';
import { recordTransfer } from '../../domain/transfers/records';
import { reconciliationWorkflow } from '../../workflows/reconciliation';
import { recordHistory } from '../support/histories';
import { ADMIN, FINANCE, OPS, customer, startApp, uniqueKey } from '../api/helpers';
import { authHeaders, type TestCaller } from '../support/auth';
import { connectTemporalClient, ownDatabase, testConfig, uniqueTaskQueue } from '../support/env';
import { SwitchableAccounting, startTransferWorker, type RunningWorker } from '../support/transfer-worker';
import { createWalletAs, transferAs } from '../security/fixtures';
import { eventually } from '../support/wallets';
import { query } from '../support/sql';

interface RunJson {
  id: string;
  workflowId: string;
  trigger: string;
  requestedBy: string | null;
  status: 'running' | 'succeeded';
  checked: Record<string, number>;
  discrepancyCounts: Record<string, number>;
  discrepancies: number;
  repaired: number;
  found: Array<{ kind: string; subject: string; ids: Record<string, string>; detail: string; repaired?: string }>;
}

/** A customer whose wallets are on logical shard 0 (with those of before shards): its transfers stay in one shard. */
function customerOnShardZero(prefix: string): TestCaller {
  for (;;) {
    const sub = uniqueKey(prefix);
    if (shardOfOwner(sub) === 0) return customer(sub);
  }
}

/**
 * Reconciliation end to end, in a database of its own (planted discrepancies must never reach the
 * shared test database, whose invariants other suites check): the real API, a real worker running
 * the reconciliation workflow's activities, on a task queue of its own (the workflows-vs-rows check
 * looks at this queue's transfer workflows only). One database, every logical shard on it, and the
 * customers on one logical shard: the same-shard saga end to end; across shards and databases,
 * test/reconciliation/cross-shard.test.ts.
 */
describe('reconciliation', () => {
  const database = ownDatabase('recon');
  const databaseUrl = database.url;
  const env = {
    ...database.overrides,
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue('recon'),
    TRANSFER_STEP_MAX_ATTEMPTS: '1', // an accounting outage parks a transfer at once
  };
  let app: FastifyInstance;
  let worker: RunningWorker;
  let accounting: SwitchableAccounting;
  let temporal: Client;
  let db: Store;
  const alice: TestCaller = customerOnShardZero('alice');
  const bob: TestCaller = customerOnShardZero('bob');
  const wallets = { A: '', B: '', U: '', V: '' };

  async function deposit(walletId: string, amount: number) {
    const res = await app.inject({
      method: 'POST',
      url: `/v1/wallets/${walletId}/deposits`,
      headers: { ...authHeaders(FINANCE), 'idempotency-key': uniqueKey('dep') },
      payload: { amount },
    });
    expect(res.statusCode).toBe(201);
  }

  async function completedTransfer(amount: number): Promise<string> {
    const res = await transferAs(
      app,
      alice,
      { fromWalletId: wallets.A, toWalletId: wallets.B, amount },
      uniqueKey('tr'),
      { prefer: 'wait=30' },
    );
    expect([res.statusCode, res.json<{ status: string }>().status]).toEqual([200, 'COMPLETED']);
    return res.json<{ id: string }>().id;
  }

  /** A manual run through the API, polled until it finished. */
  async function runThroughApi(): Promise<RunJson> {
    const started = await app.inject({
      method: 'POST',
      url: '/v1/reconciliation/runs',
      headers: authHeaders(FINANCE),
      payload: { reason: 'test run' },
    });
    expect(started.statusCode).toBe(202);
    const { id } = started.json<RunJson>();
    expect(started.headers.location).toBe(`/v1/reconciliation/runs/${id}`);
    for (let i = 0; i < 600; i++) {
      const res = await app.inject({ method: 'GET', url: `/v1/reconciliation/runs/${id}`, headers: authHeaders(OPS) });
      expect(res.statusCode).toBe(200);
      const run = res.json<RunJson>();
      if (run.status === 'succeeded') return run;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`reconciliation run ${id} did not finish`);
  }

  async function count(table: string): Promise<number> {
    const [row] = await query<{ n: number }>(db, `SELECT count(*)::int AS n FROM ${table}`);
    return row!.n;
  }

  beforeAll(async () => {
    await database.create();
    db = createStore({ url: databaseUrl, poolMax: 3, applicationName: 'wallet-test-recon' });
    await db.connect();
    worker = await startTransferWorker(testConfig(env), {
      accounting: (book) => (accounting = new SwitchableAccounting(book)),
    });
    app = await startApp(env);
    temporal = await connectTemporalClient();
    wallets.A = (await createWalletAs(app, alice)).id;
    wallets.B = (await createWalletAs(app, bob)).id;
    wallets.U = (await createWalletAs(app, alice, 'USD')).id;
    wallets.V = (await createWalletAs(app, bob, 'USD')).id;
    await deposit(wallets.A, 1_000_000);
    await deposit(wallets.U, 50_000);
  });

  afterAll(async () => {
    await app?.close();
    await worker?.stop();
    await temporal?.connection.close();
    await db?.close();
    await database.drop();
  });

  it('reports zero discrepancies on a busy ledger: completed, refused, parked, retried and cancelled transfers, some still running', async () => {
    // completed in two currencies, refused for insufficient funds, concurrently
    const results = await Promise.all([
      ...Array.from({ length: 12 }, (_, i) =>
        transferAs(app, alice, { fromWalletId: wallets.A, toWalletId: wallets.B, amount: 100 + i }),
      ),
      // USD: two complete, two are refused for insufficient funds (an outcome, not a discrepancy)
      ...Array.from({ length: 4 }, () =>
        transferAs(
          app,
          alice,
          { fromWalletId: wallets.U, toWalletId: wallets.V, amount: 20_000, currency: 'USD' } as never,
          uniqueKey('usd'),
        ),
      ),
    ]);
    expect(results.every((r) => [202, 422].includes(r.statusCode))).toBe(true);

    // two parked by an accounting outage: finance retries one and cancels the other (audited decisions)
    accounting.available = false;
    const parked = await Promise.all(
      [1, 2].map(() =>
        transferAs(app, alice, { fromWalletId: wallets.A, toWalletId: wallets.B, amount: 500 }, uniqueKey('park'), {
          prefer: 'wait=30',
        }),
      ),
    );
    expect(parked.map((r) => r.json<{ status: string }>().status)).toEqual(['NEEDS_ATTENTION', 'NEEDS_ATTENTION']);
    accounting.available = true;
    const [retryId, cancelId] = parked.map((r) => r.json<{ id: string }>().id);
    const decide = (id: string, action: string) =>
      app.inject({
        method: 'POST',
        url: `/v1/transfers/${id}/${action}`,
        headers: { ...authHeaders(FINANCE), 'idempotency-key': uniqueKey('decide') },
        payload: { reason: 'reconciliation test' },
      });
    expect((await decide(retryId!, 'retry')).statusCode).toBe(200);
    expect((await decide(cancelId!, 'cancel')).statusCode).toBe(200);

    // busy while it runs: transfers keep coming
    const during = Promise.all(
      Array.from({ length: 6 }, () =>
        transferAs(app, alice, { fromWalletId: wallets.A, toWalletId: wallets.B, amount: 7 }),
      ),
    );
    const run = await runThroughApi();
    await during;

    expect(run.found).toEqual([]);
    expect(run).toMatchObject({
      trigger: 'manual',
      requestedBy: FINANCE.sub,
      discrepancies: 0,
      discrepancyCounts: {},
      repaired: 0,
    });
    expect(run.checked.wallets).toBeGreaterThanOrEqual(6); // 4 customer wallets + external:EUR, external:USD
    expect(run.checked.journalEntries).toBeGreaterThanOrEqual(14);
    expect(run.checked.transfers).toBeGreaterThanOrEqual(18);
    expect(run.checked.decidedTransfers).toBeGreaterThanOrEqual(2); // the parked two, and the refused (failed at reserve)
    expect(run.checked.transferWorkflows).toBeGreaterThanOrEqual(18);

    // audited, and listed for staff
    const audit = await app.inject({ method: 'GET', url: `/v1/audit?target=${run.id}`, headers: authHeaders(OPS) });
    expect(audit.json<{ items: Array<{ action: string; actor: string; reason: string }> }>().items).toEqual([
      expect.objectContaining({ action: 'reconciliation.run', actor: FINANCE.sub, reason: 'test run' }),
    ]);
    const list = await app.inject({
      method: 'GET',
      url: '/v1/reconciliation/runs?limit=1',
      headers: authHeaders(ADMIN),
    });
    expect(list.json<{ items: RunJson[] }>().items[0]).toMatchObject({ id: run.id, status: 'succeeded' });

    // the API's gauges read the latest run
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/^reconciliation_discrepancies\{kind="wallet_balance_mismatch"\} 0$/m);
    expect(metrics).toMatch(/^reconciliation_last_success_timestamp_seconds [1-9]\d+(\.\d+)?$/m);
  });

  it('stitches pages: a run two rows at a time counts every row once and agrees with a one-page run', async () => {
    const execute = async (pageSize: number) => {
      const handle = await temporal.workflow.start(reconciliationWorkflow, {
        taskQueue: env.TEMPORAL_TASK_QUEUE,
        workflowId: `reconciliation-test-${uniqueKey(String(pageSize))}`,
        args: [{ trigger: 'manual', pageSize }],
      });
      const result = await handle.result();
      const { events } = await handle.fetchHistory();
      if (pageSize === 2) await recordHistory(handle.workflowId, 'maintenance/reconciliation-paged');
      return { ...result, activities: (events ?? []).filter((e) => e.activityTaskScheduledEventAttributes).length };
    };
    const small = await execute(2);
    const large = await execute(10_000);
    expect(small.checked).toEqual(large.checked);
    expect(small.checked.wallets).toBe(await count('wallets'));
    expect(small.checked.journalEntries).toBe(await count('journal_entries'));
    expect(small.checked.transfers).toBe(await count('transfers'));
    expect(small.checked.transferWorkflows).toBe(await count('transfers')); // one workflow per row
    expect(small.discrepancyCounts).toEqual({});
    expect(large.discrepancyCounts).toEqual({});
    // begin + one page per check + finish for the one-page run; many pages for the small one
    expect(large.activities).toBe(8);
    expect(small.activities).toBeGreaterThan(large.activities + Math.floor((small.checked.transfers ?? 0) / 2));

    // the same run continued-as-new every few pages carries its counts and sums across runs
    const workflowId = `reconciliation-test-${uniqueKey('can')}`;
    const continued = await temporal.workflow.execute(reconciliationWorkflow, {
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      workflowId,
      args: [{ trigger: 'manual', pageSize: 2, maxHistoryEvents: 30 }],
    });
    await recordHistory(workflowId, 'maintenance/reconciliation-continued-as-new'); // the last run: it starts from carried counts
    expect(continued.checked).toEqual(large.checked);
    expect(continued.discrepancyCounts).toEqual({});
    // visibility is eventually consistent: wait for the closed runs to be listed
    await eventually(
      async () => {
        let runs = 0;
        for await (const _ of temporal.workflow.list({ query: `WorkflowId = "${workflowId}"` })) runs += 1;
        return runs > 1 ? runs : undefined;
      },
      10_000,
      'the continued-as-new runs',
    );
    const [stored] = await query<{ n: number; wallets: string }>(
      db,
      `SELECT count(*)::int AS n, max(checked->>'wallets') AS wallets FROM reconciliation_runs WHERE workflow_id = $1`,
      [workflowId],
    );
    expect(stored).toEqual({ n: 1, wallets: String(large.checked.wallets) }); // one run row for all its Temporal runs
  });

  it('finds each planted discrepancy with its kind and ids, and starts the saga of a row left without one', async () => {
    // a completed transfer whose booking is gone (bypassing the append-only triggers, on this database only)
    const unbooked = await completedTransfer(300);
    await db.transaction(async (m) => {
      await m(`SET LOCAL session_replication_role = replica`);
      await m(`DELETE FROM accounting_lines WHERE transfer_id = $1`, [unbooked]);
      await m(`DELETE FROM accounting_bookings WHERE transfer_id = $1`, [unbooked]);
    });
    // a workflow whose row is gone
    const rowless = await completedTransfer(400);
    await query(db, `DELETE FROM transfers WHERE id = $1`, [rowless]);
    // a row whose workflow was never started (the API died between the two), older than the grace period
    const key = uniqueKey('lost');
    const lostId = transferIdFor(alice.sub, key);
    await recordTransfer(db, {
      id: lostId,
      callerId: alice.sub,
      idempotencyKey: key,
      requestHash: 'lost-request',
      fromWalletId: wallets.A,
      toWalletId: wallets.B,
      amount: 250n,
      currency: 'EUR',
      workflowId: workflowIdFor(lostId),
    });
    await query(db, `UPDATE transfers SET created_at = now() - interval '5 minutes' WHERE id = $1`, [lostId]);
    // an audit row for a decision the saga never applied
    const undecided = await completedTransfer(50);
    const forgedKey = `${workflowIdFor(undecided)}/forged-update`;
    await query(
      db,
      `INSERT INTO audit_log (actor, roles, action, target_type, target_id, reason, request_id, idempotency_key, created_at)
       VALUES ('mallory', '{finance}', 'transfer.retry', 'transfer', $1, 'never applied', 'req-x', $2, now() - interval '5 minutes')`,
      [undecided, forgedKey],
    );
    // a wallet balance off by one (last: a later posting would restate balance_after)
    await query(db, `UPDATE wallets SET balance = balance + 1 WHERE id = $1`, [wallets.B]);

    const run = await runThroughApi();
    await recordHistory(run.workflowId, 'maintenance/reconciliation-repairs');

    const byKind = (kind: string) => run.found.filter((d) => d.kind === kind);
    // every discrepancy names its database (one here: db-0, the accounting book in it) and logical shard
    const onShard = { database: 'db-0', logicalShard: '0' };
    expect(byKind('wallet_balance_mismatch')).toEqual([
      expect.objectContaining({ subject: wallets.B, ids: { walletId: wallets.B, ...onShard } }),
    ]);
    expect(byKind('wallet_balance_after_mismatch')).toEqual([
      expect.objectContaining({ subject: wallets.B, ids: { walletId: wallets.B, ...onShard } }),
    ]);
    expect(byKind('booking_missing')).toEqual([
      expect.objectContaining({ subject: unbooked, ids: { transferId: unbooked, ...onShard } }),
    ]);
    expect(byKind('accounting_ledger_totals_mismatch')).toEqual([
      expect.objectContaining({ subject: 'EUR@db-0', ids: { currency: 'EUR', database: 'db-0' } }),
    ]);
    expect(byKind('workflow_without_transfer')).toEqual([
      expect.objectContaining({
        subject: workflowIdFor(rowless),
        ids: expect.objectContaining({ workflowId: workflowIdFor(rowless), ...onShard }),
      }),
    ]);
    expect(byKind('transfer_without_workflow')).toEqual([
      expect.objectContaining({
        subject: lostId,
        ids: { transferId: lostId, workflowId: workflowIdFor(lostId), ...onShard },
        repaired: 'saga started under its workflow id',
      }),
    ]);
    expect(byKind('audit_without_decision')).toEqual([
      expect.objectContaining({
        subject: forgedKey,
        ids: { transferId: undecided, workflowId: workflowIdFor(undecided), updateId: 'forged-update', ...onShard },
      }),
    ]);
    expect(Object.keys(run.discrepancyCounts).sort()).toEqual(
      [
        'accounting_ledger_totals_mismatch',
        'audit_without_decision',
        'booking_missing',
        'transfer_without_workflow',
        'wallet_balance_after_mismatch',
        'wallet_balance_mismatch',
        'workflow_without_transfer',
      ].sort(),
    );
    expect(run.repaired).toBe(1);

    // the repaired transfer runs its saga to the end
    const result = await temporal.workflow.getHandle(workflowIdFor(lostId)).result();
    expect(result).toMatchObject({ status: 'COMPLETED' });
    const [row] = await query<{ status: string }>(db, `SELECT status FROM transfers WHERE id = $1`, [lostId]);
    expect(row!.status).toBe('COMPLETED');

    // the gauges show the kinds the alert fires on (the API caches them for up to 5 s)
    let metrics = '';
    for (let i = 0; i < 40 && !/^reconciliation_discrepancies\{kind="booking_missing"\} 1$/m.test(metrics); i++) {
      await new Promise((r) => setTimeout(r, 250));
      metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    }
    expect(metrics).toMatch(/^reconciliation_discrepancies\{kind="booking_missing"\} 1$/m);
    expect(metrics).toMatch(/^reconciliation_discrepancies\{kind="transfer_workflow_closed"\} 0$/m);
  });
});
