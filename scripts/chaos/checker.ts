import { setTimeout as sleep } from 'node:timers/promises';
import { readFile } from 'node:fs/promises';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Store } from '../../db/store';
import { clearingOwnerId, clearingWalletId, systemOwnerId, systemWalletId } from '../../domain/ids';
import { checkLedgerInvariants } from '../../domain/invariants';
import { shardOfId, shardOfOwner } from '../../domain/shards';
import { TERMINAL_STATUSES, type TransferStatus } from '../../domain/transfer-status';
import { transferStatusQuery } from '../../workflows/contract';
import type { ChaosRecord, TransferRequestRecord } from './record';

/**
 * The chaos run's checker (Jepsen's bank test): after the faults are healed and the sagas have
 * settled, compares the client's own record of what it did and was told with the final state as the
 * API, every database and the workflows report it. Each check is one row; every check runs even when
 * another fails, and a check that throws is reported as a row whose violation is the error. A
 * violation found in a database starts with that database's name (`db-1: …`).
 *
 * The book checks read the databases only (runBookChecks runs them alone). They are written here
 * rather than borrowed from the service (but for the reconciliation's own invariants, one row), so
 * that the auditor does not trust the code it audits.
 */

/** One database of the run, by the service's name for it (db/shards.ts): `db-0`, `db-1`, `accounting`. */
export interface ChaosDatabase {
  readonly name: string;
  readonly store: Store;
}

/** What the book checks read: every database, and where each logical shard lives. */
export interface BookInput {
  /** the wallet shard databases, by index (`db-0` first) */
  databases: readonly ChaosDatabase[];
  /** the accounting book's database: its own, or one of `databases` when it has none */
  accounting: ChaosDatabase;
  /** logical shard → index in `databases` (the service's SHARD_MAP) */
  shardMap: readonly number[];
}

export interface CheckInput extends BookInput {
  record: ChaosRecord;
  /** connected to the run's Temporal server (namespace default) */
  temporal: Client;
  apiUrl: string;
  /** an ops token: reads every transfer and wallet */
  staffToken: string;
  /** our node processes' logs (api, worker-1..3): each line should be JSON */
  logFiles: Array<{ name: string; path: string }>;
}

export interface CheckRow {
  name: string;
  checked: number;
  violations: string[];
}

export interface CheckOutcome {
  rows: CheckRow[];
  /** transferId -> status from the API */
  finalStatuses: Map<string, string>;
}

/** At most this many violations of a row are printed (all are counted). */
const SHOWN_VIOLATIONS = 20;
/** Workflow queries in flight at once. */
const QUERY_CONCURRENCY = 8;
const QUERY_TIMEOUT_MS = 10_000;
const HTTP_ATTEMPTS = 4;

/** The journal entries of a transfer between logical shards (clearing), and the one of a transfer inside one. */
const LEG_KINDS = ['transfer_debit', 'transfer_credit', 'transfer_return'] as const;

// ---- what the checks read: the API's final state, every database's rows ---------------------------

interface ApiWallet {
  id: string;
  currency: string;
  status: string;
  balance: bigint;
  held: bigint;
}

interface ApiTransfer {
  id: string;
  status: string;
  fromWalletId: string;
  toWalletId: string;
  amount: bigint;
  currency: string;
  workflowId: string;
}

interface DbTransfer {
  /** the database the row is on */
  database: string;
  id: string;
  callerId: string;
  idempotencyKey: string;
  status: string;
  workflowId: string;
  fromWalletId: string;
  toWalletId: string;
  amount: bigint;
  currency: string;
  failureCode: string | null;
}

interface EntryLine {
  walletId: string;
  /** customer, system or clearing (null: a line on a wallet that is not on this database) */
  walletKind: string | null;
  amount: bigint;
}

interface Entry {
  database: string;
  id: string;
  kind: string;
  transferId: string | null;
  currency: string;
  lines: EntryLine[];
}

interface Hold {
  database: string;
  walletId: string;
  status: string;
}

interface Incoming {
  database: string;
  status: string;
}

/** Every database's rows the book checks share, read once. */
interface Books {
  transfers: DbTransfer[];
  entries: Entry[];
  /** transfer id → its journal entries on every database */
  entriesOf: Map<string, Entry[]>;
  holdsOf: Map<string, Hold[]>;
  incomingOf: Map<string, Incoming[]>;
  /** transfer id → booking status, from the accounting database */
  bookings: Map<string, string>;
}

interface BookContext<I extends BookInput = BookInput> {
  input: I;
  /** every distinct database: the wallet shards', then the accounting book's if it has its own */
  all: readonly ChaosDatabase[];
  books: () => Promise<Books>;
  /** the name of the database a logical shard maps to */
  databaseOfShard: (logicalShard: number) => string;
}

interface Context extends BookContext<CheckInput> {
  /** every transfer the API lists, by id (read once, shared by the checks) */
  apiTransfers: () => Promise<Map<string, ApiTransfer>>;
  /** every wallet of the record as the API shows it, by id */
  apiWallets: () => Promise<Map<string, ApiWallet>>;
}

interface CheckResult {
  checked: number;
  violations: string[];
}

/** A lazily started, shared read: a failure fails each check that needs it, not the others. */
function once<T>(read: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => (result ??= read());
}

/**
 * Amounts are JSON integers (bigint in the service): JSON.parse would round those above 2^53, so
 * the amount fields are read as strings. A quote inside a JSON string is escaped (\"), so the
 * pattern cannot match in a description.
 */
function parseJsonKeepingAmounts(text: string): unknown {
  return JSON.parse(text.replace(/"(balance|held|available|amount)":(-?\d+)/g, '"$1":"$2"'));
}

