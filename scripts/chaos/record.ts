/**
 * What the chaos client saw and did, kept in memory during a run and handed to the checker: the
 * client's own record of the books (Jepsen's "history"), independent of what the service stores.
 * Times are epoch milliseconds.
 */

/** The faults that take a dependency away for a while (scheduled one at a time, in a seeded order). */
export const OUTAGES = [
  'temporal-kill',
  'postgres-stop',
  'shard-stop',
  'shard-freeze',
  'redis-kill',
  'api-kill',
  'accounting-outage',
] as const;
export type Outage = (typeof OUTAGES)[number];

/** Every fault a run injects: worker kills throughout, the outages, and the faults of the data and of people. */
export const FAULT_KINDS = [
  'worker-kill',
  ...OUTAGES,
  'wallet-freeze',
  'temporal-cancel',
  'finance-decisions',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** One injected fault: from when it was applied to when it was healed (instant faults: the same). */
export interface FaultEvent {
  kind: FaultKind;
  startedAt: number;
  healedAt: number | null;
  detail: string;
  /** the database a Postgres fault took away (`db-1`, `accounting`): whose outage it was */
  database?: string;
}

/** Every HTTP exchange the client made (including retries); `status` 0 = network error or timeout. */
export interface HttpEvent {
  at: number;
  method: string;
  route: string;
  status: number;
  /** the problem code of a 4xx/5xx answer (`SHARD_UNAVAILABLE`), when it had one */
  code?: string | null;
  /** how long the answer took */
  ms?: number;
}

export interface WalletRecord {
  id: string;
  ownerId: string;
  currency: string;
}

export interface DepositRecord {
  walletId: string;
  currency: string;
  amount: bigint;
  idempotencyKey: string;
  /** set once the API answered 201 (re-sent with the same key until it did) */
  depositId: string | null;
}

/** A definite (non-5xx) answer to a transfer request. */
export interface TransferAnswer {
  status: number;
  /** the transfer the answer names (202/200, or 422 refusal with transferId) */
  transferId: string | null;
  /** problem code of a 4xx */
  code: string | null;
}

export type TransferIntent = 'normal' | 'overdraft' | 'cross-currency' | 'to-frozen';

/**
 * Where a transfer's two wallets sit: in one logical shard (one journal entry), in two logical
 * shards of one database (clearing, both legs on that database), or on two databases.
 */
export type TransferRoute = 'same-shard' | 'cross-shard' | 'cross-database';

export interface TransferRequestRecord {
  callerId: string;
  idempotencyKey: string;
  fromWalletId: string;
  toWalletId: string;
  amount: bigint;
  /** the currency sent in the request (cross-currency requests name the sender's) */
  currency: string;
  intent: TransferIntent;
  route: TransferRoute;
  /**
   * The databases the transfer needs (`db-0`, `db-1`, `accounting`): its wallets' (the sender's also
   * holds the caller's idempotency record and the transfer row) and the accounting book's.
   */
  databases: string[];
  sentAt: number;
  /** every definite answer to this key and body, duplicates included (sent twice concurrently, retried) */
  answers: TransferAnswer[];
  /** true when this request was also sent a second time concurrently with the same key */
  duplicated: boolean;
  /** the answer to the same key re-sent with another body (must be refused, and move nothing) */
  reusedKeyAnswer: TransferAnswer | null;
}

export interface FinanceDecisionEvent {
  transferId: string;
  kind: 'retry' | 'cancel';
  at: number;
  /** HTTP status of the API's answer: 200/202 applied, 409 refused, 0/5xx unknown */
  status: number;
  code: string | null;
}

/** A cancel sent through Temporal (as from the UI), with the step the saga said it was in. */
export interface TemporalCancelEvent {
  transferId: string;
  at: number;
  /** from the workflow's `status` query just before: a running step, 'parked', or null if unknown */
  step: string | null;
  ok: boolean;
}

export interface ChaosRecord {
  seed: number;
  startedAt: number;
  /** the interval during which faults were injected */
  faultPhase: { from: number; to: number };
  wallets: WalletRecord[];
  deposits: DepositRecord[];
  transfers: TransferRequestRecord[];
  decisions: FinanceDecisionEvent[];
  temporalCancels: TemporalCancelEvent[];
  faults: FaultEvent[];
  http: HttpEvent[];
}

/** A record with nothing in it yet. */
export function emptyRecord(seed: number): ChaosRecord {
  const now = Date.now();
  return {
    seed,
    startedAt: now,
    faultPhase: { from: now, to: now },
    wallets: [],
    deposits: [],
    transfers: [],
    decisions: [],
    temporalCancels: [],
    faults: [],
    http: [],
  };
}
