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
  BOOK_CHECK_NAMES,
  CHECK_NAMES,
  formatCheckTable,
  runBookChecks,
  runChecks,
  type BookInput,
  type ChaosDatabase,
  type CheckInput,
  type CheckOutcome,
  type CheckRow,
} from '../../scripts/chaos/checker';
import { clearingOwnerId, clearingWalletId, systemOwnerId, systemWalletId } from '../../domain/ids';
import { shardOfId, withShard } from '../../domain/shards';
import { ownerWhere, ShardLayout } from '../../scripts/chaos/layout';
import { databasesOf, routeOf } from '../../scripts/chaos/workload';
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
  totals: CHECK_NAMES[0]!,
  bounds: CHECK_NAMES[1]!,
  balancesByRecord: CHECK_NAMES[2]!,
  idempotency: CHECK_NAMES[3]!,
  terminal: CHECK_NAMES[4]!,
  placement: CHECK_NAMES[5]!,
  zeroSum: CHECK_NAMES[6]!,
  books: CHECK_NAMES[7]!,
  clearingNet: CHECK_NAMES[8]!,
  clearingEmpty: CHECK_NAMES[9]!,
  unwound: CHECK_NAMES[10]!,
  completedSameShard: CHECK_NAMES[11]!,
  completedCrossShard: CHECK_NAMES[12]!,
  returned: CHECK_NAMES[13]!,
  invariants: CHECK_NAMES[14]!,
  decisions: CHECK_NAMES[15]!,
  no500: CHECK_NAMES[16]!,
  jsonLogs: CHECK_NAMES[17]!,
};

function failingRows(outcome: CheckOutcome | CheckRow[]): string[] {
  const rows = Array.isArray(outcome) ? outcome : outcome.rows;
  return rows.filter((r) => r.violations.length > 0).map((r) => r.name);
}

function violationsOf(outcome: CheckOutcome | CheckRow[], name: string): string[] | undefined {
  const rows = Array.isArray(outcome) ? outcome : outcome.rows;
  return rows.find((r) => r.name === name)?.violations;
}

function utcStamp(d = new Date()): string {
  return d.toISOString().replace(/\D/g, '').slice(0, 14);
}

/**
 * A test database named like global setup's (`wallet_test_<stamp>_<pid>` and its `_s<n>` / `_accounting`
 * siblings), so that a killed run's leftovers are reaped by a later run.
 */
