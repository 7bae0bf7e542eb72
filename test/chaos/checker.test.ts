import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type { Store } from '../../db/store';
import { buildApp } from '../../api/app';
import { createStore } from '../../db/store';
import { runMigrations } from '../../db/migrate';
import {
  CHECK_NAMES,
  formatCheckTable,
  runChecks,
  type CheckInput,
  type CheckOutcome,
} from '../../scripts/chaos/checker';
import {
  emptyRecord,
  type ChaosRecord,
  type TransferAnswer,
  type TransferIntent,
  type TransferRequestRecord,
} from '../../scripts/chaos/record';
import { dropDatabase, ensureDatabase } from '../../scripts/migrate';
import { callers, tokenFor } from '../support/auth';
import { connectTemporalClient, testConfig, uniqueTaskQueue } from '../support/env';
import { SwitchableAccounting, startTransferWorker, type RunningWorker } from '../support/transfer-worker';

/** The checker's rows by what they check (CHECK_NAMES order). */
const ROW = {
  totals: CHECK_NAMES[0],
  bounds: CHECK_NAMES[1],
  balancesByRecord: CHECK_NAMES[2],
  idempotency: CHECK_NAMES[3],
  terminal: CHECK_NAMES[4],
  unwound: CHECK_NAMES[5],
  completed: CHECK_NAMES[6],
  invariants: CHECK_NAMES[7],
  decisions: CHECK_NAMES[8],
  no500: CHECK_NAMES[9],
  jsonLogs: CHECK_NAMES[10],
};

function failingRows(outcome: CheckOutcome): string[] {
  return outcome.rows.filter((r) => r.violations.length > 0).map((r) => r.name);
}

function utcStamp(d = new Date()): string {
  return d.toISOString().replace(/\D/g, '').slice(0, 14);
}

/**
 * The chaos checker on a small real world: its own database (planted violations must never reach the
 * shared test database, whose invariants other suites check), the real API listening on a port and a
 * real worker. A clean world reports nothing; each planted violation is reported by the rows meant to
 * see it, and by no other (some are seen twice by design: check 6 and 7 restate ledger invariants).
 */