function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${what} is not an object`);
  return value as Record<string, unknown>;
}

function stringField(o: Record<string, unknown>, key: string, what: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new Error(`${what}: ${key} is not a string`);
  return v;
}

function bigintField(o: Record<string, unknown>, key: string, what: string): bigint {
  const v = o[key];
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  throw new Error(`${what}: ${key} is not an integer amount`);
}

/** GET with the staff token; retried on 429, 502..504 and network errors (the run is healed, but a blip is no finding). */
async function getJson(input: CheckInput, path: string): Promise<unknown> {
  const url = new URL(path, input.apiUrl).toString();
  let failure = '';
  for (let attempt = 1; attempt <= HTTP_ATTEMPTS; attempt++) {
    if (attempt > 1) await sleep(250 * 2 ** (attempt - 2));
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { authorization: `Bearer ${input.staffToken}` },
        signal: AbortSignal.timeout(15_000),
      });
    } catch (err) {
      failure = (err as Error).message;
      continue;
    }
    const text = await res.text();
    if (res.ok) return parseJsonKeepingAmounts(text);
    failure = `${res.status} ${text.slice(0, 200)}`;
    if (![429, 502, 503, 504].includes(res.status)) break;
  }
  throw new Error(`GET ${path} failed: ${failure}`);
}

async function readApiTransfers(input: CheckInput): Promise<Map<string, ApiTransfer>> {
  const transfers = new Map<string, ApiTransfer>();
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const page = asRecord(await getJson(input, `/v1/transfers?limit=100${query}`), 'transfer page');
    const items = page.items;
    if (!Array.isArray(items)) throw new Error('transfer page: items is not an array');
    for (const item of items) {
      const o = asRecord(item, 'transfer');
      const what = `transfer ${String(o.id)}`;
      const t: ApiTransfer = {
        id: stringField(o, 'id', what),
        status: stringField(o, 'status', what),
        fromWalletId: stringField(o, 'fromWalletId', what),
        toWalletId: stringField(o, 'toWalletId', what),
        amount: bigintField(o, 'amount', what),
        currency: stringField(o, 'currency', what),
        workflowId: stringField(o, 'workflowId', what),
      };
      transfers.set(t.id, t);
    }
    cursor = typeof page.nextCursor === 'string' ? page.nextCursor : null;
  } while (cursor !== null);
  return transfers;
}

async function readApiWallets(input: CheckInput): Promise<Map<string, ApiWallet>> {
  const wallets = await mapLimit(input.record.wallets, QUERY_CONCURRENCY, async ({ id }) => {
    const o = asRecord(await getJson(input, `/v1/wallets/${id}`), `wallet ${id}`);
    const what = `wallet ${id}`;
    return {
      id: stringField(o, 'id', what),
      currency: stringField(o, 'currency', what),
      status: stringField(o, 'status', what),
      balance: bigintField(o, 'balance', what),
      held: bigintField(o, 'held', what),
    };
  });
  return new Map(wallets.map((w) => [w.id, w]));
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

async function readBooks(input: BookInput): Promise<Books> {
  const books: Books = {
    transfers: [],
    entries: [],
    entriesOf: new Map(),
    holdsOf: new Map(),
    incomingOf: new Map(),
    bookings: new Map(),
  };
  for (const db of input.databases) {
    const { rows: transfers } = await db.store.sql<{
      id: string;
      caller_id: string;
      idempotency_key: string;
      status: string;
      workflow_id: string;
      from_wallet_id: string;
      to_wallet_id: string;
      amount: string;
      currency: string;
      failure_code: string | null;
    }>(
      `SELECT id::text, caller_id, idempotency_key, status, workflow_id, from_wallet_id::text,
              to_wallet_id::text, amount::text, currency, failure_code FROM transfers ORDER BY seq`,
    );
    for (const r of transfers) {
      books.transfers.push({
        database: db.name,
        id: r.id,
        callerId: r.caller_id,
        idempotencyKey: r.idempotency_key,
        status: r.status,
        workflowId: r.workflow_id,
        fromWalletId: r.from_wallet_id,
        toWalletId: r.to_wallet_id,
        amount: BigInt(r.amount),
        currency: r.currency,
        failureCode: r.failure_code,
      });
    }
    const { rows: lines } = await db.store.sql<{
      entry_id: string;
      kind: string;
      transfer_id: string | null;
      currency: string;
      wallet_id: string | null;
      wallet_kind: string | null;
      amount: string | null;
    }>(
      `SELECT e.id::text AS entry_id, e.kind, e.transfer_id::text, e.currency, l.wallet_id::text,
              w.kind AS wallet_kind, l.amount::text
         FROM journal_entries e LEFT JOIN ledger_lines l ON l.entry_id = e.id LEFT JOIN wallets w ON w.id = l.wallet_id
        ORDER BY e.id, l.id`,
    );
    let entry: Entry | undefined;
    for (const r of lines) {
      if (entry?.id !== r.entry_id) {
        entry = {
          database: db.name,
          id: r.entry_id,
          kind: r.kind,
          transferId: r.transfer_id,
          currency: r.currency,
          lines: [],
        };
        books.entries.push(entry);
        if (entry.transferId !== null) push(books.entriesOf, entry.transferId, entry);
      }
      if (r.wallet_id !== null && r.amount !== null) {
        entry.lines.push({ walletId: r.wallet_id, walletKind: r.wallet_kind, amount: BigInt(r.amount) });
      }
    }
    const { rows: holds } = await db.store.sql<{ transfer_id: string; wallet_id: string; status: string }>(
      `SELECT transfer_id::text, wallet_id::text, status FROM holds`,
    );
    for (const h of holds)
      push(books.holdsOf, h.transfer_id, { database: db.name, walletId: h.wallet_id, status: h.status });
    const { rows: incoming } = await db.store.sql<{ transfer_id: string; status: string }>(
      `SELECT transfer_id::text, status FROM incoming_transfers`,
    );
    for (const i of incoming) push(books.incomingOf, i.transfer_id, { database: db.name, status: i.status });
  }
  const { rows: bookings } = await input.accounting.store.sql<{ transfer_id: string; status: string }>(
    `SELECT transfer_id::text, status FROM accounting_bookings`,
  );
  for (const b of bookings) books.bookings.set(b.transfer_id, b.status);
  return books;
}

/** `fn` over `items`, at most `limit` at a time, results in order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

const keyOf = (callerId: string, idempotencyKey: string) => `${callerId}\u0000${idempotencyKey}`;
const showKey = (r: { callerId: string; idempotencyKey: string }) => `${r.callerId}/${r.idempotencyKey}`;

function addTo(totals: Map<string, bigint>, key: string, amount: bigint): void {
  totals.set(key, (totals.get(key) ?? 0n) + amount);
}

/** The transfer ids the client was given, each with the request that got it (its own record of the transfer). */
function answeredTransfers(record: ChaosRecord): Map<string, TransferRequestRecord> {
  const answered = new Map<string, TransferRequestRecord>();
  for (const request of record.transfers) {
    for (const a of request.answers)
      if (a.transferId !== null && !answered.has(a.transferId)) answered.set(a.transferId, request);
  }
  return answered;
}

// ---- the checks -------------------------------------------------------------------------------

/** 1. Money is neither created nor lost: what customers hold, per currency, is what was deposited. */
async function checkTotals(c: Context): Promise<CheckResult> {
  const violations: string[] = [];
  const deposited = new Map<string, bigint>();
  for (const d of c.input.record.deposits) {
    if (d.depositId === null) {
      violations.push(
        `deposit ${d.idempotencyKey} of ${d.amount} ${d.currency} to wallet ${d.walletId} was never acknowledged`,
      );
    } else {
      addTo(deposited, d.currency, d.amount);
    }
  }
  const held = new Map<string, bigint>();
  const wallets = await c.apiWallets();
  for (const w of c.input.record.wallets) addTo(held, w.currency, wallets.get(w.id)?.balance ?? 0n);
  const currencies = new Set([...deposited.keys(), ...held.keys()]);
  for (const currency of currencies) {
    const balances = held.get(currency) ?? 0n;
    const deposits = deposited.get(currency) ?? 0n;
    if (balances !== deposits) {
      violations.push(
        `${currency}: customer balances total ${balances} <> acknowledged deposits ${deposits} (${balances - deposits > 0n ? '+' : ''}${balances - deposits})`,
      );
    }
  }
  return { checked: currencies.size, violations };
}

/** 2. No wallet is overdrawn, and after the run nothing is still held (every saga has finished). */
async function checkWalletBounds(c: Context): Promise<CheckResult> {
  const violations: string[] = [];
  const wallets = await c.apiWallets();
  for (const w of wallets.values()) {
    if (w.balance < 0n) violations.push(`wallet ${w.id}: negative balance ${w.balance}`);
    if (w.held < 0n) violations.push(`wallet ${w.id}: negative held ${w.held}`);
    if (w.held > w.balance) violations.push(`wallet ${w.id}: held ${w.held} > balance ${w.balance}`);
    else if (w.held !== 0n) violations.push(`wallet ${w.id}: ${w.held} still held at rest`);
  }
  return { checked: wallets.size, violations };
}

/**
 * 3. Each balance is what the client's own record says: its acknowledged deposits, plus the transfers
 * it was answered (with the amounts it asked for) that ended COMPLETED. An answered id the API does
 * not know is reported by the idempotency check.
 */
async function checkBalancesAgainstRecord(c: Context): Promise<CheckResult> {
  const { record } = c.input;
  const expected = new Map<string, bigint>(record.wallets.map((w) => [w.id, 0n]));
  for (const d of record.deposits) if (d.depositId !== null) addTo(expected, d.walletId, d.amount);
  const transfers = await c.apiTransfers();
  for (const [id, request] of answeredTransfers(record)) {
    if (transfers.get(id)?.status !== 'COMPLETED') continue;
    addTo(expected, request.fromWalletId, -request.amount);
    addTo(expected, request.toWalletId, request.amount);
  }
  const wallets = await c.apiWallets();
  const violations: string[] = [];
  for (const [walletId, want] of expected) {
    const w = wallets.get(walletId);
    if (!w) violations.push(`wallet ${walletId} is moved by the record but is not one of its wallets`);
    else if (w.balance !== want)
      violations.push(`wallet ${walletId}: balance ${w.balance} <> ${want} by the client's record`);
  }
  return { checked: expected.size, violations };
}

