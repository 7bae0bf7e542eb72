import { setTimeout as sleep } from 'node:timers/promises';
import { readFile } from 'node:fs/promises';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Sql } from '../../db/sql';
import type { Store } from '../../db/store';
import { checkLedgerInvariants } from '../../domain/invariants';
import { TERMINAL_STATUSES, type TransferStatus } from '../../domain/transfer-status';
import { transferStatusQuery } from '../../workflows/contract';
import type { ChaosRecord, TransferRequestRecord } from './record';

/**
 * The chaos run's checker (Jepsen's bank test): after the faults are healed and the sagas have
 * settled, compares the client's own record of what it did and was told with the final state as the
 * API, the database and the workflows report it. Each check is one row; every check runs even when
 * another fails, and a check that throws is reported as a row whose violation is the error.
 */

export interface CheckRow {
  name: string;
  checked: number;
  violations: string[];
}

export interface CheckInput {
  record: ChaosRecord;
  /** connected to the run's database */
  db: Store;
  /** connected to the run's Temporal server (namespace default) */
  temporal: Client;
  apiUrl: string;
  /** an ops token: reads every transfer and wallet */
  staffToken: string;
  /** our node processes' logs (api, worker-1..3): each line should be JSON */
  logFiles: Array<{ name: string; path: string }>;
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

// ---- what the checks read: the API's final state, the transfers rows -----------------------------

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
  id: string;
  callerId: string;
  idempotencyKey: string;
  status: string;
  workflowId: string;
}