describe('chaos checker', () => {
  // named like global setup's databases, so a killed run's leftover is reaped by a later run
  const databaseName = `wallet_test_${utcStamp()}_${process.pid}`;
  const databaseUrl = (() => {
    const u = new URL(testConfig().DATABASE_URL);
    u.pathname = `/${databaseName}`;
    return u.toString();
  })();
  const env = {
    DATABASE_URL: databaseUrl,
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue('chaos-checker'),
    REDIS_KEY_PREFIX: `${testConfig().REDIS_KEY_PREFIX}checker:`,
    TRANSFER_STEP_MAX_ATTEMPTS: '1', // an accounting failure parks the transfer at once
  };
  const staffToken = tokenFor(callers.ops());
  const financeToken = tokenFor(callers.finance());
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chaos-checker-'));
  const logFiles = [
    { name: 'api', path: path.join(logDir, 'api.log') },
    { name: 'worker-1', path: path.join(logDir, 'worker-1.log') },
    { name: 'worker-2', path: path.join(logDir, 'never-started.log') },
  ];

  let created = false;
  let worker: RunningWorker | undefined;
  let accounting: SwitchableAccounting | undefined;
  let app: FastifyInstance | undefined;
  let db: Store | undefined;
  let temporal: Client | undefined;
  let apiUrl = '';
  const record: ChaosRecord = emptyRecord(1);
  const ids = { completed: '', rejected: '', cancelled: '' };

  async function call(
    method: string,
    route: string,
    url: string,
    token: string,
    body?: object,
    headers: Record<string, string> = {},
  ) {
    const res = await fetch(`${apiUrl}${url}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    record.http.push({ at: Date.now(), method, route, status: res.status });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  const answerOf = ({ status, body }: { status: number; body: Record<string, unknown> }): TransferAnswer => ({
    status,
    transferId: typeof body.id === 'string' ? body.id : typeof body.transferId === 'string' ? body.transferId : null,
    code: typeof body.code === 'string' ? body.code : null,
  });

  async function openWallet(owner: string, currency: string): Promise<string> {
    const res = await call('POST', '/v1/wallets', '/v1/wallets', tokenFor(callers.customer(owner)), { currency });
    expect(res.status).toBe(201);
    const id = String(res.body.id);
    record.wallets.push({ id, ownerId: owner, currency });
    return id;
  }

  async function deposit(walletId: string, currency: string, amount: bigint): Promise<void> {
    const idempotencyKey = `dep-${randomUUID()}`;
    const res = await call(
      'POST',
      '/v1/wallets/:id/deposits',
      `/v1/wallets/${walletId}/deposits`,
      financeToken,
      { amount: Number(amount) },
      {
        'idempotency-key': idempotencyKey,
      },
    );
    expect(res.status).toBe(201);
    record.deposits.push({ walletId, currency, amount, idempotencyKey, depositId: String(res.body.id) });
  }

  async function transfer(
    caller: string,
    body: { fromWalletId: string; toWalletId: string; amount: bigint; currency: string },
    opts: { intent?: TransferIntent; duplicated?: boolean; reuseKey?: boolean } = {},
  ): Promise<TransferRequestRecord> {
    const r: TransferRequestRecord = {
      callerId: caller,
      idempotencyKey: `tr-${randomUUID()}`,
      ...body,
      intent: opts.intent ?? 'normal',
      sentAt: Date.now(),
      answers: [],
      duplicated: opts.duplicated ?? false,
      reusedKeyAnswer: null,
    };
    record.transfers.push(r);
    const send = (amount: bigint) =>
      call(
        'POST',
        '/v1/transfers',
        '/v1/transfers',
        tokenFor(callers.customer(caller)),
        { ...body, amount: Number(amount) },
        {
          'idempotency-key': r.idempotencyKey,
          prefer: 'wait=10',
        },
      );
    const answers = await Promise.all(r.duplicated ? [send(body.amount), send(body.amount)] : [send(body.amount)]);
    r.answers.push(...answers.map(answerOf));
    if (opts.reuseKey) r.reusedKeyAnswer = answerOf(await send(body.amount + 1n));
    return r;
  }

  async function decide(transferId: string, kind: 'retry' | 'cancel'): Promise<number> {
    const res = await call(
      'POST',
      `/v1/transfers/:id/${kind}`,
      `/v1/transfers/${transferId}/${kind}`,
      financeToken,
      { reason: 'checker test' },
      {
        'idempotency-key': `checker-${kind}-${transferId}`,
      },
    );
    record.decisions.push({
      transferId,
      kind,
      at: Date.now(),
      status: res.status,
      code: typeof res.body.code === 'string' ? res.body.code : null,
    });
    return res.status;
  }

  async function settled(transferId: string): Promise<string> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const res = await fetch(`${apiUrl}/v1/transfers/${transferId}`, {
        headers: { authorization: `Bearer ${staffToken}` },
      });
      const { status } = (await res.json()) as { status: string };
      if (['COMPLETED', 'REJECTED', 'CANCELLED'].includes(status)) return status;
      if (Date.now() > deadline) throw new Error(`transfer ${transferId} still ${status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const input = (overrides: Partial<CheckInput> = {}): CheckInput => ({
    record,
    db: db!,
    temporal: temporal!,
    apiUrl,
    staffToken,
    logFiles,
    ...overrides,
  });

  beforeAll(async () => {
    created = await ensureDatabase(databaseUrl);
    if (!created) throw new Error(`database ${databaseName} already exists`);
    await runMigrations(databaseUrl);
    worker = await startTransferWorker(testConfig(env), {
      accounting: (book) => (accounting = new SwitchableAccounting(book)),
    });
    app = await buildApp({ config: testConfig(env), logger: false });
    apiUrl = await app.listen({ host: '127.0.0.1', port: 0 });
    db = createStore({ url: databaseUrl, poolMax: 4, applicationName: 'chaos-checker-test' });
    await db.connect();
    temporal = await connectTemporalClient();

    // the world: three customers, two currencies; one transfer completed (sent twice, its key reused),
    // one refused, one parked by an accounting outage and cancelled by finance (a late retry refused)
    const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((n) => `${n}-${randomUUID()}`) as [
      string,
      string,
      string,
    ];
    const [aliceEur, bobEur, carolUsd] = [
      await openWallet(alice, 'EUR'),
      await openWallet(bob, 'EUR'),
      await openWallet(carol, 'USD'),
    ];
    await deposit(aliceEur, 'EUR', 1_000n);
    await deposit(carolUsd, 'USD', 500n);

    const leg = { fromWalletId: aliceEur, toWalletId: bobEur, currency: 'EUR' };
    const completed = await transfer(alice, { ...leg, amount: 300n }, { duplicated: true, reuseKey: true });
    const rejected = await transfer(alice, { ...leg, amount: 5_000n }, { intent: 'overdraft' });
    accounting!.available = false;
    const parked = await transfer(alice, { ...leg, amount: 100n });
    accounting!.available = true;
    ids.completed = completed.answers[0]?.transferId ?? '';
    ids.rejected = rejected.answers[0]?.transferId ?? '';
    ids.cancelled = parked.answers[0]?.transferId ?? '';
    expect([completed.reusedKeyAnswer?.status, rejected.answers[0]?.code]).toEqual([422, 'INSUFFICIENT_FUNDS']);
    expect(await decide(ids.cancelled, 'cancel')).toBe(200);
    expect(await decide(ids.cancelled, 'retry')).toBe(409);
    expect(await Promise.all([ids.completed, ids.rejected, ids.cancelled].map(settled))).toEqual([
      'COMPLETED',
      'REJECTED',
      'CANCELLED',
    ]);

    fs.writeFileSync(
      logFiles[0]!.path,
      '{"level":30,"msg":"server listening"}\n{"level":30,"msg":"request completed"}\n',
    );
    fs.writeFileSync(logFiles[1]!.path, '{"level":30,"msg":"worker started"}\n\n');
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await worker?.stop();
    await temporal?.connection.close();
    await db?.close();
    if (created) await dropDatabase(databaseUrl);
    fs.rmSync(logDir, { recursive: true, force: true });
  });

  /** Plants a change with SQL, runs the checks, undoes it. */
  async function withPlanted(plant: string, undo: string, params: unknown[]): Promise<CheckOutcome> {
    await db!.sql(plant, params);
    try {
      return await runChecks(input());
    } finally {
      await db!.sql(undo, params);
    }
  }

  it('reports no violation on a consistent world, and checks something in every row', async () => {
    const outcome = await runChecks(input());
    expect(outcome.rows.map((r) => [r.name, r.violations])).toEqual(CHECK_NAMES.map((n) => [n, []]));
    expect(outcome.rows.filter((r) => r.checked === 0).map((r) => r.name)).toEqual([]);
    expect(outcome.finalStatuses).toEqual(
      new Map([
        [ids.completed, 'COMPLETED'],
        [ids.rejected, 'REJECTED'],
        [ids.cancelled, 'CANCELLED'],
      ]),
    );
  });

  it('catches a wallet balance off by one whose ledger lines were left untouched', async () => {
    const bob = record.wallets[1]!.id;
    const outcome = await withPlanted(
      `UPDATE wallets SET balance = balance + 1 WHERE id = $1`,
      `UPDATE wallets SET balance = balance - 1 WHERE id = $1`,
      [bob],
    );
    expect(failingRows(outcome)).toEqual([ROW.totals, ROW.balancesByRecord, ROW.invariants]);
    expect(outcome.rows.find((r) => r.name === ROW.balancesByRecord)?.violations).toEqual([
      `wallet ${bob}: balance 301 <> 300 by the client's record`,
    ]);
  });

  it('catches a CANCELLED transfer with an active hold', async () => {
    const outcome = await withPlanted(
      `UPDATE holds SET status = 'active' WHERE transfer_id = $1`,
      `UPDATE holds SET status = 'released' WHERE transfer_id = $1`,
      [ids.cancelled],
    );
    expect(failingRows(outcome)).toEqual([ROW.unwound, ROW.invariants]);
    expect(outcome.rows.find((r) => r.name === ROW.unwound)?.violations).toEqual([
      `CANCELLED transfer ${ids.cancelled}: hold still active`,
    ]);
  });

  it('catches a duplicate key answered with two ids', async () => {
    const forged = structuredClone(record);
    const other = randomUUID();
    forged.transfers[0]!.answers.push({ status: 202, transferId: other, code: null });
    const outcome = await runChecks(input({ record: forged }));
    expect(failingRows(outcome)).toEqual([ROW.idempotency]);
    expect(outcome.rows.find((r) => r.name === ROW.idempotency)?.violations).toEqual([
      expect.stringContaining(`answered with 2 ids (${ids.completed}, ${other})`),
    ]);
  });

  it('catches a line that is not JSON in a log', async () => {
    const original = fs.readFileSync(logFiles[1]!.path, 'utf8');
    fs.appendFileSync(logFiles[1]!.path, 'Error: boom\n    at somewhere (file.js:1:1)\n');
    try {
      const outcome = await runChecks(input());
      expect(failingRows(outcome)).toEqual([ROW.jsonLogs]);
      expect(outcome.rows.find((r) => r.name === ROW.jsonLogs)?.violations).toEqual([
        'worker-1: Error: boom',
        'worker-1:     at somewhere (file.js:1:1)',
      ]);
    } finally {
      fs.writeFileSync(logFiles[1]!.path, original);
    }
  });

  it('catches a 500 answer', async () => {
    const forged = structuredClone(record);
    forged.http.push({ at: Date.UTC(2030, 0, 1), method: 'GET', route: '/v1/wallets/:id', status: 500 });
    forged.http.push({ at: Date.UTC(2030, 0, 1), method: 'GET', route: '/v1/wallets/:id', status: 503 }); // judged elsewhere
    const outcome = await runChecks(input({ record: forged }));
    expect(failingRows(outcome)).toEqual([ROW.no500]);
    expect(outcome.rows.find((r) => r.name === ROW.no500)?.violations).toEqual([
      'GET /v1/wallets/:id answered 500 at 2030-01-01T00:00:00.000Z',
    ]);
  });

  it('catches an audited finance decision the workflow never applied', async () => {
    const workflowId = `transfer-${ids.completed}`;
    const updateId = `planted-${randomUUID()}`;
    await db!.sql(
      `INSERT INTO audit_log (actor, roles, action, target_type, target_id, reason, request_id, details, idempotency_key)
       VALUES ('planted', '{finance}', 'transfer.retry', 'transfer', $1, 'planted', 'planted', $2, $3)`,
      [ids.completed, JSON.stringify({ workflowId, updateId }), `${workflowId}/${updateId}`],
    );
    try {
      const outcome = await runChecks(input());
      expect(failingRows(outcome)).toEqual([ROW.decisions]);
      expect(outcome.rows.find((r) => r.name === ROW.decisions)?.violations).toEqual([
        `transfer ${ids.completed}: 1 retry audit rows, 0 retry decisions not refused (0 refused)`,
        `transfer ${ids.completed}: audit row transfer.retry ${workflowId}/${updateId} but the workflow applied no such decision (result)`,
      ]);
    } finally {
      await unplantAudit(`${workflowId}/${updateId}`);
    }
  });

  /** The audit log is append-only: this database's owner lifts the guard to take a planted row back. */
  async function unplantAudit(idempotencyKey: string): Promise<void> {
    await db!.transaction(async (m) => {
      await m(`ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete`);
      await m(`DELETE FROM audit_log WHERE idempotency_key = $1`, [idempotencyKey]);
      await m(`ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete`);
    });
  }

  it('turns a check that cannot run into a row of its own, and runs the others', async () => {
    const outcome = await runChecks(input({ apiUrl: 'http://127.0.0.1:9/' }));
    expect(failingRows(outcome)).toEqual([ROW.totals, ROW.bounds, ROW.balancesByRecord, ROW.idempotency, ROW.terminal]);
    for (const name of failingRows(outcome)) {
      expect(outcome.rows.find((r) => r.name === name)?.violations).toEqual([
        expect.stringMatching(/^the check could not run: GET \/v1\//),
      ]);
    }
    expect(outcome.finalStatuses.size).toBe(0);
  });

  // last: stops the worker
  it('needs no worker to read the decisions of a finished workflow', async () => {
    await worker!.stop();
    worker = undefined;
    const workflowId = `transfer-${ids.cancelled}`;
    const key = `${workflowId}/planted-${randomUUID()}`;
    await db!.sql(
      `INSERT INTO audit_log (actor, roles, action, target_type, target_id, reason, request_id, details, idempotency_key)
       VALUES ('planted', '{finance}', 'transfer.cancel', 'transfer', $1, 'planted', 'planted', $2, $3)`,
      [ids.cancelled, JSON.stringify({ updateId: key.split('/')[1] }), key],
    );
    try {
      const outcome = await runChecks(input());
      expect(failingRows(outcome)).toEqual([ROW.decisions]);
      // the real cancel matches its row; only the planted one is reported
      expect(outcome.rows.find((r) => r.name === ROW.decisions)?.violations).toEqual([
        `transfer ${ids.cancelled}: 2 cancel audit rows, 1 cancel decisions not refused (0 refused)`,
        `transfer ${ids.cancelled}: audit row transfer.cancel ${key} but the workflow applied no such decision (result)`,
      ]);
    } finally {
      await unplantAudit(key);
    }
  });

  it('formats an aligned table with the first violations of each failing row', () => {
    const many = Array.from({ length: 25 }, (_, i) => `v${i}`);
    const text = formatCheckTable([
      { name: 'short', checked: 3, violations: [] },
      { name: 'a longer check', checked: 12, violations: many },
    ]);
    expect(text.split('\n')).toEqual([
      'check           checked  violations',
      '--------------  -------  ----------',
      'short                 3           0',
      'a longer check       12          25',
      '',
      'a longer check:',
      ...many.slice(0, 20).map((v) => `    ${v}`),
      '    … and 5 more',
    ]);
  });
});