/** 4. Idempotency: one transfer per (caller, key), the same id in every answer, nothing nobody asked for. */
async function checkIdempotency(c: Context): Promise<CheckResult> {
  const { record } = c.input;
  const violations: string[] = [];
  const rowsByKey = new Map<string, DbTransfer[]>();
  for (const row of (await c.books()).transfers) push(rowsByKey, keyOf(row.callerId, row.idempotencyKey), row);
  const apiTransfers = await c.apiTransfers();
  const requested = new Set<string>();
  const keyOfId = new Map<string, string>();

  for (const r of record.transfers) {
    const key = keyOf(r.callerId, r.idempotencyKey);
    requested.add(key);
    const rows = rowsByKey.get(key) ?? [];
    if (rows.length > 1)
      violations.push(
        `key ${showKey(r)}: ${rows.length} transfers rows (${rows.map((x) => `${x.id} on ${x.database}`).join(', ')})`,
      );
    if (r.answers.length === 0) violations.push(`key ${showKey(r)}: no definite answer`);
    const ids = [...new Set(r.answers.flatMap((a) => (a.transferId === null ? [] : [a.transferId])))];
    if (ids.length > 1) violations.push(`key ${showKey(r)}: answered with ${ids.length} ids (${ids.join(', ')})`);
    for (const id of ids) {
      const other = keyOfId.get(id);
      if (other !== undefined && other !== key) violations.push(`transfer ${id} answered to two keys`);
      keyOfId.set(id, key);
    }
    const [id] = ids;
    const [row] = rows;
    if (ids.length === 1 && id !== undefined) {
      if (!row) violations.push(`key ${showKey(r)}: answered transfer ${id} but there is no transfers row`);
      else if (row.id !== id) violations.push(`key ${showKey(r)}: answered ${id} but the row is ${row.id}`);
      const t = apiTransfers.get(id);
      if (!t) violations.push(`key ${showKey(r)}: answered transfer ${id} is not in the API's list`);
      else if (t.fromWalletId !== r.fromWalletId || t.toWalletId !== r.toWalletId || t.amount !== r.amount) {
        violations.push(
          `transfer ${id}: ${t.fromWalletId}->${t.toWalletId} ${t.amount}, requested ${r.fromWalletId}->${r.toWalletId} ${r.amount}`,
        );
      }
    }
    const reused = r.reusedKeyAnswer;
    // A key whose request was refused before anything was recorded (the early 422 of a receiver that is
    // missing, frozen or in another currency: no transfer id) was never spent: its reuse is a new request,
    // answered on its own merits. Only a key that named a transfer must refuse another body.
    if (reused && ids.length > 0) {
      if (reused.status !== 422 || reused.code !== 'IDEMPOTENCY_KEY_REUSED') {
        violations.push(
          `key ${showKey(r)} reused with another body: answered ${reused.status} ${reused.code ?? ''}, not 422 IDEMPOTENCY_KEY_REUSED`,
        );
      }
      if (reused.transferId !== null && reused.transferId !== id) {
        violations.push(`key ${showKey(r)} reused with another body: answered another transfer ${reused.transferId}`);
      }
    }
  }
  for (const rows of rowsByKey.values()) {
    for (const row of rows) {
      if (!requested.has(keyOf(row.callerId, row.idempotencyKey))) {
        violations.push(`transfer ${row.id} (${showKey(row)}) was never requested by the client`);
      }
    }
  }
  return { checked: record.transfers.length, violations };
}

/** 5. After the run every saga has ended, and the databases say what the API says. */
async function checkAllTerminal(c: Context): Promise<CheckResult> {
  const violations: string[] = [];
  const apiTransfers = await c.apiTransfers();
  for (const t of apiTransfers.values()) {
    if (!TERMINAL_STATUSES.includes(t.status as TransferStatus)) violations.push(`transfer ${t.id} is ${t.status}`);
  }
  const rowsOf = new Map<string, DbTransfer[]>();
  for (const row of (await c.books()).transfers) push(rowsOf, row.id, row);
  for (const [id, rows] of rowsOf) {
    if (rows.length > 1)
      violations.push(`transfer ${id} has a row on each of ${rows.map((r) => r.database).join(', ')}`);
    for (const row of rows) {
      const t = apiTransfers.get(id);
      if (!t) {
        violations.push(`${row.database}: transfer ${id} (${row.status}) is in the database but not in the API's list`);
      } else if (t.status !== row.status) {
        violations.push(`${row.database}: transfer ${id}: API says ${t.status}, database ${row.status}`);
      }
    }
  }
  for (const id of apiTransfers.keys())
    if (!rowsOf.has(id)) violations.push(`transfer ${id} is listed by the API but has no row on any database`);
  return { checked: apiTransfers.size, violations };
}

// ---- the book checks: every database, read directly ---------------------------------------------

const sumOf = (amounts: bigint[]) => amounts.reduce((a, b) => a + b, 0n);
/** What an entry moves on one wallet. */
const movedOn = (e: Entry, walletId: string) =>
  sumOf(e.lines.filter((l) => l.walletId === walletId).map((l) => l.amount));
