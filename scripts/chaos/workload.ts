import { setTimeout as sleep } from 'node:timers/promises';
import { signToken } from '../../api/auth/tokens';
import type { Role } from '../../api/auth/roles';
import type { RequestBody, ResponseBody, Schemas } from '../../api/client';
import type { ChaosHttp, HttpAnswer } from './http';
import type { Random } from './random';
import { shardOfId, shardOfOwner } from '../../domain/shards';
import { ACCOUNTING_DATABASE, ownerWhere, type ShardLayout } from './layout';
import type {
  ChaosRecord,
  TransferAnswer,
  TransferIntent,
  TransferRequestRecord,
  TransferRoute,
  WalletRecord,
} from './record';

export const CURRENCIES = ['EUR', 'USD'] as const;
/** How long the client keeps re-sending one request before it parks it for the final re-send. */
const SEND_PATIENCE_MS = 60_000;

/** The bank the workload plays with, shared by the workload and the fault loops. */
export class Bank {
  readonly customers: string[] = [];
  readonly walletsOf = new Map<string, WalletRecord[]>();
  /** wallets frozen right now (by the wallet-freeze fault) */
  readonly frozen = new Set<string>();
  /** requests that got no definite answer in time: re-sent once the faults are over */
  readonly unanswered: Array<() => Promise<boolean>> = [];
  private readonly tokens = new Map<string, string>();

  constructor(
    readonly http: ChaosHttp,
    readonly record: ChaosRecord,
    private readonly jwtSecret: string,
    readonly layout: ShardLayout,
  ) {}

  token(sub: string, role: Role): string {
    const key = `${role}:${sub}`;
    let t = this.tokens.get(key);
    if (!t) {
      t = signToken({ sub, roles: [role] }, { secret: this.jwtSecret, ttlSeconds: 24 * 3600 });
      this.tokens.set(key, t);
    }
    return t;
  }
  get finance(): string {
    return this.token('chaos-finance', 'finance');
  }
  get admin(): string {
    return this.token('chaos-admin', 'admin');
  }
  get ops(): string {
    return this.token('chaos-ops', 'ops');
  }

  get wallets(): WalletRecord[] {
    return this.record.wallets;
  }
}

/** What the workload sends and reads, in the generated client's types (api/client): the document's shapes. */
type TransferBody = RequestBody<'/v1/transfers', 'post'>;
type TransferReply = Partial<Schemas['Transfer']> & Partial<Pick<Schemas['Problem'], 'code' | 'transferId'>>;

function answerOf(a: HttpAnswer): TransferAnswer {
  // a transfer (200/202), or a problem: a refusal by the saga (422) names the transfer in `transferId`
  const body = (a.body ?? {}) as TransferReply;
  const id = typeof body.id === 'string' ? body.id : typeof body.transferId === 'string' ? body.transferId : null;
  return { status: a.status, transferId: id, code: typeof body.code === 'string' ? body.code : null };
}

/**
 * The customers' owner ids, placed (by the id's hash) round-robin on the wallet shard databases; every
 * third round a customer shares the logical shard of the one a round before it on its database, so that
 * some transfers stay inside one logical shard (one journal entry) while the others cross logical shards
 * in one database or across two (clearing).
 */
export function customerOwners(layout: ShardLayout, customers: number): string[] {
  const owners: string[] = [];
  const used = new Set<number>();
  const n = layout.databaseCount;
  for (let i = 0; i < customers; i++) {
    const base = `chaos-customer-${i + 1}`;
    const database = layout.databases[i % n]!;
    const neighbour = Math.floor(i / n) % 3 === 1 ? owners[i - n] : undefined;
    const owner =
      neighbour === undefined
        ? ownerWhere(base, (shard) => !used.has(shard) && layout.databaseOfShard(shard) === database)
        : ownerWhere(base, (shard) => shard === shardOfOwner(neighbour));
    used.add(shardOfOwner(owner));
    owners.push(owner);
  }
  return owners;
}

/** Where a transfer between two wallets runs (domain/shards.ts: the logical shard is in each id). */
export function routeOf(layout: ShardLayout, fromWalletId: string, toWalletId: string): TransferRoute {
  if (shardOfId(fromWalletId) === shardOfId(toWalletId)) return 'same-shard';
  return layout.databaseOfWallet(fromWalletId) === layout.databaseOfWallet(toWalletId)
    ? 'cross-shard'
    : 'cross-database';
}

