import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Client as PgClient } from 'pg';
import type { Config } from '../../config';
import type { ShardSet } from '../../db/shards';
import type { Store } from '../../db/store';
import { clearingWalletId, transferIdFor, workflowIdFor } from '../../domain/ids';
import { checkLedgerInvariants } from '../../domain/invariants';
import { shardOfId, shardOfOwner } from '../../domain/shards';
import { creditTransfer } from '../../domain/transfers/cross-shard';
import { getTransfer, type TransferRecord } from '../../domain/transfers/records';
import { sagaStart } from '../../domain/transfers/saga-start';
import { getWallet, setWalletStatus, type WalletRecord } from '../../domain/wallets';
import { maintenanceUrl } from '../../scripts/migrate';
import {
  cancelUpdate,
  retryUpdate,
  TRANSFER_NOT_CANCELLABLE,
  transferStatusQuery,
  type TransferView,
} from '../../workflows/contract';
import type { transferWorkflow } from '../../workflows/transfer';
import { connectTemporalClient, createTestShards, ownDatabase, testConfig, uniqueTaskQueue } from '../support/env';
import { recordHistory } from '../support/histories';
import { CROSS_SHARD_FIXTURES } from './helpers';
import { query } from '../support/sql';
import { startTransferWorker, type RunningWorker } from '../support/transfer-worker';
import { eventually, makeWallet } from '../support/wallets';
import { killWorker, spawnWorker, stopWorker, WORKER_MAIN, type WorkerProcess } from '../support/worker-process';

/**
 * Transfers between two logical shards (docs/architecture.md §9) on real Postgres, Temporal and a real
 * worker: debit on the sender's database, credit on the receiver's, each database's ledger zero-sum on
 * its own and the clearing accounts of all shards netting to zero at rest; the return when the
 * receiving shard refuses; the receiver's database taken away (ALLOW_CONNECTIONS false) while a credit
 * is due; a worker killed between debit and credit; finance on a parked credit.
 *
 * This file runs on two wallet databases and an accounting database of its own, whatever
 * TEST_WALLET_SHARDS says: it takes a database away, which must not be one the other files use. Two
 * logical shards in one database (the 1-database configuration's cross-shard transfers) are a case here too.
 *
 * The transfers are started as the API starts them (sagaStart, transferIdFor with the sender's shard), the
 * row written with SQL on the sender's database: recordTransfer looks both wallets up in one database.
 */

const CALLER = 'cross-shard-test';