const clearingIn = (e: Entry) => sumOf(e.lines.filter((l) => l.walletKind === 'clearing').map((l) => l.amount));
const describeEntries = (entries: Entry[]) =>
  entries.length === 0
    ? 'none'
    : entries
        .map((e) => `${e.kind} on ${e.database}`)
        .sort()
        .join(', ');

/**
 * 6. Every row sits on the database its logical shard maps to (db/shards.ts, "where each row lives"):
 * wallets (a customer's on its owner's shard; each shard's system and clearing accounts under their
 * own ids), transfers (on their sender's, which the id carries), incoming credits (the receiver's),
 * idempotency records (the caller's), audit rows and notifications (their wallet's or transfer's); the
 * accounting book alone on its database. A row on the wrong database is one the service cannot find.
 */
async function checkPlacement(c: BookContext): Promise<CheckResult> {
  const violations: string[] = [];
  let checked = 0;
  const { databases, accounting } = c.input;
  const misplaced = (db: string, what: string, logicalShard: number) => {
    const home = c.databaseOfShard(logicalShard);
    if (home !== db) violations.push(`${db}: ${what} (logical shard ${logicalShard}) belongs on ${home}`);
  };
  for (const db of databases) {
    const { rows: wallets } = await db.store.sql<{ id: string; owner_id: string; kind: string; currency: string }>(
      `SELECT id::text, owner_id, kind, currency FROM wallets`,
    );
    for (const w of wallets) {
      const shard = shardOfId(w.id);
      misplaced(db.name, `${w.kind} wallet ${w.id}`, shard);
      if (w.kind === 'customer' && shardOfOwner(w.owner_id) !== shard) {
        violations.push(
          `${db.name}: wallet ${w.id} is on logical shard ${shard}, its owner ${w.owner_id}'s is ${shardOfOwner(w.owner_id)}`,
        );
      }
      const [id, owner] =
        w.kind === 'system'
          ? [systemWalletId(w.currency, shard), systemOwnerId(w.currency, shard)]
          : w.kind === 'clearing'
            ? [clearingWalletId(w.currency, shard), clearingOwnerId(w.currency, shard)]
            : [w.id, w.owner_id];
      if (w.id !== id || w.owner_id !== owner) {
        violations.push(
          `${db.name}: ${w.kind} account ${w.id} (${w.owner_id}) is not logical shard ${shard}'s ${owner}`,
        );
      }
    }
    checked += wallets.length;

    const { rows: incoming } = await db.store.sql<{ transfer_id: string; to_wallet_id: string }>(
      `SELECT transfer_id::text, to_wallet_id::text FROM incoming_transfers`,
    );
    for (const i of incoming)
      misplaced(db.name, `incoming credit of transfer ${i.transfer_id}`, shardOfId(i.to_wallet_id));
    checked += incoming.length;

    const { rows: callers } = await db.store.sql<{ caller_id: string; n: string }>(
      `SELECT caller_id, count(*)::text AS n FROM idempotency_records GROUP BY caller_id`,
    );
    for (const r of callers)
      misplaced(db.name, `${r.n} idempotency record(s) of caller ${r.caller_id}`, shardOfOwner(r.caller_id));
    checked += callers.length;

    const { rows: audit } = await db.store.sql<{ target_type: string; target_id: string; n: string }>(
      `SELECT target_type, target_id::text, count(*)::text AS n FROM audit_log GROUP BY 1, 2`,
    );
    for (const a of audit)
      misplaced(db.name, `${a.n} audit row(s) of ${a.target_type} ${a.target_id}`, shardOfId(a.target_id));
    checked += audit.length;

    const { rows: notifications } = await db.store.sql<{ kind: string; transfer_id: string; wallet_id: string }>(
      `SELECT kind, transfer_id::text, wallet_id::text FROM notifications`,
    );
    for (const n of notifications) {
      misplaced(db.name, `${n.kind} notification of transfer ${n.transfer_id}`, shardOfId(n.wallet_id));
    }
    checked += notifications.length;

    if (accounting.name !== db.name) {
      const { rows } = await db.store.sql<{ n: number }>(`SELECT count(*)::int AS n FROM accounting_bookings`);
      const n = rows[0]?.n ?? 0;
      if (n > 0) violations.push(`${db.name}: ${n} accounting booking(s), which belong on ${accounting.name}`);
    }
  }
  for (const t of (await c.books()).transfers) {
    misplaced(t.database, `transfer ${t.id}`, shardOfId(t.id));
    if (shardOfId(t.id) !== shardOfId(t.fromWalletId)) {
      violations.push(
        `${t.database}: transfer ${t.id} carries logical shard ${shardOfId(t.id)}, its sender ${t.fromWalletId} is on ${shardOfId(t.fromWalletId)}`,
      );
    }
    checked += 1;
  }
  if (!databases.some((db) => db.name === accounting.name)) {
    const { rows } = await accounting.store.sql<{ what: string; n: number }>(
      `SELECT 'wallets' AS what, count(*)::int AS n FROM wallets UNION ALL
       SELECT 'transfers', count(*)::int FROM transfers UNION ALL
       SELECT 'journal entries', count(*)::int FROM journal_entries`,
    );
    for (const r of rows) {
      if (r.n > 0)
        violations.push(`${accounting.name}: ${r.n} ${r.what}, on the database of the accounting book alone`);
    }
  }
  return { checked, violations };
}

/**
 * 7. Each database's ledger sums to zero per currency, and so does each logical shard's book in it:
 * no entry crosses a logical shard (a transfer between two is carried by clearing accounts, one entry
 * on each side), so a logical shard can move to another database with its rows alone.
 */
async function checkZeroSum(c: BookContext): Promise<CheckResult> {
  const violations: string[] = [];
  let checked = 0;
  for (const db of c.input.databases) {
    const { rows: totals } = await db.store.sql<{ currency: string; total: string }>(
      `SELECT currency, sum(amount)::text AS total FROM ledger_lines GROUP BY currency ORDER BY currency`,
    );
    for (const t of totals)
      if (BigInt(t.total) !== 0n) violations.push(`${db.name}: ${t.currency} lines sum to ${t.total}`);
    checked += totals.length;
    const { rows: shards } = await db.store.sql<{ shard: number; currency: string; total: string }>(
      `SELECT logical_shard(wallet_id) AS shard, currency, sum(amount)::text AS total FROM ledger_lines
        GROUP BY 1, 2 HAVING sum(amount) <> 0 ORDER BY 1, 2`,
    );
    for (const t of shards) {
      violations.push(`${db.name}: logical shard ${t.shard}: ${t.currency} lines sum to ${t.total}`);
    }
    const { rows: spanning } = await db.store.sql<{ id: string; kind: string; shards: string }>(
      `SELECT e.id::text, e.kind,
              array_to_string(array_agg(DISTINCT logical_shard(l.wallet_id) ORDER BY logical_shard(l.wallet_id)), ', ') AS shards
         FROM journal_entries e JOIN ledger_lines l ON l.entry_id = e.id
        GROUP BY e.id, e.kind HAVING count(DISTINCT logical_shard(l.wallet_id)) > 1`,
    );
    for (const e of spanning) violations.push(`${db.name}: ${e.kind} entry ${e.id} spans logical shards ${e.shards}`);
  }
  return { checked, violations };
}

