/**
 * The workflows' contract: what the API, the CLI scripts, the activities and the workflows themselves
 * agree on — payload types, the transfer workflow's messages (its query and updates) and the custom
 * search attributes. One module that every side imports (like the `shared.ts` of Temporal's samples);
 * the saga itself lives in transfer-saga.ts (and the frozen transfer-v1.ts).
 *
 * Bundled into the workflow sandbox: imports only @temporalio/workflow, @temporalio/common and pure
 * domain modules (eslint.config.mjs enforces it). The names of the query, the updates and the search
 * attributes are recorded in workflow histories: never rename them.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { RunSummary, RunTrigger } from '../domain/reconciliation/results';
import type { SagaStep, StepStates, TransferStatus } from '../domain/transfer-status';
import type { FinanceDecision, FinanceDecisionKind } from '../domain/transfers/transfer';

export type { FinanceDecision, FinanceDecisionKind };

// ------------------------------------------------------------------------------ transfer payloads

/** A transfer as it crosses the workflow/activity boundary: amounts are decimal strings (JSON has no bigint). */
export interface TransferPayload {
  transferId: string;
  fromWalletId: string;
  toWalletId: string;
  amountMinor: string;
  currency: string;
  description?: string | null;
}

/**
 * The failure type of a saga activity whose database is unavailable (activities/failures.ts asActivity),
 * its details `[{ store, retryAfterSeconds }]`: the saga waits for that database instead of retrying.
 */
export const STORE_UNAVAILABLE = 'STORE_UNAVAILABLE';

/** Saga timing, fixed by the API at start from its configuration and recorded in history. */
export interface SagaSettings {
  /**
   * v2: the retry budget of one step, in attempts. Only failed attempts count: time spent waiting for
   * a worker (an outage of every worker) spends nothing. When they are spent the transfer is parked.
   */
  stepMaxAttempts?: number;
  /** v1 only (workflows started before Saga v2): the step budget as a schedule-to-close time */
  stepBudgetSeconds?: number;
  /** one attempt of a step; an attempt that outlives it counts as failed and is retried */
  stepAttemptTimeoutSeconds: number;
  /** how long a parked transfer waits for finance before it is cancelled */
  parkDeadlineSeconds: number;
}

/**
 * Where a transfer's rows live, for the step summaries ops read in the Temporal UI (the workflow cannot
 * read the configuration): the database names of the sender's and receiver's logical shards and of the
 * accounting book (`db-0`, `db-1`, `accounting`). Set by sagaStart; absent from inputs recorded before.
 */
export interface TransferRoute {
  fromDatabase: string;
  toDatabase: string;
  accountingDatabase: string;
}

export interface TransferWorkflowInput {
  transfer: TransferPayload;
  settings: SagaSettings;
  route?: TransferRoute;
}

export interface TransferFailure {
  step?: SagaStep;
  code: string;
  reason: string;
}

export interface TransferView {
  status: TransferStatus;
  steps: StepStates;
  failure: TransferFailure | null;
  /** while NEEDS_ATTENTION: the step that exhausted its budget and when the deadline cancels it */
  parked: { step: SagaStep; since: string; deadline: string } | null;
  /** finance decisions as the workflow applied them (v2: each with the update that carried it) */
  decisions: Array<FinanceDecision & { kind: FinanceDecisionKind; at: string; updateId?: string }>;
  /** while the saga waits for a database that is unavailable: its name (also the WaitingOnStore search attribute) */
  waitingOn?: string | null;
}

/**
 * What the `answer` update waits for: `reserved` — the reserve step was decided (held, refused or
 * parked); `settled` — the transfer finished or is parked (Prefer: wait).
 */
export type AnswerStage = 'reserved' | 'settled';

// ------------------------------------------------------------------------------ transfer messages

/*
 * The transfer workflow's messages, for the workflow, the API and anyone who talks to it (the CLI,
 * the Temporal UI). Updates, not signals: the caller gets an outcome or a refusal.
 */

