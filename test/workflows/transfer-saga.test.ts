import { randomUUID } from 'node:crypto';
import {
  WithStartWorkflowOperation,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateStage,
  type WorkflowHandle,
  type WorkflowStartOptions,
} from '@temporalio/client';
import { ApplicationFailure, type Duration } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { Activities, TransferSagaActivities } from '../../activities';
import { withShard } from '../../domain/shards';
import { TERMINAL_STATUSES, type TransferStatus } from '../../domain/transfer-status';
import type { FinanceDecisionRecord } from '../../domain/transfers/finance-decision';
import { HOLD_CAPTURED } from '../../domain/transfers/refusals';
import {
  answerUpdateId,
  cancelUpdate,
  INVALID_DECISION,
  retryUpdate,
  STORE_UNAVAILABLE,
  TRANSFER_NOT_CANCELLABLE,
  TRANSFER_NOT_PARKED,
  transferAnswerUpdate,
  transferSearchAttributes,
  transferStatusQuery,
  type FinanceDecision,
  type SagaSettings,
  type TransferPayload,
  type TransferRoute,
  type TransferView,
} from '../../workflows/contract';
import { transferWorkflow } from '../../workflows/transfer';
import {
  createTimeSkippingEnv,
  createTimeSkippingWorker,
  eventKinds,
  registerSearchAttributes,
  waitUntilWorkflowSaw,
  type History,
} from '../support/time-skipping';

/**
 * Saga v2 (workflows/transfer-saga.ts) on the time-skipping test server, against stubbed activities:
 * an in-memory fake of the books (the hold, the accounting booking, the transfer row's statuses, the
 * audit trail) per transfer, whose steps each test steers. The park deadline is the real 72 hours.
 */

type Step = 'reserve' | 'accounting' | 'ledger' | 'debit' | 'credit' | 'notify';
type HoldState = 'none' | 'active' | 'captured' | 'released';
type BookingState = 'none' | 'booked' | 'reversed';
/** the receiving shard's one-time decision on a cross-shard credit (incoming_transfers) */
type IncomingState = 'none' | 'credited' | 'refused';

const PARK_DEADLINE_SECONDS = 72 * 3600;
const SETTINGS: SagaSettings = {
  stepMaxAttempts: 2,
  stepAttemptTimeoutSeconds: 1,
  parkDeadlineSeconds: PARK_DEADLINE_SECONDS,
};
/**
 * For a workflow cancelled while a step's attempt runs: the cancel request reaches the workflow only at the
 * heartbeat of the workflow task the local activity holds open (80% of workflowTaskTimeout), so that timeout
 * is short and a blocked attempt is given longer than that.
 */
const CANCEL_MID_STEP = { workflowTaskTimeout: '2 seconds', settings: { stepAttemptTimeoutSeconds: 10 } } as const;

// ------------------------------------------------------------------ the fake books

/** Holds every attempt that reaches it until released; attempts after the release pass straight through. */
class Gate {
  /** attempts that reached the gate (including those that went on) */
  waiters = 0;
  private open!: () => void;
  private enter!: () => void;
  private readonly opened = new Promise<void>((resolve) => (this.open = resolve));
  /** resolves once the first attempt waits at the gate */
  readonly entered = new Promise<void>((resolve) => (this.enter = resolve));

  async pass(): Promise<void> {
    this.waiters++;
    this.enter();
    await this.opened;
  }

  release(): void {
    this.open();
  }
}

interface StepScript {
  /** transient failures left (retryable); Infinity: unavailable until healed */
  failures: number;
  /** calls left that find the step's database unavailable (STORE_UNAVAILABLE); Infinity: until healed */
  storeDown?: { store: string; calls: number };
  /** a business refusal: every attempt throws a non-retryable ApplicationFailure of this type */
  refusal?: string;
  /**
   * every attempt waits here first, deaf to its timeout and cancellation (a transaction in flight), then
   * does its work: released after the attempt timed out, that work is a late commit
   */
  gate?: Gate;
}

/** What an activity throws when its database is down (activities/failures.ts maps db/shards.ts StoreUnavailable so). */
function storeUnavailable(store: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: STORE_UNAVAILABLE,
    message: `database ${store} is unavailable`,
    details: [{ store, retryAfterSeconds: 5 }],
  });
}

/** One transfer as the books see it, and how its steps behave. */
class TransferBooks {
  hold: HoldState = 'none';
  booking: BookingState = 'none';
  /** cross-shard: the debit, credit and return entries posted (each at most once), and the receiving shard's decision */
  debitEntries = 0;
  creditEntries = 0;
  returnEntries = 0;
  incoming: IncomingState = 'none';
  /** calls of releaseReserve left that find its database unavailable */
  releaseStoreDown = 0;
  /** every status the transfer row took, in order (written by the steps, the saga and finance decisions) */
  readonly statuses: TransferStatus[] = [];
  /** the audit trail: one row per applied finance decision, idempotent by update id */
  readonly audit: FinanceDecisionRecord[] = [];
  /** what each activity call did, in order: 'reserve:held', 'releaseReserve:tombstone', … */
  readonly log: string[] = [];
  readonly attempts: Partial<Record<keyof Activities, number>> = {};
  readonly scripts: Record<Step, StepScript> = {
    reserve: { failures: 0 },
    accounting: { failures: 0 },
    ledger: { failures: 0 },
    debit: { failures: 0 },
    credit: { failures: 0 },
    notify: { failures: 0 },
  };
  readonly gates: Gate[] = [];
  /** a status write (recordTransferState) that waits at a gate before it lands */
  statusGate?: { status: TransferStatus; gate: Gate };

  constructor(readonly transferId: string) {}

  /** the transfer row's status now */
  get rowStatus(): TransferStatus | undefined {
    return this.statuses.at(-1);
  }

  /**
   * A status write as the transfers row takes it (domain/transfers/records.ts applyStateChange): never over a
   * terminal status, and with `expected` only from that status. So a local activity run again (its workflow
   * task retried) changes nothing.
   */
  write(status: TransferStatus, expected?: TransferStatus): void {
    const now = this.rowStatus ?? 'PENDING';
    if (TERMINAL_STATUSES.includes(now) || (expected !== undefined && now !== expected)) return;
    this.statuses.push(status);
  }

  /** the next `times` attempts of `step` fail (retryably) */
  fail(step: Step, times = Infinity): this {
    this.scripts[step].failures = times;
    return this;
  }

  heal(step: Step): this {
    this.scripts[step].failures = 0;
    delete this.scripts[step].storeDown;
    return this;
  }

  /** the next `calls` calls of `step` find its database `store` unavailable */
  storeDown(step: Step, store: string, calls = Infinity): this {
    this.scripts[step].storeDown = { store, calls };
    return this;
  }

  refuse(step: Step, type: string): this {
    this.scripts[step].refusal = type;
    return this;
  }

  /** every attempt of `step` waits until the returned gate is released */
  block(step: Step): Gate {
    const gate = new Gate();
    this.scripts[step].gate = gate;
    this.gates.push(gate);
    return gate;
  }

  /**
   * The ledger step's or the debit's transaction (domain/transfers/reserve.ts captureHold): captures the
   * active hold and moves the row on; a captured hold means an earlier attempt did it; no hold refuses.
   */
  captureHold(step: 'ledger' | 'debit', status: 'POSTED' | 'DEBITED'): 'captured' | 'already-captured' {
    const done = step === 'ledger' ? 'posted' : 'debited';
    if (this.hold === 'none' || this.hold === 'released') {
      this.log.push(`${step}:no-hold`);
      throw ApplicationFailure.nonRetryable(
        `transfer ${this.transferId} has no active hold to capture`,
        'INVALID_STATE',
      );
    }
    const outcome = this.hold === 'active' ? 'captured' : 'already-captured';
    this.hold = 'captured';
    this.write(status, 'ACCOUNTED');
    this.log.push(outcome === 'captured' ? `${step}:${done}` : `${step}:already-${done}`);
    return outcome;
  }