/**
 * 8. Each database's own books: a balance is the sum of its wallet's lines and its latest balance_after,
 * held is the sum of its active holds, an entry balances over at least two lines; the accounting book
 * balances per currency.
 */
async function checkBooks(c: BookContext): Promise<CheckResult> {
  const violations: string[] = [];
  let checked = 0;
  for (const db of c.all) {
    const { rows } = await db.store.sql<{ what: string; subject: string; detail: string }>(
      `SELECT 'balance <> its lines' AS what, w.id::text AS subject, w.balance || ' <> ' || coalesce(s.total, 0) AS detail
         FROM wallets w LEFT JOIN (SELECT wallet_id, sum(amount) AS total FROM ledger_lines GROUP BY wallet_id) s
           ON s.wallet_id = w.id WHERE w.balance <> coalesce(s.total, 0)
       UNION ALL
       SELECT 'balance <> latest balance_after', w.id::text, w.balance || ' <> ' || l.balance_after
         FROM wallets w JOIN LATERAL (SELECT balance_after FROM ledger_lines WHERE wallet_id = w.id
                                       ORDER BY id DESC LIMIT 1) l ON true WHERE l.balance_after <> w.balance
       UNION ALL
       SELECT 'held <> its active holds', w.id::text, w.held || ' <> ' || coalesce(h.total, 0)
         FROM wallets w LEFT JOIN (SELECT wallet_id, sum(amount) AS total FROM holds WHERE status = 'active'
                                    GROUP BY wallet_id) h ON h.wallet_id = w.id WHERE w.held <> coalesce(h.total, 0)
       UNION ALL
       SELECT 'entry does not balance', e.id::text, coalesce(sum(l.amount), 0) || ' over ' || count(l.id) || ' line(s)'
         FROM journal_entries e LEFT JOIN ledger_lines l ON l.entry_id = e.id
        GROUP BY e.id HAVING coalesce(sum(l.amount), 0) <> 0 OR count(l.id) < 2
       UNION ALL
       SELECT 'the accounting book does not balance', currency, sum(amount)::text FROM accounting_lines
        GROUP BY currency HAVING sum(amount) <> 0`,
    );
    for (const r of rows) violations.push(`${db.name}: ${r.what}: ${r.subject} (${r.detail})`);
    const { rows: counted } = await db.store.sql<{ n: number }>(
      `SELECT ((SELECT count(*) FROM wallets) + (SELECT count(*) FROM journal_entries))::int AS n`,
    );
    checked += counted[0]?.n ?? 0;
  }
  return { checked, violations };
}

/** 9. Clearing accounts carry money in transit only: across the databases they net to zero at rest, per currency. */
async function checkClearingNet(c: BookContext): Promise<CheckResult> {
  const net = new Map<string, bigint>();
  const accounts = new Map<string, string[]>();
  let checked = 0;
  for (const db of c.input.databases) {
    const { rows } = await db.store.sql<{ owner_id: string; currency: string; balance: string }>(
      `SELECT owner_id, currency, balance::text FROM wallets WHERE kind = 'clearing' ORDER BY owner_id`,
    );
    for (const r of rows) {
      addTo(net, r.currency, BigInt(r.balance));
      if (BigInt(r.balance) !== 0n) push(accounts, r.currency, `${db.name} ${r.owner_id} ${r.balance}`);
    }
    checked += rows.length;
  }
  const violations = [...net]
    .filter(([, total]) => total !== 0n)
    .map(
      ([currency, total]) =>
        `${currency}: clearing accounts net to ${total} across the databases (${(accounts.get(currency) ?? []).join(', ')})`,
    );
  return { checked, violations };
}

/**
 * 10. No money left in clearing: every debit into a clearing account has left it again, by the credit
 * on the receiver's database or the return on the sender's (exactly one of them); clearing accounts move
 * only by these legs, and every leg goes through one.
 */
async function checkClearingEmpty(c: BookContext): Promise<CheckResult> {
  const violations: string[] = [];
  const books = await c.books();
  const withLegs = new Set<string>();
  for (const e of books.entries) {
    const legKind = (LEG_KINDS as readonly string[]).includes(e.kind);
    const touchesClearing = e.lines.some((l) => l.walletKind === 'clearing');
    if (touchesClearing && !legKind) violations.push(`${e.database}: ${e.kind} entry ${e.id} moves a clearing account`);
    if (legKind && !touchesClearing) {
      violations.push(
        `${e.database}: ${e.kind} entry ${e.id} of transfer ${e.transferId} bypasses the clearing accounts`,
      );
    }
    if (legKind && e.transferId !== null) withLegs.add(e.transferId);
  }
  for (const transferId of withLegs) {
    const legs = (books.entriesOf.get(transferId) ?? []).filter((e) =>
      (LEG_KINDS as readonly string[]).includes(e.kind),
    );
    const count = (kind: string) => legs.filter((e) => e.kind === kind).length;
    const left = sumOf(legs.map(clearingIn));
    const [debits, credits, returns] = [count('transfer_debit'), count('transfer_credit'), count('transfer_return')];
    if (left !== 0n) {
      violations.push(
        `transfer ${transferId}: ${left} ${legs[0]?.currency ?? ''} left in clearing (${describeEntries(legs)})`,
      );
    }
    if (debits !== 1 || credits + returns !== 1) {
      violations.push(
        `transfer ${transferId}: ${debits} debit(s), ${credits} credit(s), ${returns} return(s): one debit and one credit or return expected (${describeEntries(legs)})`,
      );
    }
  }
  return { checked: withLegs.size, violations };
}

/** What a transfer row left behind, from every database, for the per-status checks. */
function factsOf(books: Books, t: DbTransfer) {
  const entries = books.entriesOf.get(t.id) ?? [];
  const holds = books.holdsOf.get(t.id) ?? [];
  const incoming = books.incomingOf.get(t.id) ?? [];
  return {
    entries,
    of: (kind: string) => entries.filter((e) => e.kind === kind),
    holds,
    incoming,
    booking: books.bookings.get(t.id),
    crossShard: shardOfId(t.fromWalletId) !== shardOfId(t.toWalletId),
  };
}

/** The hold of a transfer that moved money: one, captured, on its sender's database. */
function capturedHold(t: DbTransfer, holds: Hold[], senderDb: string): string[] {
  const [hold, ...more] = holds;
  if (!hold) return [`${t.status} transfer ${t.id}: hold missing, not captured`];
  const out: string[] = [];
  if (more.length > 0) out.push(`${t.status} transfer ${t.id}: holds on ${holds.map((h) => h.database).join(', ')}`);
  if (hold.status !== 'captured') out.push(`${t.status} transfer ${t.id}: hold ${hold.status}, not captured`);
  if (hold.database !== senderDb) out.push(`${t.status} transfer ${t.id}: hold on ${hold.database}, not ${senderDb}`);
  return out;
}