/** The saga as the workflow sees it: status, each step, the failure, the parking deadline, decisions. */
export const transferStatusQuery = defineQuery<TransferView>('status');

/**
 * The API's early answer (update-with-start): returns once the stage is reached. Sent with a fixed
 * update id per stage, so concurrent duplicates of one request share one update.
 */
export const transferAnswerUpdate = defineUpdate<TransferView, [AnswerStage]>('answer');
export const answerUpdateId = (stage: AnswerStage): string => `answer-${stage}`;

/**
 * Finance: re-run the step that exhausted its budget, with a fresh budget. Refused unless the
 * transfer is parked and no other decision is being applied. Returns the transfer once the step runs again.
 */
export const retryUpdate = defineUpdate<TransferView, [FinanceDecision]>('retry');
/**
 * Finance: give up on a parked transfer; compensations run. Same validation as retry, and refused
 * (TRANSFER_NOT_CANCELLABLE) once a cross-shard transfer's debit is posted. Returns the transfer once it is
 * CANCELLED (or COMPLETED, if the ledger had posted after all).
 */
export const cancelUpdate = defineUpdate<TransferView, [FinanceDecision]>('cancel');

/** The stable failure types a refused update carries (ApplicationFailure.type). */
export const TRANSFER_NOT_PARKED = 'TRANSFER_NOT_PARKED';
export const INVALID_DECISION = 'INVALID_DECISION';
/** A cancel of a cross-shard transfer whose debit is posted: it can only go forward (finance may retry it). */
export const TRANSFER_NOT_CANCELLABLE = 'TRANSFER_NOT_CANCELLABLE';

// ------------------------------------------------------------------------------ search attributes

// Custom search attributes (docs/architecture.md §4) so ops can find transfers in the Temporal UI,
// e.g. `TransferStatus = "NEEDS_ATTENTION" AND Currency = "EUR"`.
export const TransferStatusKey = defineSearchAttributeKey('TransferStatus', SearchAttributeType.KEYWORD);
export const FromWalletIdKey = defineSearchAttributeKey('FromWalletId', SearchAttributeType.KEYWORD);
export const ToWalletIdKey = defineSearchAttributeKey('ToWalletId', SearchAttributeType.KEYWORD);
export const AmountMinorKey = defineSearchAttributeKey('AmountMinor', SearchAttributeType.INT);
export const CurrencyKey = defineSearchAttributeKey('Currency', SearchAttributeType.KEYWORD);
// The logical shards of the two wallets (set at start): `FromShard != ToShard` finds the cross-shard transfers.
export const FromShardKey = defineSearchAttributeKey('FromShard', SearchAttributeType.INT);
export const ToShardKey = defineSearchAttributeKey('ToShard', SearchAttributeType.INT);
/** The database a saga waits for while it is unavailable (`db-1`, `accounting`); unset otherwise. */
export const WaitingOnStoreKey = defineSearchAttributeKey('WaitingOnStore', SearchAttributeType.KEYWORD);

export const transferSearchAttributes = [
  TransferStatusKey,
  FromWalletIdKey,
  ToWalletIdKey,
  AmountMinorKey,
  CurrencyKey,
  FromShardKey,
  ToShardKey,
  WaitingOnStoreKey,
];

// ------------------------------------------------------------------------- reconciliation payloads

export interface ReconciliationInput {
  trigger: RunTrigger;
  /** a manual run's id (the API returns it); a scheduled run draws its own */
  runId?: string;
  requestedBy?: string | null;
  /** rows per page (RECONCILIATION_PAGE_SIZE) */
  pageSize: number;
  /** history length after which the run continues as new (default 2000; the tests lower it) */
  maxHistoryEvents?: number;
  /** where a run continued-as-new goes on from */
  progress?: ReconciliationProgress;
}

/** Carried across continue-as-new: the check and page to go on from, and what was counted so far. */
export interface ReconciliationProgress {
  runId: string;
  check: number;
  after: string | null;
  summary: RunSummary;
  totals: Record<string, string>;
}

export interface ReconciliationResult extends RunSummary {
  runId: string;
}