  /** the saga's write of `status` to the transfer row waits until the returned gate is released */
  blockStatus(status: TransferStatus): Gate {
    const gate = new Gate();
    this.statusGate = { status, gate };
    this.gates.push(gate);
    return gate;
  }

  count(activity: keyof Activities): void {
    this.attempts[activity] = (this.attempts[activity] ?? 0) + 1;
  }

  /** One attempt of a step as scripted: waits at its gate, then is refused, fails, or goes on to its work. */
  async attempt(step: Step): Promise<void> {
    this.count(step);
    const script = this.scripts[step];
    if (script.gate) await script.gate.pass();
    if (script.storeDown && script.storeDown.calls > 0) {
      script.storeDown.calls--;
      this.log.push(`${step}:store-unavailable`);
      throw storeUnavailable(script.storeDown.store);
    }
    if (script.refusal) {
      this.log.push(`${step}:refused`);
      throw ApplicationFailure.nonRetryable(`${step} refused: ${script.refusal}`, script.refusal);
    }
    if (script.failures > 0) {
      script.failures--;
      this.log.push(`${step}:failed`);
      throw ApplicationFailure.retryable(`${step}: system unavailable`, 'UNAVAILABLE');
    }
  }
}

/** The books of every transfer, and the stubbed activities over them (idempotent like the real ones). */
class FakeBooks {
  private readonly transfers = new Map<string, TransferBooks>();

  of(transferId: string): TransferBooks {
    let books = this.transfers.get(transferId);
    if (!books) this.transfers.set(transferId, (books = new TransferBooks(transferId)));
    return books;
  }

  /** Lets every blocked attempt go on (so the worker can shut down). */
  releaseAll(): void {
    for (const books of this.transfers.values()) for (const gate of books.gates) gate.release();
  }

  readonly activities: TransferSagaActivities = {
    reserve: async (t: TransferPayload) => {
      const books = this.of(t.transferId);
      await books.attempt('reserve');
      if (books.hold === 'none') {
        books.hold = 'active';
        books.write('RESERVED', 'PENDING');
        books.log.push('reserve:held');
      } else {
        // released first: the tombstone stops a late reserve
        books.log.push(books.hold === 'released' ? 'reserve:tombstoned' : 'reserve:already-held');
      }
    },
    releaseReserve: async (t: TransferPayload) => {
      const books = this.of(t.transferId);
      books.count('releaseReserve');
      if (books.releaseStoreDown > 0) {
        books.releaseStoreDown--;
        books.log.push('releaseReserve:store-unavailable');
        throw storeUnavailable('db-0');
      }
      switch (books.hold) {
        case 'captured':
          books.log.push('releaseReserve:captured');
          throw ApplicationFailure.nonRetryable(
            `the hold of transfer ${t.transferId} was captured: the ledger posted it`,
            HOLD_CAPTURED,
          );
        case 'none':
          books.hold = 'released';
          books.log.push('releaseReserve:tombstone');
          return;
        case 'active':
          books.hold = 'released';
          books.log.push('releaseReserve:released');
          return;
        case 'released':
          books.log.push('releaseReserve:noop');
      }
    },
    accounting: async (t: TransferPayload) => {
      const books = this.of(t.transferId);
      await books.attempt('accounting');
      if (books.booking === 'none') {
        books.booking = 'booked';
        books.write('ACCOUNTED', 'RESERVED');
        books.log.push('accounting:booked');
      } else {
        books.log.push(books.booking === 'reversed' ? 'accounting:tombstoned' : 'accounting:already-booked');
      }
    },
    reverseAccounting: async (t: TransferPayload) => {
      const books = this.of(t.transferId);
      books.count('reverseAccounting');
      books.log.push(`reverseAccounting:${{ none: 'tombstone', booked: 'reversed', reversed: 'noop' }[books.booking]}`);
      books.booking = 'reversed';
    },
    ledger: async (t: TransferPayload) => {
      const books = this.of(t.transferId);
      await books.attempt('ledger');
      books.captureHold('ledger', 'POSTED');
    },
    notify: async (t: TransferPayload) => {
      const books = this.of(t.transferId);
      await books.attempt('notify');
      books.write('COMPLETED');
      books.log.push('notify:sent');
      return 2;
    },
    debit: async (t: TransferPayload) => {
      const books = this.of(t.transferId);
      await books.attempt('debit');
      if (books.captureHold('debit', 'DEBITED') === 'captured') books.debitEntries++;
    },
    credit: async (t: TransferPayload) => {
      const books = this.of(t.transferId);
      // a refusal by the receiving shard is decided once and committed (domain/transfers/cross-shard.ts)
      const script = books.scripts.credit;
      if (script.refusal && books.incoming === 'none') {
        books.incoming = 'refused';
        delete script.refusal;
      }
      books.count('credit');
      if (script.gate) await script.gate.pass();
      if (script.storeDown && script.storeDown.calls > 0) {
        script.storeDown.calls--;
        books.log.push('credit:store-unavailable');
        throw storeUnavailable(script.storeDown.store);
      }
      if (books.incoming === 'refused') {
        books.log.push('credit:refused');
        throw ApplicationFailure.nonRetryable(`wallet ${t.toWalletId} is frozen`, 'WALLET_NOT_ACTIVE');
      }
      if (script.failures > 0) {
        script.failures--;
        books.log.push('credit:failed');
        throw ApplicationFailure.retryable('credit: system unavailable', 'UNAVAILABLE');
      }
      if (books.incoming === 'none') {
        books.incoming = 'credited';
        books.creditEntries++;
        books.log.push('credit:credited');
      } else {
        books.log.push('credit:already-credited');
      }
      books.write('POSTED', 'DEBITED');
    },
    returnTransfer: async (t: TransferPayload, failure: { code: string; reason: string }) => {
      const books = this.of(t.transferId);
      books.count('returnTransfer');
      if (books.debitEntries === 0) throw ApplicationFailure.nonRetryable('no debit to return', 'INVALID_STATE');
      if (books.returnEntries === 0) books.returnEntries++;
      books.log.push(`returnTransfer:${failure.code}`);
      books.write('RETURNED');
    },
    notifyCrossShard: async (t: TransferPayload) => {
      const books = this.of(t.transferId);
      await books.attempt('notify');
      books.write('COMPLETED');
      books.log.push('notifyCrossShard:sent');
      return 2;
    },
    recordTransferState: async (change) => {
      const books = this.of(change.transferId);
      books.count('recordTransferState');
      if (change.status && books.statusGate?.status === change.status) await books.statusGate.gate.pass();
      if (change.status) books.write(change.status, change.expectedStatus);
    },
    recordFinanceDecision: async (record) => {
      const books = this.of(record.transferId);
      books.count('recordFinanceDecision');
      if (!books.audit.some((row) => row.updateId === record.updateId)) books.audit.push(record);
      if (record.status) books.write(record.status, 'NEEDS_ATTENTION');
    },
  };
}

// ------------------------------------------------------------------ the environment

const books = new FakeBooks();
let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
const started: WorkflowHandle[] = [];

type TransferHandle = WorkflowHandle<typeof transferWorkflow>;