/** 11. A transfer that did not happen left nothing behind, on any database. */
async function checkUnwound(c: BookContext): Promise<CheckResult> {
  const books = await c.books();
  const violations: string[] = [];
  const unwound = books.transfers.filter((t) => t.status === 'CANCELLED' || t.status === 'REJECTED');
  for (const t of unwound) {
    const f = factsOf(books, t);
    if (f.entries.length > 0) {
      violations.push(
        `${t.status} transfer ${t.id}: ${f.entries.length} journal entries (${describeEntries(f.entries)})`,
      );
    }
    const live = f.holds.filter((h) => h.status !== 'released');
    if (live.length > 0)
      violations.push(`${t.status} transfer ${t.id}: hold still ${live.map((h) => h.status).join(',')}`);
    if (f.booking === 'booked') violations.push(`${t.status} transfer ${t.id}: accounting booking not reversed`);
    for (const i of f.incoming.filter((x) => x.status === 'credited')) {
      violations.push(`${t.status} transfer ${t.id}: credited on ${i.database}`);
    }
  }
  return { checked: unwound.length, violations };
}

/** 12. A transfer inside one logical shard that happened did so exactly once: one entry, a captured hold, one booking. */
async function checkCompletedSameShard(c: BookContext): Promise<CheckResult> {
  const books = await c.books();
  const violations: string[] = [];
  const completed = books.transfers.filter((t) => t.status === 'COMPLETED' && !factsOf(books, t).crossShard);
  for (const t of completed) {
    const f = factsOf(books, t);
    const senderDb = c.databaseOfShard(shardOfId(t.fromWalletId));
    const [entry] = f.entries;
    if (f.entries.length !== 1 || entry?.kind !== 'transfer' || entry.database !== senderDb) {
      violations.push(
        `COMPLETED transfer ${t.id}: ${f.entries.length} journal entries (${describeEntries(f.entries)}), one transfer entry on ${senderDb} expected`,
      );
    } else if (movedOn(entry, t.fromWalletId) !== -t.amount || movedOn(entry, t.toWalletId) !== t.amount) {
      violations.push(`COMPLETED transfer ${t.id}: its entry does not move ${t.amount} from sender to receiver`);
    }
    violations.push(...capturedHold(t, f.holds, senderDb));
    if (f.booking !== 'booked')
      violations.push(`COMPLETED transfer ${t.id}: accounting booking ${f.booking ?? 'missing'}`);
  }
  return { checked: completed.length, violations };
}

/**
 * 13. A transfer between logical shards that happened: exactly one debit (sender → clearing) on the
 * sender's database and one credit (clearing → receiver) on the receiver's, its 'credited' incoming
 * row there, nothing else in the journal, a captured hold, one booking.
 */
async function checkCompletedCrossShard(c: BookContext): Promise<CheckResult> {
  const books = await c.books();
  const violations: string[] = [];
  const completed = books.transfers.filter((t) => t.status === 'COMPLETED' && factsOf(books, t).crossShard);
  for (const t of completed) {
    const f = factsOf(books, t);
    const senderDb = c.databaseOfShard(shardOfId(t.fromWalletId));
    const receiverDb = c.databaseOfShard(shardOfId(t.toWalletId));
    const what = `COMPLETED transfer ${t.id} (${senderDb} → ${receiverDb})`;
    const debits = f.of('transfer_debit');
    const credits = f.of('transfer_credit');
    if (debits.length !== 1 || debits[0]?.database !== senderDb) {
      violations.push(`${what}: ${debits.length} debit(s) (${describeEntries(debits)}), one on ${senderDb} expected`);
    } else if (movedOn(debits[0], t.fromWalletId) !== -t.amount) {
      violations.push(`${what}: its debit does not take ${t.amount} from the sender`);
    }
    if (credits.length !== 1 || credits[0]?.database !== receiverDb) {
      violations.push(
        `${what}: ${credits.length} credit(s) (${describeEntries(credits)}), one on ${receiverDb} expected`,
      );
    } else if (movedOn(credits[0], t.toWalletId) !== t.amount) {
      violations.push(`${what}: its credit does not give ${t.amount} to the receiver`);
    }
    const others = f.entries.filter((e) => e.kind !== 'transfer_debit' && e.kind !== 'transfer_credit');
    if (others.length > 0) violations.push(`${what}: other journal entries (${describeEntries(others)})`);
    const [incoming] = f.incoming;
    if (f.incoming.length !== 1 || incoming?.status !== 'credited' || incoming.database !== receiverDb) {
      violations.push(
        `${what}: incoming rows ${f.incoming.map((i) => `${i.status} on ${i.database}`).join(', ') || 'none'}, one credited on ${receiverDb} expected`,
      );
    }
    violations.push(...capturedHold(t, f.holds, senderDb));
    if (f.booking !== 'booked') violations.push(`${what}: accounting booking ${f.booking ?? 'missing'}`);
  }
  return { checked: completed.length, violations };
}

/**
 * 14. A transfer the receiving shard refused after its debit: the money went back by a return entry on
 * the sender's database; the refusal is on record there ('refused' incoming row on the receiver's
 * database, so no late credit could land); no credit anywhere; the booking reversed; the reason kept.
 */
async function checkReturned(c: BookContext): Promise<CheckResult> {
  const books = await c.books();
  const violations: string[] = [];
  const returned = books.transfers.filter((t) => t.status === 'RETURNED');
  for (const t of returned) {
    const f = factsOf(books, t);
    const senderDb = c.databaseOfShard(shardOfId(t.fromWalletId));
    const receiverDb = c.databaseOfShard(shardOfId(t.toWalletId));
    const what = `RETURNED transfer ${t.id} (${senderDb} → ${receiverDb})`;
    if (!f.crossShard) violations.push(`${what}: never left its logical shard, so it has no return path`);
    const debits = f.of('transfer_debit');
    const returns = f.of('transfer_return');
    const credits = f.of('transfer_credit');
    if (debits.length !== 1 || debits[0]?.database !== senderDb) {
      violations.push(`${what}: ${debits.length} debit(s) (${describeEntries(debits)}), one on ${senderDb} expected`);
    }
    if (returns.length !== 1 || returns[0]?.database !== senderDb) {
      violations.push(
        `${what}: ${returns.length} return entries (${describeEntries(returns)}), one on ${senderDb} expected`,
      );
    } else if (movedOn(returns[0], t.fromWalletId) !== t.amount) {
      violations.push(`${what}: its return does not give ${t.amount} back to the sender`);
    }
    if (credits.length > 0) violations.push(`${what}: credited (${describeEntries(credits)})`);
    const others = f.entries.filter((e) => !(LEG_KINDS as readonly string[]).includes(e.kind));
    if (others.length > 0) violations.push(`${what}: other journal entries (${describeEntries(others)})`);
    const [incoming] = f.incoming;
    if (f.incoming.length !== 1 || incoming?.status !== 'refused' || incoming.database !== receiverDb) {
      violations.push(
        `${what}: incoming rows ${f.incoming.map((i) => `${i.status} on ${i.database}`).join(', ') || 'none'}, one refused on ${receiverDb} expected`,
      );
    }
    if (t.failureCode === null) violations.push(`${what}: no failure code says why`);
    violations.push(...capturedHold(t, f.holds, senderDb));
    if (f.booking === 'booked') violations.push(`${what}: accounting booking not reversed`);
  }
  return { checked: returned.length, violations };
}

