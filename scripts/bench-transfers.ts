import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { apiClient, type Answer, type ApiClient, type MethodOf, type Path, type RequestOptions } from '../api/client';
import type { Role } from '../api/auth/roles';
import { signToken } from '../api/auth/tokens';
import { loadConfig, type Config } from '../config';
import type { baselineActivities, baselineLocalActivities } from '../workflows/baseline';
import { CPU_ROLES } from './bench-cpu';
import { measureRow, type Row } from './bench-measure';
import { postgresCeiling } from './bench-postgres';
import { LOGICAL_SHARDS, shardOfOwner } from '../domain/shards';

/**
 * Transfer throughput and latency against a running stack (`npm start` in another terminal), next to
 * the ceilings it is judged by:
 *   npm run bench -- [--transfers 400] [--concurrency 40] [--senders 40] [--baseline-runs N]
 *                    [--alone-runs 30] [--wait 30] [--api http://127.0.0.1:3000]
 * Rows, one after the other (never overlapping), each warmed up, then measured alone (concurrency 1)
 * and at --concurrency:
 *  - this project's transfers: POST /v1/transfers, each with its own Idempotency-Key and
 *    `Prefer: wait=N`, so the latency is the whole saga, not just the 202; same-shard (one journal
 *    entry) and cross-shard (debit on one database, credit on the other: the default two-database map);
 *  - bare workflows (workflows/baseline.ts) with 1, 4 and 5 no-op local activities (4 and 5: the
 *    same-shard and cross-shard sagas' happy paths) and 5 no-op regular
 *    activities, started with the Temporal client on the same server, task queue and worker processes:
 *    what Temporal itself costs on this box;
 *  - raw Postgres double-entry transfers (scripts/bench-postgres.ts): what the ledger itself costs.
 * `--senders 1` measures one hot wallet (every transfer contends for the same row).
 * Prints numbers only; it asserts nothing (speed goals live here, not in the test suite).
 */