describe('cross-shard transfers', () => {
  const databases = [ownDatabase('xshard0'), ownDatabase('xshard1')];
  const book = ownDatabase('xshardbook');
  const overrides = {
    DATABASE_URL: databases[0]!.url,
    SHARD_DATABASE_URLS: databases[1]!.url,
    SHARD_MAP: '',
    ACCOUNTING_DATABASE_URL: book.url,
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue('xshard'),
    // a budget of 2 failed attempts of at most 10 s: a database outage longer than that parks nothing
    TRANSFER_STEP_MAX_ATTEMPTS: '2',
    TRANSFER_STEP_ATTEMPT_TIMEOUT_SECONDS: '10',
  };
  let config: Config;
  let shards: ShardSet;
  let client: Client;
  let worker: RunningWorker;

  beforeAll(async () => {
    await Promise.all([...databases, book].map((d) => d.create()));
    config = testConfig(overrides);
    shards = await createTestShards({ overrides });
    client = await connectTemporalClient();
    worker = await startTransferWorker(config);
  }, 60_000);

  afterAll(async () => {
    await worker?.stop();
    await client?.connection.close();
    await shards?.close();
    await Promise.all([...databases, book].map((d) => d.drop()));
  });

  // ------------------------------------------------------------------ fixtures and probes

  /** An owner whose logical shard is on database `index`, and none of `avoid`. */
  function ownerOn(index: number, avoid: number[] = []): string {
    for (;;) {
      const owner = `xs-${randomUUID()}`;
      const shard = shardOfOwner(owner);
      if (config.shardMap[shard] === index && !avoid.includes(shard)) return owner;
    }
  }

  /** A funded sender on database 0 and an empty receiver on database `receiverDb`, on two logical shards. */
  async function crossShardPair(balance: bigint, receiverDb = 1) {
    const senderOwner = ownerOn(0);
    const from = await makeWallet(shards, { ownerId: senderOwner, balance });
    const to = await makeWallet(shards, { ownerId: ownerOn(receiverDb, [shardOfOwner(senderOwner)]) });
    expect(shardOfId(from.id)).not.toBe(shardOfId(to.id));
    return { from, to };
  }

  /** The transfer's row as the shard-aware API records it (on the sender's shard), and its saga started. */
  async function startTransfer(
    from: WalletRecord,
    to: WalletRecord,
    amount: bigint,
    startConfig: Config = config,
  ): Promise<{ record: TransferRecord; handle: WorkflowHandle<typeof transferWorkflow> }> {
    const key = randomUUID();
    const id = transferIdFor(CALLER, key, shardOfId(from.id));
    const store = shards.forTransfer(id).store;
    await query(
      store,
      `INSERT INTO transfers (id, caller_id, idempotency_key, request_hash, from_wallet_id, to_wallet_id, amount,
                              currency, description, workflow_id)
       VALUES ($1, $2, $3, 'test', $4, $5, $6, 'EUR', 'cross-shard test', $7)`,
      [id, CALLER, key, from.id, to.id, amount.toString(), workflowIdFor(id)],
    );
    const record = await getTransfer(store, id);
    const handle = await client.workflow.start<typeof transferWorkflow>(
      'transferWorkflow',
      sagaStart(startConfig, record),
    );
    return { record, handle };
  }

  const senderDb = (t: TransferRecord) => shards.forTransfer(t.id).store;
  const receiverDb = (t: TransferRecord) => shards.forWallet(t.toWalletId).store;

  /** A wallet's balance and held, read on its own database. */
  async function balanceOf(walletId: string): Promise<{ balance: bigint; held: bigint; status: string }> {
    const w = await getWallet(shards.forWallet(walletId).store, walletId);
    return { balance: w.balance, held: w.held, status: w.status };
  }

  /** The transfer's journal lines on one database, by entry kind: [kind, wallet, amount]. */
  async function legs(store: Store, transferId: string): Promise<Array<[string, string, string]>> {
    const rows = await query<{ kind: string; wallet_id: string; amount: string }>(
      store,
      `SELECT e.kind, l.wallet_id, l.amount::text AS amount FROM journal_entries e JOIN ledger_lines l ON l.entry_id = e.id
        WHERE e.transfer_id = $1 ORDER BY e.created_at, e.kind, l.amount`,
      [transferId],
    );
    return rows.map((r) => [r.kind, r.wallet_id, r.amount]);
  }

  async function incomingOf(t: TransferRecord): Promise<Array<{ status: string; failure_code: string | null }>> {
    return query(receiverDb(t), `SELECT status, failure_code FROM incoming_transfers WHERE transfer_id = $1`, [t.id]);
  }

  async function bookingOf(transferId: string): Promise<string | undefined> {
    const rows = await query<{ status: string }>(
      shards.accounting.store,
      `SELECT status FROM accounting_bookings WHERE transfer_id = $1`,
      [transferId],
    );
    return rows[0]?.status;
  }

  /**
   * The books of every database sound on their own: each ledger sums to zero per currency, each entry
   * balances, balances match their lines, held their holds; and at rest the clearing accounts of all
   * shards net to zero. (domain/invariants.ts still expects every completed transfer to have one
   * 'transfer' entry: a cross-shard one has its debit and credit instead, so that one check is left out.)
   */
  async function expectBooksSound(): Promise<void> {
    let clearing = 0n;
    for (const db of shards.databases) {
      const violations = (await checkLedgerInvariants(db.store.sql)).filter(
        (v) => v.invariant !== 'a completed transfer has exactly one journal entry and a captured hold',
      );
      expect({ database: db.name, violations }).toEqual({ database: db.name, violations: [] });
      const [row] = await query<{ total: string }>(
        db.store,
        `SELECT coalesce(sum(balance), 0)::text AS total FROM wallets WHERE kind = 'clearing'`,
      );
      clearing += BigInt(row!.total);
    }
    expect(clearing).toBe(0n);
  }

  /** Every value the saga gave a search attribute, from its history (null: removed). */
  async function upserts(handle: WorkflowHandle, name: string): Promise<unknown[]> {
    const history = await handle.fetchHistory();
    return (history.events ?? []).flatMap((e) => {
      const field = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.[name];
      if (!field) return [];
      return [field.data && field.data.length > 0 ? JSON.parse(Buffer.from(field.data).toString('utf8')) : null];
    });
  }

  async function summaries(handle: WorkflowHandle): Promise<string[]> {
    const history = await handle.fetchHistory();
    return (history.events ?? []).flatMap((e) => {
      const data = e.userMetadata?.summary?.data;
      return data ? [JSON.parse(Buffer.from(data).toString('utf8')) as string] : [];
    });
  }

  /** A transaction on `url`'s database holding the receiver's row: a credit waits on it. */
  async function holdRow(url: string, walletId: string): Promise<PgClient> {
    const blocker = new PgClient({ connectionString: url });
    blocker.on('error', () => undefined); // terminated with its database in the outage test
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query(`SELECT 1 FROM wallets WHERE id = $1 FOR UPDATE`, [walletId]);
    return blocker;
  }

  /** Until a statement on `url`'s database waits for a row lock (the credit, blocked by holdRow). */
  async function untilCreditWaits(url: string): Promise<void> {
    const probe = new PgClient({ connectionString: url });
    await probe.connect();
    try {
      await eventually(
        async () => {
          const { rowCount } = await probe.query(
            `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          );
          return rowCount ? true : undefined;
        },
        30_000,
        'the credit to wait on the receiver row',
      );
    } finally {
      await probe.end();
    }
  }

  const statusOf = async (t: TransferRecord) => (await getTransfer(senderDb(t), t.id)).status;

  // ------------------------------------------------------------------ the cases

  it('completes across two databases: the debit on the sender’s, the credit on the receiver’s, each zero-sum, clearing netting to zero', async () => {
    const { from, to } = await crossShardPair(10_000n);
    const { record, handle } = await startTransfer(from, to, 1_250n);
    const view = await handle.result();
    expect(view).toMatchObject({ status: 'COMPLETED', failure: null, parked: null });
    expect(view.steps).toEqual({ reserve: 'done', accounting: 'done', debit: 'done', credit: 'done', notify: 'done' });

    const row = await getTransfer(senderDb(record), record.id);
    expect(row).toMatchObject({ status: 'COMPLETED', failureCode: null });
    expect(row.steps).toMatchObject({ reserve: 'done', accounting: 'done', debit: 'done', credit: 'done' });
    expect(await balanceOf(from.id)).toEqual({ balance: 8_750n, held: 0n, status: 'active' });
    expect(await balanceOf(to.id)).toEqual({ balance: 1_250n, held: 0n, status: 'active' });

    const senderClearing = clearingWalletId('EUR', shardOfId(from.id));
    const receiverClearing = clearingWalletId('EUR', shardOfId(to.id));
    expect(await legs(senderDb(record), record.id)).toEqual([
      ['transfer_debit', from.id, '-1250'],
      ['transfer_debit', senderClearing, '1250'],
    ]);
    expect(await legs(receiverDb(record), record.id)).toEqual([
      ['transfer_credit', receiverClearing, '-1250'],
      ['transfer_credit', to.id, '1250'],
    ]);
    expect(await incomingOf(record)).toEqual([{ status: 'credited', failure_code: null }]);
    expect(await bookingOf(record.id)).toBe('booked');
    // each party told on its own shard, both published
    const notes = async (store: Store) =>
      query(
        store,
        `SELECT kind, wallet_id, published_at IS NOT NULL AS published FROM notifications WHERE transfer_id = $1`,
        [record.id],
      );
    expect(await notes(senderDb(record))).toEqual([{ kind: 'transfer.sent', wallet_id: from.id, published: true }]);
    expect(await notes(receiverDb(record))).toEqual([{ kind: 'transfer.received', wallet_id: to.id, published: true }]);
    await expectBooksSound();

    // ops find it by its shards, and each step names where it ran
    const described = await handle.describe();
    expect(described.searchAttributes).toMatchObject({ FromShard: [shardOfId(from.id)], ToShard: [shardOfId(to.id)] });
    expect(await summaries(handle)).toEqual(
      expect.arrayContaining([
        `debit 12.50 EUR from wallet ${from.id} on shard ${shardOfId(from.id)} (db-0)`,
        `credit 12.50 EUR to wallet ${to.id} on shard ${shardOfId(to.id)} (db-1)`,
        'book 12.50 EUR in the accounting book (accounting)',
      ]),
    );
    await recordHistory(handle.workflowId, `${CROSS_SHARD_FIXTURES}-completed`);
  });

  it('completes between two logical shards of one database (the 1-database configuration): two legs, one database', async () => {
    const { from, to } = await crossShardPair(1_000n, 0);
    const { record, handle } = await startTransfer(from, to, 300n);
    expect((await handle.result()).status).toBe('COMPLETED');
    expect((await legs(senderDb(record), record.id)).map(([kind]) => kind)).toEqual([
      'transfer_debit',
      'transfer_debit',
      'transfer_credit',
      'transfer_credit',
    ]);
    expect(await balanceOf(to.id)).toMatchObject({ balance: 300n });
    await expectBooksSound();
  });

  it('a same-shard transfer is still one entry on its database: no clearing, no cross-shard patch', async () => {
    const ownerId = ownerOn(1);
    const from = await makeWallet(shards, { ownerId, balance: 1_000n });
    const to = await makeWallet(shards, { ownerId });
    const { record, handle } = await startTransfer(from, to, 400n);
    const view = await handle.result();
    expect(view).toMatchObject({ status: 'COMPLETED' });
    expect(view.steps).toEqual({ reserve: 'done', accounting: 'done', ledger: 'done', notify: 'done' });
    expect(shards.forTransfer(record.id).name).toBe('db-1');
    expect(await legs(shards.databases[1]!.store, record.id)).toEqual([
      ['transfer', from.id, '-400'],
      ['transfer', to.id, '400'],
    ]);
    expect(await legs(shards.databases[0]!.store, record.id)).toEqual([]);
    const history = await handle.fetchHistory();
    const markers = (history.events ?? []).filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch');
    expect(markers).toHaveLength(1); // saga-v2 only
    await expectBooksSound();
  });

  it('returns the money when the receiver is frozen between reserve and credit (the sender frozen too by then): RETURNED, booking reversed, both shards zero-sum', async () => {
    const { from, to } = await crossShardPair(5_000n);
    // the credit waits on the receiver's row, so both freezes land between the debit and the credit
    const blocker = await holdRow(databases[1]!.url, to.id);
    const { record, handle } = await startTransfer(from, to, 700n);
    await untilCreditWaits(databases[1]!.url);
    expect(await statusOf(record)).toBe('DEBITED');
    await setWalletStatus(shards.forWallet(from.id).store, from.id, 'frozen');
    await blocker.query(`UPDATE wallets SET status = 'frozen' WHERE id = $1`, [to.id]);
    await blocker.query('COMMIT');
    await blocker.end();

    const view = await handle.result();
    expect(view).toMatchObject({ status: 'RETURNED', failure: { step: 'credit', code: 'WALLET_NOT_ACTIVE' } });
    const row = await getTransfer(senderDb(record), record.id);
    expect(row).toMatchObject({ status: 'RETURNED', failedStep: 'credit', failureCode: 'WALLET_NOT_ACTIVE' });
    expect(row.finishedAt).toEqual(expect.any(Date));
    // the money is back on the (frozen) sender; nothing reached the receiver
    expect(await balanceOf(from.id)).toEqual({ balance: 5_000n, held: 0n, status: 'frozen' });
    expect(await balanceOf(to.id)).toEqual({ balance: 0n, held: 0n, status: 'frozen' });
    const senderClearing = clearingWalletId('EUR', shardOfId(from.id));
    expect(await legs(senderDb(record), record.id)).toEqual([
      ['transfer_debit', from.id, '-700'],
      ['transfer_debit', senderClearing, '700'],
      ['transfer_return', senderClearing, '-700'],
      ['transfer_return', from.id, '700'],
    ]);
    expect(await legs(receiverDb(record), record.id)).toEqual([]);
    expect(await incomingOf(record)).toEqual([{ status: 'refused', failure_code: 'WALLET_NOT_ACTIVE' }]);
    expect(await bookingOf(record.id)).toBe('reversed');
    await expectBooksSound();

    // the receiving shard's refusal stands: a late credit, even once the receiver is active again, refuses
    await setWalletStatus(shards.forWallet(to.id).store, to.id, 'active');
    const late = await creditTransfer(receiverDb(record), {
      transferId: record.id,
      fromWalletId: from.id,
      toWalletId: to.id,
      amount: 700n,
      currency: 'EUR',
    });
    expect(late).toMatchObject({ outcome: 'refused', code: 'WALLET_NOT_ACTIVE' });
    expect(await balanceOf(to.id)).toMatchObject({ balance: 0n });
    await recordHistory(handle.workflowId, `${CROSS_SHARD_FIXTURES}-returned`);
  });

  it("waits out an outage of the receiver's database (it refuses connections): the step shows 'waiting', nothing parks, the credit lands once it is back; transfers elsewhere go on", async () => {
    const { from, to } = await crossShardPair(3_000n);
    const receiverUrl = databases[1]!.url;
    const name = new URL(receiverUrl).pathname.slice(1);
    const blocker = await holdRow(receiverUrl, to.id);
    const { record, handle } = await startTransfer(from, to, 900n);
    await untilCreditWaits(receiverUrl);
    expect(await statusOf(record)).toBe('DEBITED');

    const admin = new PgClient({ connectionString: maintenanceUrl(receiverUrl) });
    await admin.connect();
    try {
      await admin.query(`ALTER DATABASE "${name}" WITH ALLOW_CONNECTIONS false`);
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [name]);
      await blocker.end().catch(() => undefined);

      const waiting = await eventually(
        async () => {
          const v = await handle.query(transferStatusQuery);
          return v.steps.credit === 'waiting' ? v : undefined;
        },
        30_000,
        "the credit step to be 'waiting'",
      );
      expect(waiting).toMatchObject({ status: 'DEBITED', waitingOn: 'db-1', parked: null });
      await eventually(
        async () => ((await handle.describe()).searchAttributes.WaitingOnStore?.[0] === 'db-1' ? true : undefined),
        15_000,
        'WaitingOnStore = db-1',
      );

      // a same-shard transfer on the other database completes meanwhile
      const ownerId = ownerOn(0);
      const a = await makeWallet(shards, { ownerId, balance: 500n });
      const b = await makeWallet(shards, { ownerId });
      const elsewhere = await startTransfer(a, b, 100n);
      expect((await elsewhere.handle.result()).status).toBe('COMPLETED');

      // down for longer than the credit's two attempts of 10 s would take to spend
      await new Promise((resolve) => setTimeout(resolve, 8_000));
      expect(await statusOf(record)).toBe('DEBITED');
      expect((await handle.query(transferStatusQuery)).parked).toBeNull();
    } finally {
      await admin.query(`ALTER DATABASE "${name}" WITH ALLOW_CONNECTIONS true`);
      await admin.end();
    }

    const view = await handle.result();
    expect(view).toMatchObject({ status: 'COMPLETED', failure: null, parked: null, decisions: [], waitingOn: null });
    expect(await upserts(handle, 'TransferStatus')).not.toContain('NEEDS_ATTENTION');
    expect(await upserts(handle, 'WaitingOnStore')).toEqual(['db-1', null]);
    expect(await legs(receiverDb(record), record.id)).toHaveLength(2);
    expect(await balanceOf(to.id)).toMatchObject({ balance: 900n });
    expect(await balanceOf(from.id)).toMatchObject({ balance: 2_100n, held: 0n });
    await expectBooksSound();
    await recordHistory(handle.workflowId, `${CROSS_SHARD_FIXTURES}-waited-for-store`);
  });

  it('a parked credit cannot be cancelled by finance (the debit is posted); a retry delivers it, credited once although its abandoned attempts committed late', async () => {
    const { from, to } = await crossShardPair(2_000n);
    // attempts of 1 s (the saga's settings are fixed at start): the blocked credit spends its budget and parks
    const parking = testConfig({ ...overrides, TRANSFER_STEP_ATTEMPT_TIMEOUT_SECONDS: '1' });
    const blocker = await holdRow(databases[1]!.url, to.id);
    const { record, handle } = await startTransfer(from, to, 250n, parking);
    const parked = await eventually(
      async () => {
        const v = await handle.query(transferStatusQuery);
        return v.status === 'NEEDS_ATTENTION' ? v : undefined;
      },
      30_000,
      'the credit to park',
    );
    expect(parked).toMatchObject({
      parked: { step: 'credit' },
      failure: { step: 'credit', code: 'STEP_RETRIES_EXHAUSTED' },
    });
    expect(await statusOf(record)).toBe('NEEDS_ATTENTION');

    const cancel = await handle
      .executeUpdate(cancelUpdate, { args: [{ actor: 'fiona', reason: 'customer asked to stop it' }] })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(cancel).toBeInstanceOf(WorkflowUpdateFailedError);
    const refusal = (cancel as WorkflowUpdateFailedError).cause as ApplicationFailure;
    expect(refusal.type).toBe(TRANSFER_NOT_CANCELLABLE);
    expect(refusal.message).toContain('the debit is posted: the transfer can only go forward');
    expect(await statusOf(record)).toBe('NEEDS_ATTENTION');

    await blocker.query('ROLLBACK'); // the abandoned attempts go on and commit now
    await blocker.end();
    await eventually(async () => ((await incomingOf(record)).length ? true : undefined), 15_000, 'the late credit');
    const retried: TransferView = await handle.executeUpdate(retryUpdate, {
      args: [{ actor: 'fiona', reason: 'receiving shard unblocked' }],
    });
    expect(retried.status).toBe('DEBITED');
    expect((await handle.result()).status).toBe('COMPLETED');
    expect((await legs(receiverDb(record), record.id)).map(([kind]) => kind)).toEqual([
      'transfer_credit',
      'transfer_credit',
    ]);
    expect(await balanceOf(to.id)).toMatchObject({ balance: 250n });
    const audit = await query(senderDb(record), `SELECT action, actor FROM audit_log WHERE target_id = $1`, [
      record.id,
    ]);
    expect(audit).toEqual([{ action: 'transfer.retry', actor: 'fiona' }]);
    await expectBooksSound();
  });

  describe('a worker process killed between the debit and the credit', () => {
    const workers: WorkerProcess[] = [];
    afterAll(async () => {
      await Promise.all(workers.map(stopWorker));
    });

    it('is finished by another worker: COMPLETED, credited exactly once', async () => {
      if (!fs.existsSync(WORKER_MAIN)) throw new Error(`${WORKER_MAIN} is missing: run \`npm run build\` first`);
      // a task queue of their own: this file's in-process worker must not take the saga over
      const killConfig = testConfig({ ...overrides, TEMPORAL_TASK_QUEUE: uniqueTaskQueue('xkill') });
      const env = {
        DATABASE_URL: overrides.DATABASE_URL,
        SHARD_DATABASE_URLS: overrides.SHARD_DATABASE_URLS,
        SHARD_MAP: '',
        ACCOUNTING_DATABASE_URL: overrides.ACCOUNTING_DATABASE_URL,
      };
      const { from, to } = await crossShardPair(4_000n);
      const blocker = await holdRow(databases[1]!.url, to.id);
      const doomed = spawnWorker(killConfig, 'xshard-doomed', env);
      workers.push(doomed);
      await doomed.identity;
      const { record, handle } = await startTransfer(from, to, 1_000n, killConfig);
      await untilCreditWaits(databases[1]!.url);
      expect(await statusOf(record)).toBe('DEBITED');

      await killWorker(doomed);
      await blocker.query('ROLLBACK');
      await blocker.end();
      const rescuer = spawnWorker(killConfig, 'xshard-rescuer', env);
      workers.push(rescuer);
      await rescuer.identity;

      const view = await handle.result();
      expect(view).toMatchObject({ status: 'COMPLETED', failure: null });
      expect(await incomingOf(record)).toEqual([{ status: 'credited', failure_code: null }]);
      expect((await legs(receiverDb(record), record.id)).map(([kind]) => kind)).toEqual([
        'transfer_credit',
        'transfer_credit',
      ]);
      expect(await balanceOf(to.id)).toMatchObject({ balance: 1_000n });
      expect(await balanceOf(from.id)).toMatchObject({ balance: 3_000n, held: 0n });
      expect(await statusOf(record)).toBe('COMPLETED');
      await expectBooksSound();
    }, 120_000);
  });
});