/** 15. The reconciliation job's own invariants (domain/invariants.ts), on every database. */
async function checkInvariants(c: BookContext): Promise<CheckResult> {
  const violations: string[] = [];
  let checked = 0;
  for (const db of c.all) {
    for (const v of await checkLedgerInvariants(db.store.sql)) {
      violations.push(`${db.name}: ${v.invariant}: ${v.subject} (${v.detail})`);
    }
    const { rows } = await db.store.sql<{ n: number }>(`SELECT count(*)::int AS n FROM ledger_lines`);
    checked += rows[0]?.n ?? 0;
  }
  return { checked, violations };
}

interface AppliedDecision {
  kind: string;
  updateId: string | undefined;
}

function decisionsOf(view: unknown): AppliedDecision[] {
  const decisions = asRecord(view, 'transfer view').decisions;
  if (!Array.isArray(decisions)) throw new Error('transfer view: decisions is not an array');
  return decisions.map((d) => {
    const o = asRecord(d, 'decision');
    return { kind: String(o.kind), updateId: typeof o.updateId === 'string' ? o.updateId : undefined };
  });
}

/**
 * Approximation for a closed workflow no worker can answer a query for: the retry/cancel updates it
 * accepted and completed. (One accepted while the saga ended another way also completes, unapplied.)
 */
function decisionsFromHistory(history: Awaited<ReturnType<WorkflowHandle['fetchHistory']>>): AppliedDecision[] {
  const accepted = new Map<string, string>();
  const completed = new Set<string>();
  for (const e of history.events ?? []) {
    const request = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest;
    const name = request?.input?.name;
    const acceptedId = request?.meta?.updateId;
    if (acceptedId && (name === 'retry' || name === 'cancel')) accepted.set(acceptedId, name);
    const done = e.workflowExecutionUpdateCompletedEventAttributes;
    if (done?.meta?.updateId && done.outcome?.success) completed.add(done.meta.updateId);
  }
  return [...accepted].filter(([id]) => completed.has(id)).map(([updateId, kind]) => ({ kind, updateId }));
}

/**
 * The finance decisions the workflow applied. A completed workflow returned its view, decisions
 * included: read without a worker. Otherwise its `status` query (a worker replays it), and if no
 * worker answers, its history.
 */
async function workflowDecisions(
  client: Client,
  workflowId: string,
): Promise<{ via: string; decisions: AppliedDecision[] }> {
  const handle = client.workflow.getHandle(workflowId);
  const description = await handle.describe();
  if (description.status.name === 'COMPLETED') {
    const result: unknown = await handle.result();
    return { via: 'result', decisions: decisionsOf(result) };
  }
  try {
    const view = await client.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () => handle.query(transferStatusQuery));
    return { via: 'query', decisions: decisionsOf(view) };
  } catch {
    return { via: 'history', decisions: decisionsFromHistory(await handle.fetchHistory()) };
  }
}

interface AuditDecisionRow {
  target_id: string;
  action: string;
  idempotency_key: string | null;
  update_id: string | null;
}

/**
 * 16. The audit trail (on every wallet shard database) holds exactly the finance decisions the sagas
 * applied: the workflow writes the row in the transaction that applies the decision, keyed by
 * `${workflowId}/${updateId}`.
 */
async function checkDecisions(c: Context): Promise<CheckResult> {
  const { record, temporal: client } = c.input;
  const auditOf = new Map<string, AuditDecisionRow[]>();
  for (const db of c.input.databases) {
    const { rows } = await db.store.sql<AuditDecisionRow>(
      `SELECT target_id::text, action, idempotency_key, details->>'updateId' AS update_id
         FROM audit_log WHERE action IN ('transfer.retry', 'transfer.cancel') ORDER BY id`,
    );
    for (const row of rows) push(auditOf, row.target_id, row);
  }
  const workflowIdOf = new Map((await c.books()).transfers.map((t) => [t.id, t.workflowId]));
  const transferIds = [
    ...new Set([
      ...auditOf.keys(),
      ...record.decisions.map((d) => d.transferId),
      ...record.temporalCancels.map((d) => d.transferId),
    ]),
  ];
  const finalStatus = await c.apiTransfers().then(
    (m) => (id: string) => m.get(id)?.status ?? 'unknown',
    () => () => 'unknown',
  );

  const perTransfer = await mapLimit(transferIds, QUERY_CONCURRENCY, async (transferId): Promise<string[]> => {
    const violations: string[] = [];
    const rows = auditOf.get(transferId) ?? [];
    for (const r of rows) {
      if (r.idempotency_key === null || r.update_id === null || !r.idempotency_key.endsWith(`/${r.update_id}`)) {
        violations.push(
          `transfer ${transferId}: audit row ${r.action} key ${r.idempotency_key ?? 'none'} does not name its update ${r.update_id ?? 'none'}`,
        );
      }
    }
    // every decision the API said it applied or accepted has its row
    for (const d of record.decisions) {
      if (d.transferId !== transferId || (d.status !== 200 && d.status !== 202)) continue;
      if (!rows.some((r) => r.action === `transfer.${d.kind}`)) {
        violations.push(
          `transfer ${transferId}: ${d.kind} answered ${d.status} but has no audit row (transfer ${finalStatus(transferId)})`,
        );
      }
    }
    // a refused (409) decision adds no row: at most one row per decision that was not refused
    for (const kind of ['retry', 'cancel'] as const) {
      const sent = record.decisions.filter((d) => d.transferId === transferId && d.kind === kind);
      const notRefused = sent.filter((d) => d.status !== 409).length;
      const written = rows.filter((r) => r.action === `transfer.${kind}`).length;
      if (written > notRefused) {
        violations.push(
          `transfer ${transferId}: ${written} ${kind} audit rows, ${notRefused} ${kind} decisions not refused (${sent.length - notRefused} refused)`,
        );
      }
    }
    const workflowId = workflowIdOf.get(transferId);
    if (workflowId === undefined)
      return [...violations, `transfer ${transferId}: no transfers row, so no workflow to ask`];
    let applied: { via: string; decisions: AppliedDecision[] };
    try {
      applied = await workflowDecisions(client, workflowId);
    } catch (err) {
      return [...violations, `transfer ${transferId}: cannot read workflow ${workflowId}: ${(err as Error).message}`];
    }
    const inWorkflow = new Set(
      applied.decisions.map((d) => `transfer.${d.kind} ${workflowId}/${d.updateId ?? '(no update id)'}`),
    );
    const inAudit = new Set(rows.map((r) => `${r.action} ${r.idempotency_key ?? '(no key)'}`));
    for (const k of inWorkflow)
      if (!inAudit.has(k))
        violations.push(`transfer ${transferId}: workflow applied ${k} (${applied.via}) but no audit row`);
    for (const k of inAudit)
      if (!inWorkflow.has(k))
        violations.push(
          `transfer ${transferId}: audit row ${k} but the workflow applied no such decision (${applied.via})`,
        );
    return violations;
  });
  return { checked: transferIds.length, violations: perTransfer.flat() };
}