interface StartOptions {
  settings?: Partial<SagaSettings>;
  workflowTaskTimeout?: Duration;
  /** between two logical shards (5 → 900, on db-0 and db-1): debit and credit instead of the ledger */
  crossShard?: boolean;
}

const SENDER_SHARD = 5;
const RECEIVER_SHARD = 900;
const ROUTE: TransferRoute = { fromDatabase: 'db-0', toDatabase: 'db-1', accountingDatabase: 'accounting' };

let seq = 0;

/** A new transfer and its books, not started yet: script the books, then start it. */
function newTransfer(opts: Pick<StartOptions, 'crossShard'> = {}): { transfer: TransferPayload; books: TransferBooks } {
  const transferId = `tr-${++seq}-${randomUUID().slice(0, 8)}`;
  const transfer: TransferPayload = {
    transferId,
    // ids from before sharding are shard 0, both of them: a same-shard transfer
    fromWalletId: opts.crossShard ? withShard(randomUUID(), SENDER_SHARD) : 'wallet-alice',
    toWalletId: opts.crossShard ? withShard(randomUUID(), RECEIVER_SHARD) : 'wallet-bob',
    amountMinor: '2500',
    currency: 'EUR',
    description: 'rent',
  };
  return { transfer, books: books.of(transferId) };
}

function startOptions(transfer: TransferPayload, opts: StartOptions = {}) {
  return {
    args: [{ transfer, settings: { ...SETTINGS, ...opts.settings }, ...(opts.crossShard ? { route: ROUTE } : {}) }] as [
      Parameters<typeof transferWorkflow>[0],
    ],
    taskQueue: worker.options.taskQueue,
    workflowId: `transfer-${transfer.transferId}`,
    workflowTaskTimeout: opts.workflowTaskTimeout,
  } satisfies WorkflowStartOptions<typeof transferWorkflow>;
}

/** Starts the saga of a new transfer whose books `script` prepared. */
async function startTransfer(
  script: (books: TransferBooks) => void = () => {},
  opts: StartOptions = {},
): Promise<{ handle: TransferHandle; books: TransferBooks; transfer: TransferPayload }> {
  const { transfer, books: transferBooks } = newTransfer(opts);
  script(transferBooks);
  const handle = await env.client.workflow.start(transferWorkflow, startOptions(transfer, opts));
  started.push(handle);
  return { handle, books: transferBooks, transfer };
}