interface Context {
  input: CheckInput;
  sql: Sql;
  /** every transfer the API lists, by id (read once, shared by the checks) */
  apiTransfers: () => Promise<Map<string, ApiTransfer>>;
  /** every wallet of the record as the API shows it, by id */
  apiWallets: () => Promise<Map<string, ApiWallet>>;
  dbTransfers: () => Promise<DbTransfer[]>;
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

async function readDbTransfers(sql: Sql): Promise<DbTransfer[]> {
  const { rows } = await sql<{
    id: string;
    caller_id: string;
    idempotency_key: string;
    status: string;
    workflow_id: string;
  }>(`SELECT id::text, caller_id, idempotency_key, status, workflow_id FROM transfers ORDER BY seq`);
  return rows.map((r) => ({
    id: r.id,
    callerId: r.caller_id,
    idempotencyKey: r.idempotency_key,
    status: r.status,
    workflowId: r.workflow_id,
  }));
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
  for (const row of await c.dbTransfers()) {
    const rows = rowsByKey.get(keyOf(row.callerId, row.idempotencyKey)) ?? [];
    rows.push(row);
    rowsByKey.set(keyOf(row.callerId, row.idempotencyKey), rows);
  }
  const apiTransfers = await c.apiTransfers();
  const requested = new Set<string>();
  const keyOfId = new Map<string, string>();

  for (const r of record.transfers) {
    const key = keyOf(r.callerId, r.idempotencyKey);
    requested.add(key);
    const rows = rowsByKey.get(key) ?? [];
    if (rows.length > 1)
      violations.push(`key ${showKey(r)}: ${rows.length} transfers rows (${rows.map((x) => x.id).join(', ')})`);
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
    if (reused) {
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

/** 5. After the run every saga has ended, and the database says what the API says. */
async function checkAllTerminal(c: Context): Promise<CheckResult> {
  const violations: string[] = [];
  const apiTransfers = await c.apiTransfers();
  for (const t of apiTransfers.values()) {
    if (!TERMINAL_STATUSES.includes(t.status as TransferStatus)) violations.push(`transfer ${t.id} is ${t.status}`);
  }
  const dbRows = await c.dbTransfers();
  for (const row of dbRows) {
    const t = apiTransfers.get(row.id);
    if (!t) violations.push(`transfer ${row.id} (${row.status}) is in the database but not in the API's list`);
    else if (t.status !== row.status)
      violations.push(`transfer ${row.id}: API says ${t.status}, database ${row.status}`);
  }
  const inDb = new Set(dbRows.map((r) => r.id));
  for (const id of apiTransfers.keys())
    if (!inDb.has(id)) violations.push(`transfer ${id} is listed by the API but has no row`);
  return { checked: apiTransfers.size, violations };
}

/** 6. A transfer that did not happen left nothing behind. */
async function checkUnwound(c: Context): Promise<CheckResult> {
  const { rows } = await c.sql<{ id: string; status: string; entries: number; holds: string | null; booked: number }>(
    `SELECT t.id::text, t.status,
            (SELECT count(*) FROM journal_entries e WHERE e.transfer_id = t.id)::int AS entries,
            (SELECT string_agg(h.status, ',') FROM holds h WHERE h.transfer_id = t.id AND h.status <> 'released') AS holds,
            (SELECT count(*) FROM accounting_bookings b WHERE b.transfer_id = t.id AND b.status = 'booked')::int AS booked
       FROM transfers t WHERE t.status IN ('CANCELLED', 'REJECTED')`,
  );
  const violations: string[] = [];
  for (const r of rows) {
    if (r.entries > 0) violations.push(`${r.status} transfer ${r.id}: ${r.entries} journal entries`);
    if (r.holds !== null) violations.push(`${r.status} transfer ${r.id}: hold still ${r.holds}`);
    if (r.booked > 0) violations.push(`${r.status} transfer ${r.id}: accounting booking not reversed`);
  }
  return { checked: rows.length, violations };
}

/** 7. A transfer that happened did so exactly once, in the ledger and in the accounting book. */
async function checkCompleted(c: Context): Promise<CheckResult> {
  const { rows } = await c.sql<{ id: string; entries: number; hold: string | null; booked: number }>(
    `SELECT t.id::text,
            (SELECT count(*) FROM journal_entries e WHERE e.transfer_id = t.id AND e.kind = 'transfer')::int AS entries,
            (SELECT h.status FROM holds h WHERE h.transfer_id = t.id) AS hold,
            (SELECT count(*) FROM accounting_bookings b WHERE b.transfer_id = t.id AND b.status = 'booked')::int AS booked
       FROM transfers t WHERE t.status = 'COMPLETED'`,
  );
  const violations: string[] = [];
  for (const r of rows) {
    if (r.entries !== 1) violations.push(`COMPLETED transfer ${r.id}: ${r.entries} journal entries`);
    if (r.hold !== 'captured') violations.push(`COMPLETED transfer ${r.id}: hold ${r.hold ?? 'missing'}, not captured`);
    if (r.booked !== 1) violations.push(`COMPLETED transfer ${r.id}: ${r.booked} accounting bookings`);
  }
  return { checked: rows.length, violations };
}

/** 8. The ledger's own invariants (the reconciliation job's SQL). */
async function checkInvariants(c: Context): Promise<CheckResult> {
  const violations = await checkLedgerInvariants(c.sql);
  const { rows } = await c.sql<{ n: number }>(`SELECT count(*)::int AS n FROM ledger_lines`);
  return { checked: rows[0]?.n ?? 0, violations: violations.map((v) => `${v.invariant}: ${v.subject} (${v.detail})`) };
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

/**
 * 9. The audit trail holds exactly the finance decisions the sagas applied: the workflow writes the
 * row in the transaction that applies the decision, keyed by `${workflowId}/${updateId}`.
 */
async function checkDecisions(c: Context): Promise<CheckResult> {
  const { record, temporal: client } = c.input;
  const { rows: audit } = await c.sql<{
    target_id: string;
    action: string;
    idempotency_key: string | null;
    update_id: string | null;
  }>(
    `SELECT target_id::text, action, idempotency_key, details->>'updateId' AS update_id
       FROM audit_log WHERE action IN ('transfer.retry', 'transfer.cancel') ORDER BY id`,
  );
  const auditOf = new Map<string, typeof audit>();
  for (const row of audit) auditOf.set(row.target_id, [...(auditOf.get(row.target_id) ?? []), row]);
  const workflowIdOf = new Map((await c.dbTransfers()).map((t) => [t.id, t.workflowId]));
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

/** 10. A 500 is a bug: every expected failure has its own status. (Other 5xx are judged by fault window elsewhere.) */
async function checkNo500(c: Context): Promise<CheckResult> {
  const { http } = c.input.record;
  const violations = http
    .filter((e) => e.status === 500)
    .map((e) => `${e.method} ${e.route} answered 500 at ${new Date(e.at).toISOString()}`);
  return { checked: http.length, violations };
}

/** 11. Logs are for machines: a line that is not a JSON object is lost to the log pipeline. */
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

const CHECKS: Array<{ name: string; run: (c: Context) => Promise<CheckResult> }> = [
  { name: 'total customer balances per currency equal total deposits', run: checkTotals },
  { name: 'no negative balance, held <= balance, held = 0 at rest', run: checkWalletBounds },
  { name: "every wallet's balance equals the client's record", run: checkBalancesAgainstRecord },
  { name: 'exactly one transfer per idempotency key, the same id for every duplicate', run: checkIdempotency },
  { name: 'every transfer terminal, database agrees with the API', run: checkAllTerminal },
  { name: 'CANCELLED/REJECTED: no journal entry, no active hold, no booking left', run: checkUnwound },
  { name: 'COMPLETED: one journal entry, a captured hold, one booking', run: checkCompleted },
  { name: 'ledger invariants (checkLedgerInvariants)', run: checkInvariants },
  { name: 'audit log holds exactly the finance decisions the workflows applied', run: checkDecisions },
  { name: 'no 500 answers', run: checkNo500 },
  { name: 'every log line is a JSON object', run: checkJsonLogs },
];

export const CHECK_NAMES: readonly string[] = CHECKS.map((c) => c.name);

export async function runChecks(input: CheckInput): Promise<CheckOutcome> {
  const { sql } = input.db;
  const context: Context = {
    input,
    sql,
    apiTransfers: once(() => readApiTransfers(input)),
    apiWallets: once(() => readApiWallets(input)),
    dbTransfers: once(() => readDbTransfers(sql)),
  };
  const rows: CheckRow[] = [];
  for (const check of CHECKS) {
    try {
      rows.push({ name: check.name, ...(await check.run(context)) });
    } catch (err) {
      rows.push({ name: check.name, checked: 0, violations: [`the check could not run: ${(err as Error).message}`] });
    }
  }
  const finalStatuses = new Map<string, string>();
  const transfers = await context.apiTransfers().catch(() => new Map<string, ApiTransfer>());
  for (const t of transfers.values()) finalStatuses.set(t.id, t.status);
  return { rows, finalStatuses };
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