/** 17. A 500 is a bug: every expected failure has its own status. (Other 5xx are judged by fault window elsewhere.) */
async function checkNo500(c: Context): Promise<CheckResult> {
  const { http } = c.input.record;
  const violations = http
    .filter((e) => e.status === 500)
    .map((e) => `${e.method} ${e.route} answered 500 at ${new Date(e.at).toISOString()}`);
  return { checked: http.length, violations };
}

/** 18. Logs are for machines: a line that is not a JSON object is lost to the log pipeline. */
async function checkJsonLogs(c: Context): Promise<CheckResult> {
  let checked = 0;
  const violations: string[] = [];
  for (const file of c.input.logFiles) {
    let text: string;
    try {
      text = await readFile(file.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // a process that never started logged nothing
      throw err;
    }
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      checked += 1;
      if (!isJsonObject(line)) violations.push(`${file.name}: ${line.slice(0, 120)}`);
    }
  }
  return { checked, violations };
}

function isJsonObject(line: string): boolean {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

type Check =
  | { name: string; scope: 'books'; run: (c: BookContext) => Promise<CheckResult> }
  | { name: string; scope: 'service'; run: (c: Context) => Promise<CheckResult> };

const CHECKS: Check[] = [
  { name: 'total customer balances per currency equal total deposits', scope: 'service', run: checkTotals },
  { name: 'no negative balance, held <= balance, held = 0 at rest', scope: 'service', run: checkWalletBounds },
  { name: "every wallet's balance equals the client's record", scope: 'service', run: checkBalancesAgainstRecord },
  {
    name: 'exactly one transfer per idempotency key, the same id for every duplicate',
    scope: 'service',
    run: checkIdempotency,
  },
  { name: 'every transfer terminal, the databases agree with the API', scope: 'service', run: checkAllTerminal },
  { name: 'every row on the database its logical shard maps to', scope: 'books', run: checkPlacement },
  {
    name: "each database's ledger, and each logical shard's in it, sums to zero per currency",
    scope: 'books',
    run: checkZeroSum,
  },
  {
    name: 'each database: balances = lines, held = active holds, entries balance; the accounting book balances',
    scope: 'books',
    run: checkBooks,
  },
  { name: 'clearing accounts across the databases net to zero per currency', scope: 'books', run: checkClearingNet },
  {
    name: 'no money left in clearing: every debit has its credit or its return',
    scope: 'books',
    run: checkClearingEmpty,
  },
  {
    name: 'CANCELLED/REJECTED: no entry on any database, no active hold, no booking, no credit',
    scope: 'books',
    run: checkUnwound,
  },
  {
    name: 'COMPLETED same-shard: one journal entry, a captured hold, one booking',
    scope: 'books',
    run: checkCompletedSameShard,
  },
  {
    name: "COMPLETED cross-shard: one debit on the sender's database, one credit on the receiver's",
    scope: 'books',
    run: checkCompletedCrossShard,
  },
  {
    name: "RETURNED: debit and return on the sender's database, refused on the receiver's, no credit",
    scope: 'books',
    run: checkReturned,
  },
  { name: 'ledger invariants (checkLedgerInvariants) on every database', scope: 'books', run: checkInvariants },
  {
    name: 'audit log holds exactly the finance decisions the workflows applied',
    scope: 'service',
    run: checkDecisions,
  },
  { name: 'no 500 answers', scope: 'service', run: checkNo500 },
  { name: 'every log line is a JSON object', scope: 'service', run: checkJsonLogs },
];

export const CHECK_NAMES: readonly string[] = CHECKS.map((c) => c.name);
/** The checks that read the databases alone (runBookChecks). */
export const BOOK_CHECK_NAMES: readonly string[] = CHECKS.filter((c) => c.scope === 'books').map((c) => c.name);

function bookContext<I extends BookInput>(input: I): BookContext<I> {
  const all = [...input.databases];
  if (!all.some((db) => db.name === input.accounting.name)) all.push(input.accounting);
  return {
    input,
    all,
    books: once(() => readBooks(input)),
    databaseOfShard: (shard) => input.databases[input.shardMap[shard] ?? -1]?.name ?? `no database (shard ${shard})`,
  };
}

async function runRow(name: string, run: () => Promise<CheckResult>): Promise<CheckRow> {
  try {
    return { name, ...(await run()) };
  } catch (err) {
    return { name, checked: 0, violations: [`the check could not run: ${(err as Error).message}`] };
  }
}

export async function runChecks(input: CheckInput): Promise<CheckOutcome> {
  const context: Context = {
    ...bookContext(input),
    apiTransfers: once(() => readApiTransfers(input)),
    apiWallets: once(() => readApiWallets(input)),
  };
  const rows: CheckRow[] = [];
  for (const check of CHECKS) {
    // (the scope narrows the union: a book check takes the smaller context)
    rows.push(await runRow(check.name, () => (check.scope === 'books' ? check.run(context) : check.run(context))));
  }
  const finalStatuses = new Map<string, string>();
  const transfers = await context.apiTransfers().catch(() => new Map<string, ApiTransfer>());
  for (const t of transfers.values()) finalStatuses.set(t.id, t.status);
  return { rows, finalStatuses };
}

/** The book checks alone (or those of them named in `only`), on the databases alone: no API, no Temporal. */
export async function runBookChecks(input: BookInput, only: readonly string[] = BOOK_CHECK_NAMES): Promise<CheckRow[]> {
  const context = bookContext(input);
  const rows: CheckRow[] = [];
  for (const check of CHECKS) {
    if (check.scope !== 'books' || !only.includes(check.name)) continue;
    rows.push(await runRow(check.name, () => check.run(context)));
  }
  return rows;
}

/** check | checked | violations, aligned; then the first violations of each failing row, indented. */
export function formatCheckTable(rows: CheckRow[]): string {
  const table: Array<[string, string, string]> = [
    ['check', 'checked', 'violations'],
    ...rows.map((r): [string, string, string] => [r.name, String(r.checked), String(r.violations.length)]),
  ];
  const [nameWidth, checkedWidth, violationsWidth] = [0, 1, 2].map((i) =>
    Math.max(...table.map((cells) => cells[i]?.length ?? 0)),
  ) as [number, number, number];
  const line = ([name, checked, violations]: [string, string, string]) =>
    `${name.padEnd(nameWidth)}  ${checked.padStart(checkedWidth)}  ${violations.padStart(violationsWidth)}`;
  const out = table.map(line);
  out.splice(1, 0, line(['-'.repeat(nameWidth), '-'.repeat(checkedWidth), '-'.repeat(violationsWidth)]));
  for (const r of rows.filter((x) => x.violations.length > 0)) {
    out.push('', `${r.name}:`);
    out.push(...r.violations.slice(0, SHOWN_VIOLATIONS).map((v) => `    ${v}`));
    if (r.violations.length > SHOWN_VIOLATIONS) out.push(`    … and ${r.violations.length - SHOWN_VIOLATIONS} more`);
  }
  return out.join('\n');
}