interface Options {
  api: string;
  client: ApiClient;
  transfers: number;
  concurrency: number;
  senders: number;
  baselineRuns: number;
  aloneRuns: number;
  waitSeconds: number;
  authorization: (role: Role, sub: string) => string;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer`);
  return value;
}

/** A set-up call through the typed client (api/client): the `expected` answer's body, or a throw. */
async function call<P extends Path, M extends MethodOf<P>, S extends Answer<P, M>['status']>(
  opts: Options,
  method: M,
  path: P,
  expected: S,
  request: RequestOptions<P, M>,
): Promise<Extract<Answer<P, M>, { status: S }>['body']> {
  const answer = await opts.client.call(method, path, request);
  if (answer.status !== expected)
    throw new Error(`${method} ${path} → ${String(answer.status)} ${JSON.stringify(answer.body)}`);
  return (answer as Extract<Answer<P, M>, { status: S }>).body;
}

async function metric(api: string, name: string): Promise<number | undefined> {
  const res = await fetch(`${api}/metrics`).catch(() => undefined);
  if (!res?.ok) return undefined;
  const line = (await res.text()).split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : undefined;
}

/**
 * A transfer's shape: same-shard (each sender pays a second wallet of its own owner: one logical shard,
 * one journal entry) or cross-shard (every sender pays a receiver on another logical shard, chosen so that
 * under the default SHARD_MAP of two databases the money also crosses databases: clearing accounts, a debit
 * on one database and a credit on the other).
 */
type Shape = 'same-shard' | 'cross-shard';

/** An owner id of this run whose logical shard is in the lower (db 0) or upper (db 1) half under the default map. */
function ownerIn(run: string, label: string, half: 'lower' | 'upper'): string {
  for (let n = 0; ; n++) {
    const owner = `bench-${run}-${label}-${n}`;
    if (shardOfOwner(owner) < LOGICAL_SHARDS / 2 === (half === 'lower')) return owner;
  }
}

async function newWallet(opts: Options, owner: string): Promise<{ id: string; auth: string }> {
  const auth = opts.authorization('customer', owner);
  const wallet = await call(opts, 'post', '/v1/wallets', 201, {
    headers: { authorization: auth },
    body: { ownerId: owner, currency: 'EUR' },
  });
  return { id: wallet.id, auth };
}

/** This project's row of one shape: funded senders (`--senders`) paying through the API. */
async function projectTransfers(opts: Options, shape: Shape): Promise<Row> {
  const finance = opts.authorization('finance', 'bench-finance');
  const run = randomUUID().slice(0, 8);
  const pairs: Array<{ from: { id: string; auth: string }; toWalletId: string }> = [];
  const crossReceiver = shape === 'cross-shard' ? await newWallet(opts, ownerIn(run, 'receiver', 'upper')) : null;
  for (let i = 0; i < opts.senders; i++) {
    const owner = ownerIn(run, `sender${i}`, 'lower');
    const from = await newWallet(opts, owner);
    await call(opts, 'post', '/v1/wallets/{id}/deposits', 201, {
      params: { id: from.id },
      headers: { authorization: finance, 'idempotency-key': randomUUID() },
      body: { amount: 1_000_000_000 },
    });
    const toWalletId = crossReceiver ? crossReceiver.id : (await newWallet(opts, owner)).id;
    pairs.push({ from, toWalletId });
  }

  let n = 0;
  const transfer = async (): Promise<string> => {
    const { from, toWalletId } = pairs[n++ % pairs.length]!;
    const answer = await opts.client.call('post', '/v1/transfers', {
      headers: { authorization: from.auth, 'idempotency-key': randomUUID(), prefer: `wait=${opts.waitSeconds}` },
      body: { fromWalletId: from.id, toWalletId, amount: 100, currency: 'EUR' },
      signal: AbortSignal.timeout((opts.waitSeconds + 10) * 1000),
    });
    if (answer.status !== 200 && answer.status !== 202) return `HTTP ${answer.status}`;
    return answer.body.status === 'COMPLETED' ? 'completed' : answer.body.status;
  };
  return measureRow(
    `this project: POST /v1/transfers, ${shape}`,
    { runs: opts.transfers, aloneRuns: opts.aloneRuns, concurrency: opts.concurrency },
    transfer,
  );
}

/** The bare workflows' rows, on the stack's own task queue (its workers run with WORKER_BENCH_BASELINE=true: scripts/dev-stack.ts). */
async function bareWorkflows(opts: Options, config: Config): Promise<Row[]> {
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  try {
    const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
    const run = randomUUID().slice(0, 8);
    let n = 0;
    const cases: Array<[string, 'baselineLocalActivities' | 'baselineActivities', number]> = [
      ['bare workflow, 1 local activity', 'baselineLocalActivities', 1],
      // the same-shard saga's happy path: reserve, accounting, ledger, notify
      ['bare workflow, 4 local activities', 'baselineLocalActivities', 4],
      // the cross-shard saga's: reserve, accounting, debit, credit, notify
      ['bare workflow, 5 local activities', 'baselineLocalActivities', 5],
      ['bare workflow, 5 regular activities', 'baselineActivities', 5],
    ];
    const rows: Row[] = [];
    for (const [what, workflow, activities] of cases) {
      const start = () =>
        client.workflow
          .execute<typeof baselineLocalActivities | typeof baselineActivities>(workflow, {
            taskQueue: config.TEMPORAL_TASK_QUEUE,
            workflowId: `bench-${run}-${workflow}-${activities}-${n++}`,
            args: [activities],
            // workers without these workflows (WORKER_BENCH_BASELINE off, an old build) fail the run instead of hanging it
            workflowExecutionTimeout: '1 minute',
          })
          .then(() => 'completed');
      rows.push(
        await measureRow(
          what,
          { runs: opts.baselineRuns, aloneRuns: opts.aloneRuns, concurrency: opts.concurrency },
          start,
        ),
      );
    }
    return rows;
  } finally {
    await connection.close();
  }
}

const ms = (v: number) =>
  Number.isNaN(v) ? '—' : v < 1000 ? `${v.toFixed(v < 10 ? 1 : 0)} ms` : `${(v / 1000).toFixed(2)} s`;

function table(rows: Row[], concurrency: number): string {
  const lines = [
    `| what | completed/s at ${concurrency} concurrent | p50 alone (concurrency 1) | p50 at ${concurrency} | p99 at ${concurrency} | completed |`,
    '|---|---|---|---|---|---|',
  ];
  for (const { what, loaded, alone } of rows) {
    const other = Object.entries({ ...loaded.other, ...alone.other })
      .map(([k, v]) => `, ${v} ${k}`)
      .join('');
    lines.push(
      `| ${what} | ${loaded.completedPerSecond.toFixed(1)} | ${ms(alone.p50Ms)} | ${ms(loaded.p50Ms)} | ${ms(loaded.p99Ms)} | ` +
        `${loaded.completed}/${loaded.runs} + ${alone.completed}/${alone.runs} alone${other} |`,
    );
  }
  return lines.join('\n');
}

/** Where each row's time goes: CPU ms per completed call in the loaded run, by part of the stack. */
function cpuTable(rows: Row[]): string {
  if (!rows.some((r) => Object.keys(r.loaded.cpuMs).length > 0))
    return '(CPU per call: needs /proc, not available here)';
  const lines = [
    `| CPU ms per completed call (loaded run) | ${CPU_ROLES.join(' | ')} | total |`,
    `|---|${CPU_ROLES.map(() => '---').join('|')}|---|`,
  ];
  for (const { what, loaded } of rows) {
    const cells = CPU_ROLES.map((r) => (loaded.cpuMs[r] === undefined ? '—' : loaded.cpuMs[r].toFixed(1)));
    const total = CPU_ROLES.reduce((sum, r) => sum + (loaded.cpuMs[r] ?? 0), 0);
    lines.push(`| ${what} | ${cells.join(' | ')} | ${total.toFixed(1)} |`);
  }
  return lines.join('\n');
}

async function main() {
  const config = loadConfig();
  if (!config.JWT_SECRET) throw new Error('the benchmark signs development tokens: set JWT_SECRET like the API');
  const secret = config.JWT_SECRET;
  const apiIndex = process.argv.indexOf('--api');
  const transfers = arg('transfers', 400);
  const api = apiIndex >= 0 ? process.argv[apiIndex + 1]! : `http://127.0.0.1:${config.PORT}`;
  const opts: Options = {
    api,
    client: apiClient(api),
    transfers,
    concurrency: arg('concurrency', 40),
    senders: arg('senders', 40),
    baselineRuns: arg('baseline-runs', transfers),
    aloneRuns: arg('alone-runs', 30),
    waitSeconds: arg('wait', 30),
    authorization: (role: Role, sub: string) =>
      `Bearer ${signToken({ sub, roles: [role] }, { secret, ttlSeconds: 3600, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE })}`,
  };