/** The databases a transfer needs: its wallets' and the accounting book's. */
export function databasesOf(layout: ShardLayout, fromWalletId: string, toWalletId: string): string[] {
  return [
    ...new Set([layout.databaseOfWallet(fromWalletId), layout.databaseOfWallet(toWalletId), ACCOUNTING_DATABASE]),
  ];
}

/**
 * Customers, each with a wallet per currency, funded by deposits (finance). Run before the faults:
 * a step that fails here fails the run.
 */
export async function openBank(bank: Bank, rng: Random, customers: number): Promise<void> {
  const deadline = () => Date.now() + SEND_PATIENCE_MS;
  for (const owner of customerOwners(bank.layout, customers)) {
    bank.customers.push(owner);
    const mine: WalletRecord[] = [];
    for (const currency of CURRENCIES) {
      const body: RequestBody<'/v1/wallets', 'post'> = { currency };
      const created = await bank.http.sendUntilDefinite('POST', '/v1/wallets', {
        token: bank.token(owner, 'customer'),
        body,
        route: 'POST /v1/wallets',
        deadline: deadline(),
      });
      const opened = created?.body as ResponseBody<'/v1/wallets', 'post', 201> | null | undefined;
      if (created?.status !== 201 || typeof opened?.id !== 'string') {
        throw new Error(`could not open a ${currency} wallet for ${owner}: ${JSON.stringify(created)}`);
      }
      const wallet = { id: opened.id, ownerId: owner, currency };
      mine.push(wallet);
      bank.record.wallets.push(wallet);
      await deposit(bank, wallet, BigInt(rng.int(100_000, 500_000)), deadline());
    }
    bank.walletsOf.set(owner, mine);
  }
}

/** A deposit, re-sent with its key until the API acknowledges it (or parked for the final re-send). */
export async function deposit(bank: Bank, wallet: WalletRecord, amount: bigint, deadline: number): Promise<void> {
  const rec = {
    walletId: wallet.id,
    currency: wallet.currency,
    amount,
    idempotencyKey: `dep-${crypto.randomUUID()}`,
    depositId: null as string | null,
  };
  bank.record.deposits.push(rec);
  const body: RequestBody<'/v1/wallets/{id}/deposits', 'post'> = {
    amount: Number(amount),
    reference: rec.idempotencyKey,
  };
  const attempt = async (until: number): Promise<boolean> => {
    const a = await bank.http.sendUntilDefinite('POST', `/v1/wallets/${wallet.id}/deposits`, {
      token: bank.finance,
      body,
      idempotencyKey: rec.idempotencyKey,
      route: 'POST /v1/wallets/:id/deposits',
      deadline: until,
    });
    if (!a) return false;
    const made = a.body as ResponseBody<'/v1/wallets/{id}/deposits', 'post', 201> | null;
    if (a.status !== 201 || typeof made?.id !== 'string')
      throw new Error(`deposit refused: ${a.status} ${JSON.stringify(a.body)}`);
    rec.depositId = made.id;
    return true;
  };
  if (!(await attempt(deadline))) bank.unanswered.push(() => attempt(Date.now() + SEND_PATIENCE_MS));
}

export interface WorkloadOptions {
  transfers: number;
  concurrency: number;
  /** transfers are spread over this many seconds (faster when the service cannot keep up is not tried) */
  seconds: number;
}

/**
 * Random transfers between the customers: mostly payable ones, some larger than the balance, some
 * across currencies, some to frozen wallets; across databases in both directions, across logical shards
 * of one database, and inside one logical shard; each with its own Idempotency-Key, re-sent with the
 * same key on a network error, a timeout or a 5xx; some sent twice at once; some keys reused with
 * another body.
 */
export async function runTransfers(
  bank: Bank,
  rng: Random,
  opts: WorkloadOptions,
  progress: (sent: number) => void,
): Promise<void> {
  const started = Date.now();
  const intervalMs = (opts.seconds * 1000) / opts.transfers;
  let next = 0;
  const loop = async (r: Random) => {
    for (;;) {
      const i = next++;
      if (i >= opts.transfers) return;
      const due = started + i * intervalMs;
      if (due > Date.now()) await sleep(due - Date.now());
      await oneTransfer(bank, r, i);
      progress(i + 1);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, () => loop(rng.fork())));
}