function testDatabaseUrl(name: string): string {
  const u = new URL(testConfig().DATABASE_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Both worlds here have two wallet shard databases: logical shards 0-511 on db-0, 512-1023 on db-1. */
const layout = new ShardLayout(2);

/** Opens (creates and migrates) the databases of a world, and closes and drops them again. */
class TestDatabases {
  readonly databases: ChaosDatabase[] = [];
  private readonly urls: string[] = [];

  async open(named: Array<[string, string]>): Promise<ChaosDatabase[]> {
    for (const [name, databaseName] of named) {
      const url = testDatabaseUrl(databaseName);
      if (!(await ensureDatabase(url))) throw new Error(`database ${databaseName} already exists`);
      this.urls.push(url);
      await runMigrations(url);
      const store = createStore({ url, poolMax: 4, applicationName: 'chaos-checker-test' });
      await store.connect();
      this.databases.push({ name, store });
    }
    return this.databases;
  }

  async close(): Promise<void> {
    for (const db of this.databases) await db.store.close();
    for (const url of this.urls) await dropDatabase(url);
  }
}

const runName = `wallet_test_${utcStamp()}_${process.pid}`;

/**
 * The chaos checker on a small real world: databases of its own (planted violations must never reach
 * the shared test databases, whose invariants other suites check): two wallet shard databases and the
 * accounting book's, the real API listening on a port and a real worker. Its customers all sit on
 * logical shard 0 (so on db-0, its transfers inside one shard): the cross-shard checks have their
 * planted books below. A clean world reports nothing; each planted violation is reported by the rows
 * meant to see it, and by no other (some are seen twice by design: the checker's own book checks and
 * the reconciliation's invariants restate each other).
 */
describe('chaos checker', () => {
  const worldDatabases = new TestDatabases();
  const env = {
    DATABASE_URL: testDatabaseUrl(runName),
    SHARD_DATABASE_URLS: testDatabaseUrl(`${runName}_s1`),
    SHARD_MAP: '',
    ACCOUNTING_DATABASE_URL: testDatabaseUrl(`${runName}_accounting`),
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue('chaos-checker'),
    REDIS_KEY_PREFIX: `${testConfig().REDIS_KEY_PREFIX}checker:`,
    TRANSFER_STEP_MAX_ATTEMPTS: '1', // an accounting failure parks the transfer at once
  };
  const staffToken = tokenFor(callers.ops());
  // finance's idempotency records (deposits) live on its own shard: 0 too
  const financeToken = tokenFor(callers.finance(ownerWhere('finance', (shard) => shard === 0)));
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chaos-checker-'));
  const logFiles = [
    { name: 'api', path: path.join(logDir, 'api.log') },
    { name: 'worker-1', path: path.join(logDir, 'worker-1.log') },
    { name: 'worker-2', path: path.join(logDir, 'never-started.log') },
  ];

  let worker: RunningWorker | undefined;
  let accounting: SwitchableAccounting | undefined;
  let app: FastifyInstance | undefined;
  /** db-0, where the world's wallets and transfers are */
  let db: Store | undefined;
  let books: BookInput | undefined;
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
      route: routeOf(layout, body.fromWalletId, body.toWalletId),
      databases: databasesOf(layout, body.fromWalletId, body.toWalletId),
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
    ...books!,
    temporal: temporal!,
    apiUrl,
    staffToken,
    logFiles,
    ...overrides,
  });

  beforeAll(async () => {
    const [db0, db1, book] = await worldDatabases.open([
      ['db-0', runName],
      ['db-1', `${runName}_s1`],
      ['accounting', `${runName}_accounting`],
    ]);
    db = db0!.store;
    books = { databases: [db0!, db1!], accounting: book!, shardMap: layout.shardMap };
    worker = await startTransferWorker(testConfig(env), {
      accounting: (book) => (accounting = new SwitchableAccounting(book)),
    });
    app = await buildApp({ config: testConfig(env), logger: false });
    apiUrl = await app.listen({ host: '127.0.0.1', port: 0 });
    temporal = await connectTemporalClient();

    // the world: three customers, two currencies; one transfer completed (sent twice, its key reused),
    // one refused, one parked by an accounting outage and cancelled by finance (a late retry refused)
    const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((n) =>
      ownerWhere(`${n}-${randomUUID().slice(0, 8)}`, (shard) => shard === 0),
    ) as [string, string, string];
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
    await worldDatabases.close();
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

  it('reports no violation on a consistent world, and checks something in every row but the cross-shard ones', async () => {
    const outcome = await runChecks(input());
    expect(outcome.rows.map((r) => [r.name, r.violations])).toEqual(CHECK_NAMES.map((n) => [n, []]));
    // no transfer here crosses logical shards (the planted books below have them)
    expect(outcome.rows.filter((r) => r.checked === 0).map((r) => r.name)).toEqual([
      ROW.clearingNet,
      ROW.clearingEmpty,
      ROW.completedCrossShard,
      ROW.returned,
    ]);
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
    expect(failingRows(outcome)).toEqual([ROW.totals, ROW.balancesByRecord, ROW.books, ROW.invariants]);
    expect(violationsOf(outcome, ROW.balancesByRecord)).toEqual([
      `wallet ${bob}: balance 301 <> 300 by the client's record`,
    ]);
    expect(violationsOf(outcome, ROW.books)).toEqual([
      `db-0: balance <> its lines: ${bob} (301 <> 300)`,
      `db-0: balance <> latest balance_after: ${bob} (301 <> 300)`,
    ]);
  });

  it('catches a CANCELLED transfer with an active hold', async () => {
    const outcome = await withPlanted(
      `UPDATE holds SET status = 'active' WHERE transfer_id = $1`,
      `UPDATE holds SET status = 'released' WHERE transfer_id = $1`,
      [ids.cancelled],
    );
    // the wallet's held was left alone: the books see it too
    expect(failingRows(outcome)).toEqual([ROW.books, ROW.unwound, ROW.invariants]);
    expect(violationsOf(outcome, ROW.unwound)).toEqual([`CANCELLED transfer ${ids.cancelled}: hold still active`]);
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

/**
 * Books written row by row into two wallet shard databases and an accounting one, as the cross-shard
 * saga leaves them (docs/architecture.md §9): what the book checks must pass when clean and report, by
 * database, when one thing is wrong. Every planted change is taken back after its test.
 */
class PlantedBooks {
  /** every row written, for undo: deleted in reverse order */
  private readonly written: Array<{ store: Store; table: string; column: string; value: string }> = [];
  private readonly ownerOf = new Map<string, string>();

  constructor(readonly input: BookInput) {}

  storeOfShard(shard: number): Store {
    return this.input.databases[this.input.shardMap[shard]!]!.store;
  }
  storeOfWallet(walletId: string): Store {
    return this.storeOfShard(shardOfId(walletId));
  }

  mark(): number {
    return this.written.length;
  }

  /**
   * Deletes what was written after `mark` (the journal and incoming_transfers are append-only: their
   * triggers are off for this transaction only), then sets every balance and held back from the
   * lines and holds that remain, which is what they were.
   */
  async undo(mark: number): Promise<void> {
    const rows = this.written.splice(mark).reverse();
    for (const db of this.input.databases.map((d) => d.store).concat(this.input.accounting.store)) {
      const mine = rows.filter((r) => r.store === db);
      await db.transaction(async (sql) => {
        await sql(`SET LOCAL session_replication_role = replica`);
        for (const r of mine) await sql(`DELETE FROM ${r.table} WHERE ${r.column}::text = $1`, [r.value]);
        await sql(`UPDATE wallets w SET balance = coalesce((SELECT sum(amount) FROM ledger_lines l WHERE l.wallet_id = w.id), 0),
                          held = coalesce((SELECT sum(amount) FROM holds h WHERE h.wallet_id = w.id AND h.status = 'active'), 0)`);
      });
    }
  }

  private wrote(store: Store, table: string, column: string, value: string): void {
    this.written.push({ store, table, column, value });
  }

  /** A wallet row, on `store` (its own shard's database unless a test plants it elsewhere). */
  async wallet(store: Store, id: string, ownerId: string, kind: string, currency: string): Promise<string> {
    const { rowCount } = await store.sql(
      `INSERT INTO wallets (id, owner_id, kind, currency) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
      [id, ownerId, kind, currency],
    );
    if (rowCount === 1) this.wrote(store, 'wallets', 'id', id);
    this.ownerOf.set(id, ownerId);
    return id;
  }

  /** A customer whose owner id hashes to `shard`, with a wallet there. */
  async customer(shard: number, currency = 'EUR'): Promise<string> {
    const owner = ownerWhere(`owner-${randomUUID().slice(0, 8)}`, (s) => s === shard);
    return this.wallet(this.storeOfShard(shard), withShard(randomUUID(), shard), owner, 'customer', currency);
  }

  /** A logical shard's system or clearing account for a currency, created on first use. */
  account(kind: 'system' | 'clearing', currency: string, shard: number): Promise<string> {
    return kind === 'system'
      ? this.wallet(
          this.storeOfShard(shard),
          systemWalletId(currency, shard),
          systemOwnerId(currency, shard),
          kind,
          currency,
        )
      : this.wallet(
          this.storeOfShard(shard),
          clearingWalletId(currency, shard),
          clearingOwnerId(currency, shard),
          kind,
          currency,
        );
  }

  /**
   * A journal entry with its lines, each moving its wallet's balance, in one transaction. `unbalanced`
   * lifts the schema's own guard (a deferred trigger refuses an entry that does not balance) for it.
   */
  async entry(
    store: Store,
    kind: string,
    transferId: string | null,
    lines: Array<[walletId: string, amount: bigint]>,
    { currency = 'EUR', unbalanced = false } = {},
  ): Promise<string> {
    const id = randomUUID();
    await store.transaction(async (sql) => {
      if (unbalanced) await sql(`SET LOCAL session_replication_role = replica`);
      await sql(
        `INSERT INTO journal_entries (id, kind, reference, transfer_id, currency) VALUES ($1, $2, $3, $4, $5)`,
        [id, kind, `${kind}:${id}`, transferId, currency],
      );
      for (const [walletId, amount] of lines) {
        const { rows } = await sql<{ balance: string }>(
          `UPDATE wallets SET balance = balance + $2 WHERE id = $1 RETURNING balance::text`,
          [walletId, amount.toString()],
        );
        await sql(
          `INSERT INTO ledger_lines (entry_id, wallet_id, amount, currency, balance_after) VALUES ($1, $2, $3, $4, $5)`,
          [id, walletId, amount.toString(), currency, rows[0]!.balance],
        );
      }
    });
    this.wrote(store, 'journal_entries', 'id', id);
    this.wrote(store, 'ledger_lines', 'entry_id', id);
    return id;
  }

  async deposit(walletId: string, amount: bigint): Promise<void> {
    const system = await this.account('system', 'EUR', shardOfId(walletId));
    await this.entry(this.storeOfWallet(walletId), 'deposit', null, [
      [system, -amount],
      [walletId, amount],
    ]);
  }

  /** A transfers row on its sender's database (its id carries the sender's logical shard), its hold and its booking. */
  async transfer(
    from: string,
    to: string,
    amount: bigint,
    status: string,
    hold: 'captured' | 'released',
    booking: 'booked' | 'reversed',
    failureCode: string | null = null,
  ): Promise<string> {
    const id = withShard(randomUUID(), shardOfId(from));
    const store = this.storeOfWallet(from);
    await store.sql(
      `INSERT INTO transfers (id, caller_id, idempotency_key, request_hash, from_wallet_id, to_wallet_id, amount, currency,
                              status, workflow_id, failure_code, failure_reason)
       VALUES ($1, $2, $3, 'planted', $4, $5, $6, 'EUR', $7, $8, $9, $10)`,
      [
        id,
        this.ownerOf.get(from),
        `key-${id}`,
        from,
        to,
        amount.toString(),
        status,
        `transfer-${id}`,
        failureCode,
        failureCode,
      ],
    );
    this.wrote(store, 'transfers', 'id', id);
    await store.sql(`INSERT INTO holds (transfer_id, wallet_id, amount, status) VALUES ($1, $2, $3, $4)`, [
      id,
      from,
      amount.toString(),
      hold,
    ]);
    this.wrote(store, 'holds', 'transfer_id', id);
    const book = this.input.accounting.store;
    await book.sql(
      `INSERT INTO accounting_bookings (transfer_id, wallet_id, amount, currency, booking_date, status)
       VALUES ($1, $2, $3, 'EUR', current_date, $4)`,
      [id, from, amount.toString(), booking],
    );
    const line = `INSERT INTO accounting_lines (transfer_id, kind, account, currency, amount)
                  VALUES ($1, $2, 'liabilities:customer:' || $3, 'EUR', $5), ($1, $2, 'liabilities:customer:' || $4, 'EUR', -$5::bigint)`;
    await book.sql(line, [id, 'booking', from, to, amount.toString()]);
    if (booking === 'reversed') await book.sql(line, [id, 'reversal', from, to, (-amount).toString()]);
    this.wrote(book, 'accounting_bookings', 'transfer_id', id);
    this.wrote(book, 'accounting_lines', 'transfer_id', id);
    return id;
  }

  /** The receiving database's one-time decision on a credit. */
  async incoming(transferId: string, from: string, to: string, amount: bigint, refusal: string | null): Promise<void> {
    const store = this.storeOfWallet(to);
    await store.sql(
      `INSERT INTO incoming_transfers (transfer_id, from_wallet_id, to_wallet_id, amount, currency, status, failure_code)
       VALUES ($1, $2, $3, $4, 'EUR', $5, $6)`,
      [transferId, from, to, amount.toString(), refusal === null ? 'credited' : 'refused', refusal],
    );
    this.wrote(store, 'incoming_transfers', 'transfer_id', transferId);
  }

  /** sender → its shard's clearing account, on the sender's database */
  async debit(transferId: string, from: string, amount: bigint): Promise<void> {
    const clearing = await this.account('clearing', 'EUR', shardOfId(from));
    await this.entry(this.storeOfWallet(from), 'transfer_debit', transferId, [
      [from, -amount],
      [clearing, amount],
    ]);
  }

  /** the receiver's shard's clearing account → receiver, on `store` (the receiver's database unless planted elsewhere) */
  async credit(transferId: string, to: string, amount: bigint, store = this.storeOfWallet(to)): Promise<void> {
    const clearing = await this.account('clearing', 'EUR', shardOfId(to));
    await this.entry(store, 'transfer_credit', transferId, [
      [clearing, -amount],
      [to, amount],
    ]);
  }

  /** the sender's shard's clearing account → back to the sender, on the sender's database */
  async giveBack(transferId: string, from: string, amount: bigint): Promise<void> {
    const clearing = await this.account('clearing', 'EUR', shardOfId(from));
    await this.entry(this.storeOfWallet(from), 'transfer_return', transferId, [
      [clearing, -amount],
      [from, amount],
    ]);
  }

  async sameShardCompleted(from: string, to: string, amount: bigint): Promise<string> {
    const id = await this.transfer(from, to, amount, 'COMPLETED', 'captured', 'booked');
    await this.entry(this.storeOfWallet(from), 'transfer', id, [
      [from, -amount],
      [to, amount],
    ]);
    return id;
  }

  async crossShardCompleted(from: string, to: string, amount: bigint): Promise<string> {
    const id = await this.transfer(from, to, amount, 'COMPLETED', 'captured', 'booked');
    await this.debit(id, from, amount);
    await this.incoming(id, from, to, amount, null);
    await this.credit(id, to, amount);
    return id;
  }

  async returned(from: string, to: string, amount: bigint): Promise<string> {
    const id = await this.transfer(from, to, amount, 'RETURNED', 'captured', 'reversed', 'WALLET_NOT_ACTIVE');
    await this.debit(id, from, amount);
    await this.incoming(id, from, to, amount, 'WALLET_NOT_ACTIVE');
    await this.giveBack(id, from, amount);
    return id;
  }
}

describe('chaos checker on planted cross-shard books', () => {
  const plantedDatabases = new TestDatabases();
  let planted: PlantedBooks;
  /**
   * The book checks but the reconciliation's own invariants (domain/invariants.ts, with suites of their
   * own), whose same-shard rules this checker does not depend on.
   */
  const checked = BOOK_CHECK_NAMES.filter((n) => n !== ROW.invariants);
  const w = { a: '', b: '', c: '', d: '' };
  const t = { sameShard: '', crossDatabase: '', crossShard: '', returned: '', cancelled: '' };
  const clean = () => runBookChecks(planted.input, checked);

  /** Plants with `plant`, runs the checks, takes the plant back. */
  async function withPlanted(plant: () => Promise<unknown>): Promise<CheckRow[]> {
    const mark = planted.mark();
    try {
      await plant();
      return await clean();
    } finally {
      await planted.undo(mark);
    }
  }

  beforeAll(async () => {
    // named as the siblings of the world above, so that the reaper knows them
    const [db0, db1, book] = await plantedDatabases.open([
      ['db-0', `${runName}_s2`],
      ['db-1', `${runName}_s3`],
      ['accounting', `${runName}_s4`],
    ]);
    planted = new PlantedBooks({ databases: [db0!, db1!], accounting: book!, shardMap: layout.shardMap });
    // a and b share logical shard 3, c is on shard 100 (all db-0), d on shard 700 (db-1)
    w.a = await planted.customer(3);
    w.b = await planted.customer(3);
    w.c = await planted.customer(100);
    w.d = await planted.customer(700);
    await planted.deposit(w.a, 1_000n);
    await planted.deposit(w.d, 1_000n);
    t.sameShard = await planted.sameShardCompleted(w.a, w.b, 100n);
    t.crossDatabase = await planted.crossShardCompleted(w.a, w.d, 200n);
    t.crossShard = await planted.crossShardCompleted(w.a, w.c, 50n);
    t.returned = await planted.returned(w.d, w.a, 300n);
    t.cancelled = await planted.transfer(w.a, w.d, 10n, 'CANCELLED', 'released', 'reversed');
  }, 60_000);

  afterAll(async () => {
    await plantedDatabases.close();
  });

  it('passes clean books, and checks something in every row', async () => {
    const rows = await clean();
    expect(rows.map((r) => [r.name, r.violations])).toEqual(checked.map((n) => [n, []]));
    expect(rows.filter((r) => r.checked === 0).map((r) => r.name)).toEqual([]);
    expect(rows.find((r) => r.name === ROW.completedCrossShard)?.checked).toBe(2);
    expect(rows.find((r) => r.name === ROW.returned)?.checked).toBe(1);
  });

  it('names the database a wallet was wrongly put on', async () => {
    const owner = ownerWhere('misplaced', (s) => s === 700);
    const id = withShard(randomUUID(), 700);
    const rows = await withPlanted(() => planted.wallet(planted.storeOfShard(0), id, owner, 'customer', 'EUR'));
    expect(failingRows(rows)).toEqual([ROW.placement]);
    expect(violationsOf(rows, ROW.placement)).toEqual([
      `db-0: customer wallet ${id} (logical shard 700) belongs on db-1`,
    ]);
  });

  it("catches an entry that crosses logical shards in one database, though each database's ledger still sums to zero", async () => {
    let entry = '';
    const rows = await withPlanted(async () => {
      entry = await planted.entry(planted.storeOfShard(3), 'transfer', randomUUID(), [
        [w.a, -5n],
        [w.c, 5n],
      ]);
    });
    expect(failingRows(rows)).toEqual([ROW.zeroSum]);
    expect(violationsOf(rows, ROW.zeroSum)).toEqual([
      'db-0: logical shard 3: EUR lines sum to -5',
      'db-0: logical shard 100: EUR lines sum to 5',
      `db-0: transfer entry ${entry} spans logical shards 3, 100`,
    ]);
  });

  it('catches a database whose ledger does not sum to zero, naming it', async () => {
    let entry = '';
    const rows = await withPlanted(async () => {
      entry = await planted.entry(planted.storeOfShard(700), 'deposit', null, [[w.d, 7n]], { unbalanced: true });
    });
    expect(failingRows(rows)).toEqual([ROW.zeroSum, ROW.books]);
    expect(violationsOf(rows, ROW.zeroSum)).toEqual([
      'db-1: EUR lines sum to 7',
      'db-1: logical shard 700: EUR lines sum to 7',
    ]);
    expect(violationsOf(rows, ROW.books)).toEqual([`db-1: entry does not balance: ${entry} (7 over 1 line(s))`]);
  });

  it('catches a balance that is not the sum of its lines, naming the database', async () => {
    const rows = await withPlanted(() =>
      planted.storeOfShard(700).sql(`UPDATE wallets SET balance = balance + 1 WHERE id = $1`, [w.d]),
    );
    expect(failingRows(rows)).toEqual([ROW.books]);
    expect(violationsOf(rows, ROW.books)).toEqual([
      `db-1: balance <> its lines: ${w.d} (1201 <> 1200)`,
      `db-1: balance <> latest balance_after: ${w.d} (1201 <> 1200)`,
    ]);
  });

  it('catches money left in clearing: a debit whose credit never came', async () => {
    const transferId = randomUUID();
    const rows = await withPlanted(() => planted.debit(transferId, w.a, 7n));
    expect(failingRows(rows)).toEqual([ROW.clearingNet, ROW.clearingEmpty]);
    expect(violationsOf(rows, ROW.clearingNet)).toEqual([
      // clearing:EUR@3 holds the two debits from shard 3 and the planted one; @100 and @700 gave out the credits
      'EUR: clearing accounts net to 7 across the databases (db-0 clearing:EUR@100 -50, db-0 clearing:EUR@3 257, db-1 clearing:EUR@700 -200)',
    ]);
    expect(violationsOf(rows, ROW.clearingEmpty)).toEqual([
      `transfer ${transferId}: 7 EUR left in clearing (transfer_debit on db-0)`,
      `transfer ${transferId}: 1 debit(s), 0 credit(s), 0 return(s): one debit and one credit or return expected (transfer_debit on db-0)`,
    ]);
  });

  it('catches a clearing account moved by something other than a transfer leg', async () => {
    let entry = '';
    const rows = await withPlanted(async () => {
      const clearing = await planted.account('clearing', 'EUR', 700);
      const system = await planted.account('system', 'EUR', 700);
      entry = await planted.entry(planted.storeOfShard(700), 'deposit', null, [
        [system, -4n],
        [clearing, 4n],
      ]);
    });
    expect(failingRows(rows)).toEqual([ROW.clearingNet, ROW.clearingEmpty]);
    expect(violationsOf(rows, ROW.clearingEmpty)).toEqual([`db-1: deposit entry ${entry} moves a clearing account`]);
  });

  it('catches a COMPLETED cross-shard transfer whose credit is missing', async () => {
    let id = '';
    const rows = await withPlanted(async () => {
      id = await planted.transfer(w.a, w.d, 20n, 'COMPLETED', 'captured', 'booked');
      await planted.debit(id, w.a, 20n);
      await planted.incoming(id, w.a, w.d, 20n, null);
    });
    expect(failingRows(rows)).toEqual([ROW.clearingNet, ROW.clearingEmpty, ROW.completedCrossShard]);
    expect(violationsOf(rows, ROW.completedCrossShard)).toEqual([
      `COMPLETED transfer ${id} (db-0 → db-1): 0 credit(s) (none), one on db-1 expected`,
    ]);
  });

  it('catches a same-shard COMPLETED transfer with a second entry', async () => {
    const rows = await withPlanted(() =>
      planted.entry(planted.storeOfShard(3), 'reversal', t.sameShard, [
        [w.b, -100n],
        [w.a, 100n],
      ]),
    );
    expect(failingRows(rows)).toEqual([ROW.completedSameShard]);
    expect(violationsOf(rows, ROW.completedSameShard)).toEqual([
      `COMPLETED transfer ${t.sameShard}: 2 journal entries (reversal on db-0, transfer on db-0), one transfer entry on db-0 expected`,
    ]);
  });

  it('catches a RETURNED transfer without its return entry', async () => {
    let id = '';
    const rows = await withPlanted(async () => {
      id = await planted.transfer(w.d, w.a, 30n, 'RETURNED', 'captured', 'reversed', 'WALLET_NOT_ACTIVE');
      await planted.debit(id, w.d, 30n);
      await planted.incoming(id, w.d, w.a, 30n, 'WALLET_NOT_ACTIVE');
    });
    expect(failingRows(rows)).toEqual([ROW.clearingNet, ROW.clearingEmpty, ROW.returned]);
    expect(violationsOf(rows, ROW.returned)).toEqual([
      `RETURNED transfer ${id} (db-1 → db-0): 0 return entries (none), one on db-1 expected`,
    ]);
  });

  it('catches a RETURNED transfer that was credited as well, with no refusal on record', async () => {
    let id = '';
    const rows = await withPlanted(async () => {
      id = await planted.transfer(w.d, w.a, 30n, 'RETURNED', 'captured', 'reversed', 'WALLET_NOT_ACTIVE');
      await planted.debit(id, w.d, 30n);
      await planted.incoming(id, w.d, w.a, 30n, null);
      await planted.credit(id, w.a, 30n);
      await planted.giveBack(id, w.d, 30n);
    });
    expect(failingRows(rows)).toEqual([ROW.clearingNet, ROW.clearingEmpty, ROW.returned]);
    expect(violationsOf(rows, ROW.returned)).toEqual([
      `RETURNED transfer ${id} (db-1 → db-0): credited (transfer_credit on db-0)`,
      `RETURNED transfer ${id} (db-1 → db-0): incoming rows credited on db-0, one refused on db-0 expected`,
    ]);
  });

  it("catches a CANCELLED transfer credited on the receiver's database", async () => {
    const rows = await withPlanted(() => planted.incoming(t.cancelled, w.a, w.d, 10n, null));
    expect(failingRows(rows)).toEqual([ROW.unwound]);
    expect(violationsOf(rows, ROW.unwound)).toEqual([`CANCELLED transfer ${t.cancelled}: credited on db-1`]);
  });

  it('leaves the books as they were after each plant', async () => {
    const rows = await clean();
    expect(failingRows(rows)).toEqual([]);
  });
});