  // sequentially: each row has the box to itself
  const sameShard = await projectTransfers(opts, 'same-shard');
  const crossShard = await projectTransfers(opts, 'cross-shard');
  const apiMemoryMiB = ((await metric(opts.api, 'process_resident_memory_bytes')) ?? 0) / 2 ** 20;
  const bare = await bareWorkflows(opts, config);
  const postgres = await postgresCeiling({
    databaseUrl: config.DATABASE_URL,
    // ~100× faster than a workflow: a run of --baseline-runs would be over before it measured anything
    runs: Math.max(2000, opts.baselineRuns),
    aloneRuns: opts.aloneRuns,
    senders: opts.senders,
  });
  const rows = [sameShard, crossShard, ...bare, postgres];

  const [bare1, bare4, bare5] = bare as [Row, Row, Row, Row];
  const cpu = (row: Row) => Object.values(row.loaded.cpuMs).reduce((sum, v) => sum + v, 0);
  const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a / b) ? (a / b).toFixed(2) : '—');
  const out = [
    `npm run bench: ${opts.transfers} transfers, ${opts.baselineRuns} workflows per bare row, ${opts.aloneRuns} alone per row, ` +
      `concurrency ${opts.concurrency}, ${opts.senders} sender(s), task queue ${config.TEMPORAL_TASK_QUEUE}, ${new Date().toISOString()}`,
    '',
    table(rows, opts.concurrency),
    '',
    cpuTable(rows),
    '',
    `same-shard completed/s ÷ bare 1-LA completed/s  = ${ratio(sameShard.loaded.completedPerSecond, bare1.loaded.completedPerSecond)} (issue 18: ≥ 0.44, today's)`,
    `same-shard p50 alone ÷ bare 1-LA p50 alone      = ${ratio(sameShard.alone.p50Ms, bare1.alone.p50Ms)} (issue 18: ≤ 1.9, today's)`,
    `same-shard completed/s ÷ bare 4-LA completed/s  = ${ratio(sameShard.loaded.completedPerSecond, bare4.loaded.completedPerSecond)}`,
    `same-shard p50 alone ÷ bare 4-LA p50 alone      = ${ratio(sameShard.alone.p50Ms, bare4.alone.p50Ms)}`,
    `cross-shard completed/s ÷ bare 5-LA completed/s = ${ratio(crossShard.loaded.completedPerSecond, bare5.loaded.completedPerSecond)}`,
    `cross-shard p50 alone ÷ bare 5-LA p50 alone     = ${ratio(crossShard.alone.p50Ms, bare5.alone.p50Ms)}`,
    `cross-shard CPU ÷ same-shard CPU per transfer    = ${ratio(cpu(crossShard), cpu(sameShard))} (issue 18: ≤ 1.3)`,
    `CPU per transfer ÷ (bare same-LA + raw Postgres): same-shard ${ratio(cpu(sameShard), cpu(bare4) + cpu(postgres))}, ` +
      `cross-shard ${ratio(cpu(crossShard), cpu(bare5) + cpu(postgres))}`,
    `API resident memory after the transfers: ${apiMemoryMiB.toFixed(0)} MiB`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