/** Polls the saga's `status` query (no time is skipped meanwhile) until the transfer is `status`. */
async function waitForStatus(
  handle: TransferHandle,
  status: TransferStatus,
  timeoutMs = 20_000,
): Promise<TransferView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await handle.query(transferStatusQuery);
    if (view.status === status) return view;
    if (Date.now() > deadline) throw new Error(`${handle.workflowId} is ${view.status}, still not ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Waits until the workflow closes. `view`: the transfer it returned or, had it closed without returning it
 * (e.g. as cancelled), what its `status` query answers on the closed workflow; `closedAs`: the execution's status.
 */
async function closing(handle: TransferHandle): Promise<{ view: TransferView; closedAs: string }> {
  const outcome = await handle.result().then(
    (view) => ({ view }),
    (error: unknown) => ({ error }),
  );
  const closedAs = (await handle.describe()).status.name;
  if ('view' in outcome) return { view: outcome.view, closedAs };
  if (!(outcome.error instanceof WorkflowFailedError)) throw outcome.error;
  return { view: await handle.query(transferStatusQuery), closedAs };
}

async function until(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The failure type of a refused update (its validator threw an ApplicationFailure). */
function refusalTypeOf(err: unknown): string | null | undefined {
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (err as WorkflowUpdateFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return (cause as ApplicationFailure).type;
}

async function refusalType(update: Promise<unknown>): Promise<string | null | undefined> {
  return refusalTypeOf(
    await update.then(
      () => undefined,
      (e: unknown) => e,
    ),
  );
}

const decision = (reason: string, actor = 'fiona'): FinanceDecision => ({ actor, reason });

beforeAll(async () => {
  env = await createTimeSkippingEnv();
  // the saga upserts TransferStatus: unregistered, that upsert fails the workflow task on this server
  await registerSearchAttributes(env, transferSearchAttributes);
  worker = await createTimeSkippingWorker(env, { activities: books.activities });
  running = worker.run();
}, 120_000);

afterEach(async () => {
  books.releaseAll();
  // a transfer a failed test left open would wake up when a later test skips time
  for (const handle of started.splice(0)) {
    const { status } = await handle.describe();
    if (status.name === 'RUNNING') await handle.terminate('test over');
  }
});

afterAll(async () => {
  books.releaseAll();
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await running;
  await env?.teardown();
});

// ------------------------------------------------------------------ the cases

describe('transfer saga v2 (time-skipping test server, stubbed activities)', () => {
  describe('a parked transfer', () => {
    it('is cancelled when its real 72-hour deadline passes: PARK_DEADLINE_EXCEEDED, hold released, booking tombstoned', async () => {
      const { handle, books: b } = await startTransfer((tb) => tb.fail('accounting'));

      const parked = await waitForStatus(handle, 'NEEDS_ATTENTION');
      expect(parked.parked).toMatchObject({ step: 'accounting' });
      expect(parked.failure).toMatchObject({ step: 'accounting', code: 'STEP_RETRIES_EXHAUSTED' });
      expect(b.attempts.accounting).toBe(2);

      const result = await handle.result(); // the 72 hours are skipped
      expect(result).toMatchObject({
        status: 'CANCELLED',
        failure: { step: 'accounting', code: 'PARK_DEADLINE_EXCEEDED' },
        parked: null,
        decisions: [],
      });
      expect(result.steps).toMatchObject({ reserve: 'compensated', accounting: 'compensated' });
      expect(b.hold).toBe('released');
      expect(b.booking).toBe('reversed');
      expect(b.log).toEqual(expect.arrayContaining(['releaseReserve:released', 'reverseAccounting:tombstone']));
      expect(b.attempts.accounting).toBe(2);
      expect(b.attempts.ledger).toBeUndefined();
      expect(b.audit).toEqual([]);
      expect(b.rowStatus).toBe('CANCELLED');
    });

    it('completes when finance retries it at 71 hours after accounting healed, with exactly one audit row (retry, the update id)', async () => {
      const { handle, books: b } = await startTransfer((tb) => tb.fail('accounting'));
      await waitForStatus(handle, 'NEEDS_ATTENTION');

      await env.sleep('71 hours');
      expect(await handle.query(transferStatusQuery)).toMatchObject({
        status: 'NEEDS_ATTENTION',
        parked: { step: 'accounting' },
      });

      b.heal('accounting');
      const applied = await handle.executeUpdate(retryUpdate, {
        args: [decision('accounting is back')],
        updateId: 'finance-retry-71h',
      });
      expect(applied.status).toBe('RESERVED');
      expect(applied.parked).toBeNull();
      expect(applied.decisions).toEqual([
        expect.objectContaining({
          kind: 'retry',
          actor: 'fiona',
          reason: 'accounting is back',
          updateId: 'finance-retry-71h',
        }),
      ]);

      const result = await handle.result();
      expect(result).toMatchObject({ status: 'COMPLETED', failure: null, parked: null });
      expect(result.steps).toMatchObject({ reserve: 'done', accounting: 'done', ledger: 'done', notify: 'done' });
      expect(b.hold).toBe('captured');
      expect(b.booking).toBe('booked');
      expect(b.audit).toHaveLength(1);
      expect(b.audit[0]).toMatchObject({
        kind: 'retry',
        updateId: 'finance-retry-71h',
        workflowId: handle.workflowId,
        parkedStep: 'accounting',
        failureCode: 'STEP_RETRIES_EXHAUSTED',
        status: 'RESERVED',
        decision: { actor: 'fiona', reason: 'accounting is back' },
      });
      expect(b.statuses).not.toContain('CANCELLED');
      expect(b.rowStatus).toBe('COMPLETED');
    });
  });

  describe('a finance decision', () => {
    it('is audited only once its acceptance is in history: a workflow task completes between the two, so a worker dying in between loses nothing audited', async () => {
      const { handle, books: b } = await startTransfer((tb) => tb.fail('accounting'));
      await waitForStatus(handle, 'NEEDS_ATTENTION');
      b.heal('accounting');
      await handle.executeUpdate(retryUpdate, { args: [decision('accounting is back')], updateId: 'durable-retry' });
      expect((await handle.result()).status).toBe('COMPLETED');

      const events = (await handle.fetchHistory()).events ?? [];
      const accepted = events.findIndex(
        (e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.meta?.updateId === 'durable-retry',
      );
      expect(accepted).toBeGreaterThan(-1);
      // the first local activity after the acceptance is the one that writes the audit row (patch markers aside)
      const auditMarker = events.findIndex(
        (e, i) => i > accepted && e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
      );
      expect(auditMarker).toBeGreaterThan(accepted);
      const between = events.slice(accepted + 1, auditMarker);
      expect(between.some((e) => e.workflowTaskCompletedEventAttributes)).toBe(true);
      expect(b.audit).toHaveLength(1);
    });
  });

  describe('racing finance decisions', () => {
    it('retry and cancel sent together: exactly one is applied, the other is refused TRANSFER_NOT_PARKED, and the transfer ends as the applied one says', async () => {
      const { handle, books: b } = await startTransfer((tb) => tb.fail('accounting'));
      await waitForStatus(handle, 'NEEDS_ATTENTION');
      b.heal('accounting');

      const updates = await Promise.all([
        handle.startUpdate(retryUpdate, {
          args: [decision('try again')],
          updateId: 'race-retry',
          waitForStage: WorkflowUpdateStage.ACCEPTED,
        }),
        handle.startUpdate(cancelUpdate, {
          args: [decision('give up', 'frank')],
          updateId: 'race-cancel',
          waitForStage: WorkflowUpdateStage.ACCEPTED,
        }),
      ]);
      const [retried, cancelled] = await Promise.allSettled(updates.map((u) => u.result()));
      const outcomes = { retry: retried!, cancel: cancelled! };
      const winners = (['retry', 'cancel'] as const).filter((kind) => outcomes[kind].status === 'fulfilled');
      expect(winners).toHaveLength(1);
      const winner = winners[0]!;
      const loser = winner === 'retry' ? 'cancel' : 'retry';
      expect(refusalTypeOf((outcomes[loser] as PromiseRejectedResult).reason)).toBe(TRANSFER_NOT_PARKED);

      const result = await handle.result();
      const expected = {
        retry: { status: 'COMPLETED', failure: null, hold: 'captured', booking: 'booked' },
        cancel: {
          status: 'CANCELLED',
          failure: { step: 'accounting', code: 'CANCELLED_BY_FINANCE', reason: 'frank: give up' },
          hold: 'released',
          booking: 'reversed',
        },
      }[winner];
      expect(result).toMatchObject({ status: expected.status, failure: expected.failure });
      expect(result.decisions).toEqual([expect.objectContaining({ kind: winner, updateId: `race-${winner}` })]);
      expect({ hold: b.hold, booking: b.booking }).toEqual({ hold: expected.hold, booking: expected.booking });
      expect(b.audit).toHaveLength(1);
      expect(b.audit[0]).toMatchObject({ kind: winner, updateId: `race-${winner}` });
      expect(b.rowStatus).toBe(expected.status);
    });

    it('two retries sent together: exactly one is applied, the other is refused TRANSFER_NOT_PARKED; one audit row', async () => {
      const { handle, books: b } = await startTransfer((tb) => tb.fail('accounting'));
      await waitForStatus(handle, 'NEEDS_ATTENTION');
      b.heal('accounting');

      const ids = ['retry-a', 'retry-b'];
      const updates = await Promise.all(
        ids.map((updateId) =>
          handle.startUpdate(retryUpdate, {
            args: [decision(updateId)],
            updateId,
            waitForStage: WorkflowUpdateStage.ACCEPTED,
          }),
        ),
      );
      const outcomes = await Promise.allSettled(updates.map((u) => u.result()));
      const applied = ids.filter((_, i) => outcomes[i]!.status === 'fulfilled');
      expect(applied).toHaveLength(1);
      const refused = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
      expect(refusalTypeOf(refused?.reason)).toBe(TRANSFER_NOT_PARKED);

      const result = await handle.result();
      expect(result.status).toBe('COMPLETED');
      expect(result.decisions).toEqual([expect.objectContaining({ kind: 'retry', updateId: applied[0] })]);
      expect(b.audit).toHaveLength(1);
      expect(b.audit[0]).toMatchObject({ kind: 'retry', updateId: applied[0] });
      // booked once, by the one retry (its workflow task may run again when the refused update arrives during it:
      // the server refuses to close the workflow with an event unhandled, and the local activities run again)
      expect(b.log.filter((entry) => entry === 'accounting:booked')).toHaveLength(1);
      expect(b.hold).toBe('captured');
      expect(b.booking).toBe('booked');
    });
  });

  describe('a decision and a cancel of the workflow taken in one workflow task', () => {
    it('the accepted decision is applied and audited first, then the cancel compensates: CANCELLED', async () => {
      const { transfer, books: b } = newTransfer();
      b.fail('accounting');
      const taskQueue = `outlives-${randomUUID()}`;
      const handle = await env.client.workflow.start(transferWorkflow, { ...startOptions(transfer), taskQueue });
      started.push(handle);
      // no cache, so no sticky queue: the next workflow task goes to whichever worker polls next
      const first = await createTimeSkippingWorker(env, {
        activities: books.activities,
        taskQueue,
        workerOptions: { maxCachedWorkflows: 0 },
      });
      await first.runUntil(waitForStatus(handle, 'NEEDS_ATTENTION'));
      // no worker now: the retry and the cancel both wait for the next one, which takes them in one task
      b.heal('accounting');
      const retry = handle.startUpdate(retryUpdate, {
        args: [decision('accounting is back')],
        updateId: 'retry-with-cancel',
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      await handle.cancel();
      const next = await createTimeSkippingWorker(env, { activities: books.activities, taskQueue });
      const { view } = await next.runUntil(async () => {
        await (await retry).result();
        return closing(handle);
      });

      expect(view).toMatchObject({ status: 'CANCELLED', failure: { code: 'WORKFLOW_CANCELLED' } });
      expect(view.decisions).toEqual([expect.objectContaining({ kind: 'retry', updateId: 'retry-with-cancel' })]);
      expect(b.audit).toEqual([expect.objectContaining({ kind: 'retry', updateId: 'retry-with-cancel' })]);
      expect(b.hold).toBe('released');
      expect(b.booking).toBe('reversed');
    });
  });

  describe('decisions the saga refuses', () => {
    it('refuses retry and cancel on a running transfer (TRANSFER_NOT_PARKED): it runs on to COMPLETED untouched', async () => {
      let gate!: Gate;
      const { handle, books: b } = await startTransfer((tb) => (gate = tb.block('reserve')), CANCEL_MID_STEP);
      await gate.entered;

      // both reach the workflow at the heartbeat of the workflow task the reserve holds open
      const refusals = await Promise.all([
        refusalType(handle.executeUpdate(retryUpdate, { args: [decision('too early')] })),
        refusalType(handle.executeUpdate(cancelUpdate, { args: [decision('too early')] })),
      ]);
      expect(refusals).toEqual([TRANSFER_NOT_PARKED, TRANSFER_NOT_PARKED]);
      expect(await handle.query(transferStatusQuery)).toMatchObject({
        status: 'PENDING',
        steps: { reserve: 'running' },
      });
      gate.release();

      const result = await handle.result();
      expect(result).toMatchObject({ status: 'COMPLETED', failure: null, decisions: [] });
      expect(b.audit).toEqual([]);
      expect(b.statuses).toEqual(['RESERVED', 'ACCOUNTED', 'POSTED', 'COMPLETED']);
      expect(b.hold).toBe('captured');
    });

    it('refuses a decision on a completed transfer: nothing changes', async () => {
      const { handle, books: b } = await startTransfer();
      expect((await handle.result()).status).toBe('COMPLETED');
      const statuses = [...b.statuses];

      const err = await handle.executeUpdate(retryUpdate, { args: [decision('after the fact')] }).then(
        () => undefined,
        (e: unknown) => e,
      );
      // the server refuses an update to a closed workflow (the API answers that with TRANSFER_NOT_PARKED too)
      expect(err).toBeInstanceOf(WorkflowNotFoundError);
      expect(await handle.query(transferStatusQuery)).toMatchObject({ status: 'COMPLETED', decisions: [] });
      expect(b.audit).toEqual([]);
      expect(b.statuses).toEqual(statuses);
    });

    it('refuses a decision without a reason on a parked transfer (INVALID_DECISION): it stays parked', async () => {
      const { handle, books: b } = await startTransfer((tb) => tb.fail('accounting'));
      await waitForStatus(handle, 'NEEDS_ATTENTION');

      expect(await refusalType(handle.executeUpdate(retryUpdate, { args: [decision('')] }))).toBe(INVALID_DECISION);
      expect(await refusalType(handle.executeUpdate(cancelUpdate, { args: [decision('   ')] }))).toBe(INVALID_DECISION);

      expect(await handle.query(transferStatusQuery)).toMatchObject({
        status: 'NEEDS_ATTENTION',
        parked: { step: 'accounting' },
        decisions: [],
      });
      expect(b.audit).toEqual([]);
      expect(b.attempts.accounting).toBe(2);
      expect(b.rowStatus).toBe('NEEDS_ATTENTION');

      // still waiting for a (valid) decision
      const cancelled = await handle.executeUpdate(cancelUpdate, { args: [decision('wrong beneficiary')] });
      expect(cancelled).toMatchObject({ status: 'CANCELLED', failure: { code: 'CANCELLED_BY_FINANCE' } });
      expect(b.audit).toHaveLength(1);
    });
  });

  describe('a cancel of the workflow (e.g. from the Temporal UI) while a step runs', () => {
    /** Cancels the workflow while `gate` holds the step's attempt, and lets the attempt finish once the workflow saw it. */
    async function cancelWhileBlocked(handle: TransferHandle, gate: Gate): Promise<void> {
      await gate.entered;
      await handle.cancel();
      await waitUntilWorkflowSaw(handle, 'workflowExecutionCancelRequested');
      gate.release();
    }

    it('of a parked transfer: a decision sent before its compensation moved the status on is refused TRANSFER_NOT_PARKED, never accepted and dropped', async () => {
      const { handle, books: b } = await startTransfer((tb) => tb.fail('accounting'), CANCEL_MID_STEP);
      await waitForStatus(handle, 'NEEDS_ATTENTION');
      const compensating = b.blockStatus('COMPENSATING');
      await handle.cancel();
      // the saga left its inbox; the row still says NEEDS_ATTENTION while the write of COMPENSATING waits
      await compensating.entered;
      expect((await handle.query(transferStatusQuery)).status).toBe('NEEDS_ATTENTION');
      expect(await refusalType(handle.executeUpdate(retryUpdate, { args: [decision('too late')] }))).toBe(
        TRANSFER_NOT_PARKED,
      );
      compensating.release();

      const { view: result } = await closing(handle);
      expect(result).toMatchObject({ status: 'CANCELLED', failure: { code: 'WORKFLOW_CANCELLED' }, decisions: [] });
      expect(b.audit).toEqual([]);
      expect(b.hold).toBe('released');
      expect(b.booking).toBe('reversed');
    });

    it('during reserve: the attempt finishes, then the saga compensates: CANCELLED, hold released', async () => {
      let gate!: Gate;
      const { handle, books: b } = await startTransfer((tb) => (gate = tb.block('reserve')), CANCEL_MID_STEP);
      await cancelWhileBlocked(handle, gate);

      const { view: result, closedAs } = await closing(handle);
      expect(result).toMatchObject({ status: 'CANCELLED', failure: { code: 'WORKFLOW_CANCELLED' } });
      expect(result.steps).toMatchObject({ reserve: 'compensated' });
      // the booking is tombstoned although accounting never ran: a late attempt can book nothing
      expect(b.log).toEqual(['reserve:held', 'releaseReserve:released', 'reverseAccounting:tombstone']);
      expect(b.hold).toBe('released');
      expect(b.booking).toBe('reversed');
      expect(b.rowStatus).toBe('CANCELLED');
      // the saga returns the transfer as it ended: the execution closes COMPLETED, with it as its result
      expect(closedAs).toBe('COMPLETED');
    });

    it('during accounting: CANCELLED, hold released, booking reversed', async () => {
      let gate!: Gate;
      const { handle, books: b } = await startTransfer((tb) => (gate = tb.block('accounting')), CANCEL_MID_STEP);
      await cancelWhileBlocked(handle, gate);

      const { view: result, closedAs } = await closing(handle);
      expect(result).toMatchObject({ status: 'CANCELLED', failure: { code: 'WORKFLOW_CANCELLED' } });
      expect(result.steps).toMatchObject({ reserve: 'compensated', accounting: 'compensated' });
      expect(b.log).toEqual([
        'reserve:held',
        'accounting:booked',
        'releaseReserve:released',
        'reverseAccounting:reversed',
      ]);
      expect(b.hold).toBe('released');
      expect(b.booking).toBe('reversed');
      expect(b.attempts.ledger).toBeUndefined();
      expect(b.rowStatus).toBe('CANCELLED');
      // the saga returns the transfer as it ended: the execution closes COMPLETED, with it as its result
      expect(closedAs).toBe('COMPLETED');
    });

    it('a caller waiting for the settled answer when the workflow is cancelled gets the CANCELLED transfer', async () => {
      let gate!: Gate;
      const { handle, books: b } = await startTransfer((tb) => (gate = tb.block('accounting')), CANCEL_MID_STEP);
      await gate.entered;
      const answer = await handle.startUpdate(transferAnswerUpdate, {
        args: ['settled'],
        updateId: answerUpdateId('settled'),
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      });
      await cancelWhileBlocked(handle, gate);

      const answered = await answer.result().then(
        (view) => ({ view }),
        (error: unknown) => ({ error: String(error), cause: String((error as WorkflowUpdateFailedError).cause) }),
      );
      expect(answered).toMatchObject({ view: { status: 'CANCELLED', failure: { code: 'WORKFLOW_CANCELLED' } } });
      expect(b.hold).toBe('released');
      expect(b.booking).toBe('reversed');
    });

    it('during ledger: the attempt posts, so the transfer goes forward to COMPLETED (never CANCELLED), hold captured', async () => {
      let gate!: Gate;
      const { handle, books: b } = await startTransfer((tb) => (gate = tb.block('ledger')), CANCEL_MID_STEP);
      await cancelWhileBlocked(handle, gate);

      const { view: result, closedAs } = await closing(handle);
      expect(result).toMatchObject({ status: 'COMPLETED', failure: null });
      expect(result.steps).toMatchObject({ reserve: 'done', accounting: 'done', ledger: 'done', notify: 'done' });
      expect(b.hold).toBe('captured');
      expect(b.booking).toBe('booked');
      expect(b.statuses).not.toContain('CANCELLED');
      expect(b.log).not.toContain('releaseReserve:released');
      expect(b.rowStatus).toBe('COMPLETED');
      expect(closedAs).toBe('COMPLETED');
    });

    it('after a ledger attempt committed late (the step had timed out and parked): the hold is captured, so COMPLETED, booking kept', async () => {
      let gate!: Gate;
      const { handle, books: b } = await startTransfer((tb) => (gate = tb.block('ledger')));
      // every attempt outlives its 1 s: the step spends its budget and parks
      const parked = await waitForStatus(handle, 'NEEDS_ATTENTION');
      expect(parked.parked).toMatchObject({ step: 'ledger' });
      expect(b.hold).toBe('active');

      gate.release(); // the abandoned attempts commit now
      await until('the late ledger attempt captured the hold', () => b.hold === 'captured');
      await handle.cancel();

      const { view: result, closedAs } = await closing(handle);
      expect(result).toMatchObject({ status: 'COMPLETED', failure: null, parked: null });
      expect(result.steps).toMatchObject({ ledger: 'done', notify: 'done' });
      expect(b.log).toContain('releaseReserve:captured');
      expect(b.hold).toBe('captured');
      expect(b.booking).toBe('booked');
      expect(b.attempts.reverseAccounting).toBeUndefined();
      expect(b.statuses).not.toContain('CANCELLED');
      expect(b.rowStatus).toBe('COMPLETED');
      expect(closedAs).toBe('COMPLETED');
    });

    it('after a ledger attempt committed late, finance cancels: the cancel returns the COMPLETED transfer, booking kept, one audit row', async () => {
      let gate!: Gate;
      const { handle, books: b } = await startTransfer((tb) => (gate = tb.block('ledger')));
      await waitForStatus(handle, 'NEEDS_ATTENTION');
      gate.release();
      await until('the late ledger attempt captured the hold', () => b.hold === 'captured');

      const answer = await handle.executeUpdate(cancelUpdate, {
        args: [decision('ledger looks stuck')],
        updateId: 'finance-cancel',
      });
      expect(answer).toMatchObject({ status: 'COMPLETED', failure: null, parked: null });

      const { view: result, closedAs } = await closing(handle);
      expect(result.status).toBe('COMPLETED');
      expect(b.hold).toBe('captured');
      expect(b.booking).toBe('booked');
      expect(b.attempts.reverseAccounting).toBeUndefined();
      expect(b.audit).toHaveLength(1);
      expect(b.audit[0]).toMatchObject({ kind: 'cancel', updateId: 'finance-cancel', parkedStep: 'ledger' });
      expect(b.statuses).not.toContain('CANCELLED');
      expect(b.rowStatus).toBe('COMPLETED');
      expect(closedAs).toBe('COMPLETED');
    });

    /**
     * A worker died after its local activities committed but before their results reached the history, and
     * the workflow was cancelled meanwhile: the next worker starts from a history that shows no step done.
     */
    async function cancelledBeforeAnyRecordedStep(scriptBooks: (b: TransferBooks) => void) {
      const { transfer, books: b } = newTransfer();
      scriptBooks(b);
      const taskQueue = `no-worker-yet-${randomUUID()}`;
      const handle = await env.client.workflow.start(transferWorkflow, { ...startOptions(transfer), taskQueue });
      started.push(handle);
      await handle.cancel();
      const late = await createTimeSkippingWorker(env, { activities: books.activities, taskQueue });
      const { view } = await late.runUntil(closing(handle));
      return { view, books: b };
    }

    it('cancelled with the hold and the booking committed by a dead worker: the books decide, so both are undone (CANCELLED)', async () => {
      const { view, books: b } = await cancelledBeforeAnyRecordedStep((tb) => {
        tb.hold = 'active';
        tb.booking = 'booked';
        tb.write('ACCOUNTED');
      });
      expect(view).toMatchObject({ status: 'CANCELLED', failure: { code: 'WORKFLOW_CANCELLED' } });
      expect(b.hold).toBe('released');
      expect(b.booking).toBe('reversed');
      expect(b.rowStatus).toBe('CANCELLED');
    });

    it("cancelled after a dead worker's ledger step posted: the captured hold sends it forward to COMPLETED, booking kept", async () => {
      const { view, books: b } = await cancelledBeforeAnyRecordedStep((tb) => {
        tb.hold = 'captured';
        tb.booking = 'booked';
        tb.write('POSTED');
      });
      expect(view).toMatchObject({ status: 'COMPLETED', failure: null });
      expect(view.steps).toMatchObject({ reserve: 'done', accounting: 'done', ledger: 'done' });
      expect(b.log).toContain('releaseReserve:captured');
      expect(b.booking).toBe('booked');
      expect(b.attempts.reverseAccounting).toBeUndefined();
      expect(b.statuses).not.toContain('CANCELLED');
      expect(b.rowStatus).toBe('COMPLETED');
    });

    it('a reserve attempt that commits after finance cancelled finds the tombstone: the hold stays released', async () => {
      let gate!: Gate;
      const { handle, books: b } = await startTransfer((tb) => (gate = tb.block('reserve')));
      expect((await waitForStatus(handle, 'NEEDS_ATTENTION')).parked).toMatchObject({ step: 'reserve' });

      const answer = await handle.executeUpdate(cancelUpdate, { args: [decision('reserve never answered')] });
      expect(answer).toMatchObject({ status: 'CANCELLED', failure: { step: 'reserve', code: 'CANCELLED_BY_FINANCE' } });
      expect(b.hold).toBe('released');

      gate.release(); // the abandoned reserve attempts commit now
      await until('both late reserve attempts ran', () => b.log.filter((l) => l.startsWith('reserve:')).length === 2);
      expect(b.log).toEqual([
        'releaseReserve:tombstone',
        'reverseAccounting:tombstone',
        'reserve:tombstoned',
        'reserve:tombstoned',
      ]);
      expect(b.hold).toBe('released');
      expect((await handle.result()).status).toBe('CANCELLED');
    });
  });

  describe('business refusals', () => {
    it('refused at reserve (INSUFFICIENT_FUNDS): REJECTED, and the early answer (stage reserved) returns the REJECTED transfer', async () => {
      const { transfer, books: b } = newTransfer();
      b.refuse('reserve', 'INSUFFICIENT_FUNDS');
      const startWorkflowOperation = new WithStartWorkflowOperation(transferWorkflow, {
        ...startOptions(transfer),
        workflowIdConflictPolicy: 'FAIL',
      });
      const answer = await env.client.workflow.executeUpdateWithStart(transferAnswerUpdate, {
        args: ['reserved'],
        updateId: answerUpdateId('reserved'),
        startWorkflowOperation,
      });
      const handle = await startWorkflowOperation.workflowHandle();
      started.push(handle);

      expect(answer).toMatchObject({ status: 'REJECTED', failure: { step: 'reserve', code: 'INSUFFICIENT_FUNDS' } });
      const result = await handle.result();
      expect(result).toMatchObject({ status: 'REJECTED', failure: { step: 'reserve', code: 'INSUFFICIENT_FUNDS' } });
      expect(b.attempts.reserve).toBe(1); // a refusal is final: not retried
      expect(b.hold).toBe('released'); // the tombstone
      expect(b.booking).toBe('none');
      expect(b.attempts.accounting).toBeUndefined();
      expect(b.rowStatus).toBe('REJECTED');
    });

    it('refused at accounting (LIMIT_EXCEEDED): CANCELLED, hold released', async () => {
      const { handle, books: b } = await startTransfer((tb) => tb.refuse('accounting', 'LIMIT_EXCEEDED'));

      const result = await handle.result();
      expect(result).toMatchObject({ status: 'CANCELLED', failure: { step: 'accounting', code: 'LIMIT_EXCEEDED' } });
      expect(b.attempts.accounting).toBe(1);
      expect(b.hold).toBe('released');
      expect(b.booking).toBe('reversed'); // a tombstone: nothing was booked
      expect(b.log).toEqual([
        'reserve:held',
        'accounting:refused',
        'releaseReserve:released',
        'reverseAccounting:tombstone',
      ]);
      expect(b.attempts.ledger).toBeUndefined();
      expect(b.rowStatus).toBe('CANCELLED');
    });
  });
});

// ------------------------------------------------------------------ cross-shard transfers and store outages

function decoded(data: Uint8Array | null | undefined): unknown {
  return data ? JSON.parse(Buffer.from(data).toString('utf8')) : undefined;
}

/** The patch ids a history recorded (core_patch markers). */
function patchesOf(history: History): string[] {
  return (history.events ?? [])
    .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
    .map(
      (e) =>
        (decoded(e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data) as { id: string }).id,
    );
}

/** The summaries of the local activities (and timers) a history recorded, in order. */
function summariesOf(history: History): string[] {
  return (history.events ?? []).flatMap((e) => {
    const summary = decoded(e.userMetadata?.summary?.data);
    return typeof summary === 'string' ? [summary] : [];
  });
}

/** Every value the history upserted for a search attribute, in order (null: removed). */
function upsertsOf(history: History, name: string): unknown[] {
  return (history.events ?? []).flatMap((e) => {
    const fields = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields;
    if (!fields || !(name in fields)) return [];
    const value = decoded(fields[name]?.data);
    return [Array.isArray(value) ? (value[0] ?? null) : (value ?? null)];
  });
}

describe('a cross-shard transfer (time-skipping test server, stubbed activities)', () => {
  it('goes reserve → accounting → debit → credit → notify behind the cross-shard patch, each step summary naming its shard and database', async () => {
    const { handle, books: b, transfer } = await startTransfer(() => {}, { crossShard: true });
    const result = await handle.result();
    expect(result).toMatchObject({ status: 'COMPLETED', failure: null, parked: null });
    expect(result.steps).toEqual({
      reserve: 'done',
      accounting: 'done',
      debit: 'done',
      credit: 'done',
      notify: 'done',
    });
    expect(b.log).toEqual([
      'reserve:held',
      'accounting:booked',
      'debit:debited',
      'credit:credited',
      'notifyCrossShard:sent',
    ]);
    expect(b.statuses).toEqual(['RESERVED', 'ACCOUNTED', 'DEBITED', 'POSTED', 'COMPLETED']);
    expect(b.attempts.ledger).toBeUndefined();
    expect([b.debitEntries, b.creditEntries]).toEqual([1, 1]);

    const history = await handle.fetchHistory();
    expect(patchesOf(history)).toEqual(expect.arrayContaining(['saga-v2', 'cross-shard']));
    const { fromWalletId: from, toWalletId: to } = transfer;
    expect(summariesOf(history)).toEqual([
      `reserve 25.00 EUR on wallet ${from} on shard ${SENDER_SHARD} (db-0)`,
      'book 25.00 EUR in the accounting book (accounting)',
      `debit 25.00 EUR from wallet ${from} on shard ${SENDER_SHARD} (db-0)`,
      `credit 25.00 EUR to wallet ${to} on shard ${RECEIVER_SHARD} (db-1)`,
      `notify the sender on shard ${SENDER_SHARD} (db-0) and the receiver on shard ${RECEIVER_SHARD} (db-1)`,
    ]);
    // nothing was down: no timer, no WaitingOnStore
    expect(eventKinds(history)).not.toContain('timerStarted');
    expect(upsertsOf(history, 'WaitingOnStore')).toEqual([]);
  });

  it('a same-shard transfer never reaches the cross-shard patch: one ledger entry, the command sequence recorded before', async () => {
    const { handle, books: b } = await startTransfer();
    expect((await handle.result()).status).toBe('COMPLETED');
    expect(b.log).toEqual(['reserve:held', 'accounting:booked', 'ledger:posted', 'notify:sent']);
    expect(patchesOf(await handle.fetchHistory())).toEqual(['saga-v2']);
  });

  it('a credit the receiving shard refuses for good: booking reversed, money returned, RETURNED (never CANCELLED), the hold never released', async () => {
    const { handle, books: b } = await startTransfer((tb) => tb.refuse('credit', 'WALLET_NOT_ACTIVE'), {
      crossShard: true,
    });
    const result = await handle.result();
    expect(result).toMatchObject({
      status: 'RETURNED',
      failure: { step: 'credit', code: 'WALLET_NOT_ACTIVE' },
      parked: null,
    });
    expect(result.steps).toMatchObject({ debit: 'compensated', credit: 'failed', accounting: 'compensated' });
    expect(b.log).toEqual([
      'reserve:held',
      'accounting:booked',
      'debit:debited',
      'credit:refused',
      'reverseAccounting:reversed',
      'returnTransfer:WALLET_NOT_ACTIVE',
    ]);
    expect(b.attempts.credit).toBe(1); // a refusal is final
    expect(b.attempts.releaseReserve).toBeUndefined();
    expect([b.debitEntries, b.creditEntries, b.returnEntries]).toEqual([1, 0, 1]);
    expect(b.statuses).not.toContain('CANCELLED');
    expect(b.rowStatus).toBe('RETURNED');
  });

  it('a credit that spent its budget parks; finance cannot cancel it (TRANSFER_NOT_CANCELLABLE), a retry delivers it', async () => {
    const { handle, books: b } = await startTransfer((tb) => tb.fail('credit'), { crossShard: true });
    const parked = await waitForStatus(handle, 'NEEDS_ATTENTION');
    expect(parked).toMatchObject({
      parked: { step: 'credit' },
      failure: { step: 'credit', code: 'STEP_RETRIES_EXHAUSTED' },
    });

    const refused = await handle.executeUpdate(cancelUpdate, { args: [decision('customer changed their mind')] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refusalTypeOf(refused)).toBe(TRANSFER_NOT_CANCELLABLE);
    expect(((refused as WorkflowUpdateFailedError).cause as ApplicationFailure).message).toContain(
      'the debit is posted: the transfer can only go forward',
    );
    expect(await handle.query(transferStatusQuery)).toMatchObject({ status: 'NEEDS_ATTENTION', decisions: [] });

    b.heal('credit');
    const retried = await handle.executeUpdate(retryUpdate, { args: [decision('receiving shard is back')] });
    expect(retried.status).toBe('DEBITED');
    const result = await handle.result();
    expect(result).toMatchObject({ status: 'COMPLETED', failure: null, parked: null });
    expect(b.audit).toEqual([expect.objectContaining({ kind: 'retry', parkedStep: 'credit', status: 'DEBITED' })]);
    expect([b.debitEntries, b.creditEntries, b.returnEntries]).toEqual([1, 1, 0]);
    expect(b.attempts.releaseReserve).toBeUndefined();
    expect(b.attempts.reverseAccounting).toBeUndefined();
    expect(b.statuses).not.toContain('CANCELLED');
  });

  it("a parked credit's deadline cancels nothing: the credit is tried again, and lands once it can", async () => {
    const { handle, books: b } = await startTransfer((tb) => tb.fail('credit'), { crossShard: true });
    await waitForStatus(handle, 'NEEDS_ATTENTION');
    b.heal('credit');
    const result = await handle.result(); // the 72 hours are skipped
    expect(result).toMatchObject({ status: 'COMPLETED', failure: null, decisions: [] });
    expect(b.statuses).toEqual([
      'RESERVED',
      'ACCOUNTED',
      'DEBITED',
      'NEEDS_ATTENTION',
      'DEBITED',
      'POSTED',
      'COMPLETED',
    ]);
    expect(b.attempts.credit).toBe(3);
    expect([b.debitEntries, b.creditEntries]).toEqual([1, 1]);
    expect(b.attempts.releaseReserve).toBeUndefined();
  });

  it('a cancel of the workflow after the debit changes nothing: the credit runs on to COMPLETED', async () => {
    let gate!: Gate;
    const { handle, books: b } = await startTransfer((tb) => (gate = tb.block('credit')), {
      ...CANCEL_MID_STEP,
      crossShard: true,
    });
    await gate.entered;
    await handle.cancel();
    await waitUntilWorkflowSaw(handle, 'workflowExecutionCancelRequested');
    gate.release();
    const { view, closedAs } = await closing(handle);
    expect(view).toMatchObject({ status: 'COMPLETED', failure: null });
    expect(closedAs).toBe('COMPLETED');
    expect(b.attempts.releaseReserve).toBeUndefined();
    expect(b.creditEntries).toBe(1);
  });

  it('finance cancels a parked debit whose late attempt had posted: the captured hold sends it forward through the credit to COMPLETED', async () => {
    let gate!: Gate;
    const { handle, books: b } = await startTransfer((tb) => (gate = tb.block('debit')), { crossShard: true });
    expect((await waitForStatus(handle, 'NEEDS_ATTENTION')).parked).toMatchObject({ step: 'debit' });
    gate.release(); // the abandoned debit attempts commit now
    await until('the late debit captured the hold', () => b.hold === 'captured');

    const answer = await handle.executeUpdate(cancelUpdate, { args: [decision('debit looks stuck')] });
    expect(answer).toMatchObject({ status: 'COMPLETED', failure: null });
    expect(b.log).toEqual(expect.arrayContaining(['releaseReserve:captured', 'credit:credited']));
    expect([b.debitEntries, b.creditEntries]).toEqual([1, 1]);
    expect(b.attempts.reverseAccounting).toBeUndefined();
    expect(b.statuses).not.toContain('CANCELLED');
    expect(b.rowStatus).toBe('COMPLETED');
  });

  it('after a worker died between the credit and its result: the next worker runs the credit again, which lands once', async () => {
    const { transfer, books: b } = newTransfer({ crossShard: true });
    // what the dead worker had committed: held, booked, debited and credited, the row still DEBITED
    Object.assign(b, { hold: 'captured', booking: 'booked', debitEntries: 1, incoming: 'credited', creditEntries: 1 });
    b.write('DEBITED');
    const taskQueue = `no-worker-yet-${randomUUID()}`;
    const handle = await env.client.workflow.start(transferWorkflow, {
      ...startOptions(transfer, { crossShard: true }),
      taskQueue,
    });
    started.push(handle);
    const late = await createTimeSkippingWorker(env, { activities: books.activities, taskQueue });
    const result = await late.runUntil(handle.result());
    expect(result).toMatchObject({ status: 'COMPLETED', failure: null });
    expect(b.log).toEqual([
      'reserve:already-held',
      'accounting:already-booked',
      'debit:already-debited',
      'credit:already-credited',
      'notifyCrossShard:sent',
    ]);
    expect([b.debitEntries, b.creditEntries]).toEqual([1, 1]);
    expect(b.rowStatus).toBe('COMPLETED');
  });
});

describe('an unavailable database (time-skipping test server, stubbed activities)', () => {
  it("the credit waits out the receiver's database on durable timers: 'waiting', WaitingOnStore, never parked, no attempt spent", async () => {
    const { handle, books: b } = await startTransfer((tb) => tb.storeDown('credit', 'db-1'), { crossShard: true });
    const waiting = await until('the credit waits', () => b.log.includes('credit:store-unavailable')).then(async () => {
      for (;;) {
        const view = await handle.query(transferStatusQuery);
        if (view.steps.credit === 'waiting') return view;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
    expect(waiting).toMatchObject({ status: 'DEBITED', waitingOn: 'db-1', parked: null });
    const described = await handle.describe();
    expect(described.searchAttributes.WaitingOnStore).toEqual(['db-1']);

    // longer than the budget of 2 attempts would last: each call finds the database down at once
    await until('the credit was called 4 times', () => (b.attempts.credit ?? 0) >= 4, 30_000);
    expect((await handle.query(transferStatusQuery)).status).toBe('DEBITED');
    b.heal('credit');

    const result = await handle.result();
    expect(result).toMatchObject({ status: 'COMPLETED', failure: null, parked: null, waitingOn: null });
    expect(result.steps.credit).toBe('done');
    expect(b.statuses).not.toContain('NEEDS_ATTENTION');
    expect(b.creditEntries).toBe(1);
    const history = await handle.fetchHistory();
    const upserts = upsertsOf(history, 'WaitingOnStore');
    expect(upserts[0]).toBe('db-1');
    expect(upserts.at(-1)).toBeNull();
    // removed (this test server reports a removed keyword as [null])
    expect(((await handle.describe()).searchAttributes.WaitingOnStore ?? []).filter(Boolean)).toEqual([]);
  });

  it('a same-shard step waits the same way: three calls finding the database down spend none of its two attempts', async () => {
    const { handle, books: b } = await startTransfer((tb) => tb.storeDown('reserve', 'db-0', 3));
    const result = await handle.result();
    expect(result).toMatchObject({ status: 'COMPLETED', failure: null, parked: null });
    expect(b.log).toEqual([
      'reserve:store-unavailable',
      'reserve:store-unavailable',
      'reserve:store-unavailable',
      'reserve:held',
      'accounting:booked',
      'ledger:posted',
      'notify:sent',
    ]);
    expect(b.statuses).not.toContain('NEEDS_ATTENTION');
    const history = await handle.fetchHistory();
    // 1 s, 2 s, 4 s
    expect(eventKinds(history).filter((k) => k === 'timerStarted')).toHaveLength(3);
    expect(upsertsOf(history, 'WaitingOnStore')).toEqual(['db-0', null]);
  });

  it('compensations wait too: a refused accounting step whose release finds the database down ends CANCELLED once it is back', async () => {
    const { handle, books: b } = await startTransfer((tb) => {
      tb.refuse('accounting', 'LIMIT_EXCEEDED');
      tb.releaseStoreDown = 2;
    });
    const result = await handle.result();
    expect(result).toMatchObject({ status: 'CANCELLED', failure: { step: 'accounting', code: 'LIMIT_EXCEEDED' } });
    expect(b.log).toEqual([
      'reserve:held',
      'accounting:refused',
      'releaseReserve:store-unavailable',
      'releaseReserve:store-unavailable',
      'releaseReserve:released',
      'reverseAccounting:tombstone',
    ]);
    expect(b.hold).toBe('released');
    expect(upsertsOf(await handle.fetchHistory(), 'WaitingOnStore')).toEqual(['db-0', null]);
  });
});