function chooseIntent(bank: Bank, rng: Random): TransferIntent {
  const x = rng.next();
  if (x < 0.06) return 'overdraft';
  if (x < 0.1) return 'cross-currency';
  if (x < 0.16 && bank.frozen.size > 0) return 'to-frozen';
  return 'normal';
}

/** The route a payable transfer is aimed at: mostly across databases, then across shards, some inside one. */
function chooseRoute(rng: Random): TransferRoute {
  const x = rng.next();
  return x < 0.45 ? 'cross-database' : x < 0.75 ? 'cross-shard' : 'same-shard';
}

/** A receiver in the sender's currency on the route wanted; any other customer's when that route has none. */
function chooseReceiver(bank: Bank, rng: Random, from: WalletRecord, route: TransferRoute): WalletRecord {
  const payable = bank.wallets.filter((w) => w.ownerId !== from.ownerId && w.currency === from.currency);
  const onRoute = payable.filter((w) => routeOf(bank.layout, from.id, w.id) === route);
  return rng.pick(onRoute.length > 0 ? onRoute : payable);
}

async function oneTransfer(bank: Bank, rng: Random, i: number): Promise<void> {
  const sender = rng.pick(bank.customers);
  const from = rng.pick(bank.walletsOf.get(sender)!);
  const intent = chooseIntent(bank, rng);
  const others = bank.wallets.filter((w) => w.ownerId !== sender);
  let to: WalletRecord;
  if (intent === 'cross-currency') to = rng.pick(others.filter((w) => w.currency !== from.currency));
  else if (intent === 'to-frozen') {
    const frozen = others.filter((w) => bank.frozen.has(w.id) && w.currency === from.currency);
    to = frozen.length > 0 ? rng.pick(frozen) : chooseReceiver(bank, rng, from, chooseRoute(rng));
  } else to = chooseReceiver(bank, rng, from, chooseRoute(rng));
  const amount = BigInt(intent === 'overdraft' ? rng.int(2_000_000, 5_000_000) : rng.int(1, 5_000));

  const rec: TransferRequestRecord = {
    callerId: sender,
    idempotencyKey: `tr-${i}-${crypto.randomUUID()}`,
    fromWalletId: from.id,
    toWalletId: to.id,
    amount,
    currency: from.currency,
    intent,
    route: routeOf(bank.layout, from.id, to.id),
    databases: databasesOf(bank.layout, from.id, to.id),
    sentAt: Date.now(),
    answers: [],
    duplicated: rng.chance(0.05),
    reusedKeyAnswer: null,
  };
  bank.record.transfers.push(rec);
  // the record keeps a currency as a string; every wallet was opened in one of CURRENCIES
  const currency = from.currency as Schemas['Currency'];
  const body: TransferBody = { fromWalletId: from.id, toWalletId: to.id, amount: Number(amount), currency };
  const send = async (until: number, payload: TransferBody = body): Promise<TransferAnswer | null> => {
    const a = await bank.http.sendUntilDefinite('POST', '/v1/transfers', {
      token: bank.token(sender, 'customer'),
      body: payload,
      idempotencyKey: rec.idempotencyKey,
      route: 'POST /v1/transfers',
      deadline: until,
    });
    return a ? answerOf(a) : null;
  };
  const attempt = async (until: number): Promise<boolean> => {
    const answer = await send(until);
    if (answer) rec.answers.push(answer);
    return answer !== null;
  };
  const deadline = Date.now() + SEND_PATIENCE_MS;
  const results = await Promise.all(rec.duplicated ? [attempt(deadline), attempt(deadline)] : [attempt(deadline)]);
  for (const ok of results) if (!ok) bank.unanswered.push(() => attempt(Date.now() + SEND_PATIENCE_MS));

  // the same key with another body: must be refused and must move nothing
  if (results[0] && rng.chance(0.03)) {
    const reused = await send(Date.now() + SEND_PATIENCE_MS, { ...body, amount: body.amount + 1 });
    rec.reusedKeyAnswer = reused ?? { status: 0, transferId: null, code: null };
  }
}

/** Re-sends every request still without a definite answer; false if any stays unanswered. */
export async function resendUnanswered(bank: Bank): Promise<number> {
  const pending = bank.unanswered.splice(0);
  const results = await Promise.all(pending.map((f) => f()));
  return results.filter((ok) => !ok).length;
}
