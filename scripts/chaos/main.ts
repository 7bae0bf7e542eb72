import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { createStore } from '../../db/store';
import { formatCheckTable, runChecks, type ChaosDatabase, type CheckRow } from './checker';
import { ChaosCluster } from './cluster';
import { FaultInjector } from './faults';
import { ChaosHttp } from './http';
import { Random } from './random';
import { emptyRecord, FAULT_KINDS } from './record';
import {
  countBy,
  errorsByWindow,
  errorsTable,
  faultTable,
  FAULT_WINDOW_GRACE_MS,
  parksInLogs,
  shardOutageAnswersTable,
  shardOutageTable,
  speedTable,
  table,
  type TimedTransfer,
} from './report';
import { Bank, openBank, resendUnanswered, runTransfers } from './workload';

/**
 * `npm run chaos -- [--transfers N] [--concurrency C] [--seconds S] [--seed X]`: a bank test in the
 * manner of Jepsen's. It starts a stack of its own (a Postgres instance per wallet shard database and
 * one for the accounting book, Redis, a Temporal dev server, the API, 3 workers), opens customer
 * wallets in two currencies on every shard database, funded by deposits, sends N random transfers
 * spread over S seconds (across databases both ways, across logical shards, inside one) while faults
 * are injected (docs/reliability.md), heals everything, waits for every transfer to finish and checks
 * the books of every database against the client's own record.
 * Exit code 0 only if every check passes. Settings of the saga under test are short so that parking,
 * finance decisions and deadlines all happen within a run.
 */

const USAGE = `npm run chaos -- [options]

  --transfers N     transfers to send (300)
  --seconds S       spread over S seconds, while the faults run (60)
  --concurrency C   client loops (8)
  --seed X          the seed of the workload and the fault schedule (random, printed)
  --customers K     customers, each with a EUR and a USD wallet (N/25, 8 to 40)
  --shards D        wallet shard databases, each on its own Postgres instance (2)
  --workers W       worker processes (3)
  --keep            keep the run's folder (logs, data); a failed run always keeps it
  --help            this text
`;

const { values: args } = parseArgs({
  options: {
    transfers: { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string' },
    customers: { type: 'string' },
    shards: { type: 'string', default: '2' },
    workers: { type: 'string', default: '3' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

function positive(name: string, raw: string | undefined): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${raw}`);
  return n;
}

const transfers = positive('transfers', args.transfers);
const concurrency = positive('concurrency', args.concurrency);
const seconds = positive('seconds', args.seconds);
const seed = args.seed === undefined ? Math.floor(Math.random() * 1e9) : positive('seed', args.seed);
const customers =
  args.customers === undefined
    ? Math.max(8, Math.min(40, Math.round(transfers / 25)))
    : positive('customers', args.customers);
const workers = positive('workers', args.workers);
const shards = positive('shards', args.shards);

/** The saga under test, with budgets short enough for a run of a minute to park, decide and expire. */
const SAGA = {
  TRANSFER_STEP_MAX_ATTEMPTS: 3,
  TRANSFER_STEP_ATTEMPT_TIMEOUT_SECONDS: 5,
  TRANSFER_PARK_DEADLINE_SECONDS: 15,
  TRANSFER_ANSWER_TIMEOUT_SECONDS: 5,
};
/** How long the end of a run waits for every transfer to reach a terminal state. */
const SETTLE_SECONDS = 120;

const t0 = Date.now();
const log = (msg: string): void => {
  process.stdout.write(
    `[chaos ${new Date().toISOString().slice(11, 23)} +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`,
  );
};

/** Transfers not yet terminal on one database, or null if it cannot say right now. */
async function openTransfers(databaseUrl: string): Promise<number | null> {
  const pg = new PgClient({ connectionString: databaseUrl, connectionTimeoutMillis: 5000, query_timeout: 10_000 });
  try {
    await pg.connect();
    const { rows } = await pg.query<{ n: string }>(
      `SELECT count(*) AS n FROM transfers WHERE status NOT IN ('COMPLETED', 'REJECTED', 'CANCELLED', 'RETURNED')`,
    );
    return Number(rows[0]!.n);
  } catch {
    return null;
  } finally {
    await pg.end().catch(() => undefined);
  }
}

/** Waits until every wallet shard database has no open transfer; the number still open (-1: unknown) after SETTLE_SECONDS. */
async function waitForTerminal(databaseUrls: string[]): Promise<number> {
  const deadline = Date.now() + SETTLE_SECONDS * 1000;
  let open = -1;
  while (Date.now() < deadline) {
    const counts = await Promise.all(databaseUrls.map(openTransfers));
    open = counts.includes(null) ? -1 : counts.reduce<number>((a, b) => a + b!, 0);
    if (open === 0) return 0;
    await sleep(1000);
  }
  return open;
}

async function main(): Promise<number> {
  log(
    `seed ${seed}: ${transfers} transfers over ${seconds}s, concurrency ${concurrency}, ${customers} customers, ${workers} workers`,
  );
  log(
    `saga under test: ${Object.entries(SAGA)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
  );
  const rng = new Random(seed);
  const cluster = new ChaosCluster({
    workers,
    shards,
    env: {
      ...Object.fromEntries(Object.entries(SAGA).map(([k, v]) => [k, String(v)])),
      WORKER_SHUTDOWN_GRACE_SECONDS: '2',
      DB_POOL_MAX: '10',
    },
    log,
  });
  const onExit = () => cluster.killAllNow();
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
  process.once('exit', onExit);

  log(`starting the stack in ${cluster.dir}`);
  await cluster.start();
  log(
    `stack up: API ${cluster.apiUrl}, Temporal ${cluster.temporalAddress}, Postgres ${cluster.postgres
      .map((pg) => `${pg.name} (${pg.database}) ${pg.url}`)
      .join(', ')}; SHARD_MAP ${cluster.layout.shardMapText()}`,
  );

  const record = emptyRecord(seed);
  const http = new ChaosHttp(cluster.apiUrl);
  record.http = http.events;
  const bank = new Bank(http, record, cluster.jwtSecret, cluster.layout);
  await openBank(bank, rng.fork(), customers);
  log(
    `bank open: ${record.wallets.length} wallets (${countBy(record.wallets, (w) =>
      cluster.layout.databaseOfWallet(w.id),
    )
      .map(([db, n]) => `${n} on ${db}`)
      .join(', ')}), ${record.deposits.length} deposits`,
  );

  const connection = await Connection.connect({ address: cluster.temporalAddress });
  const temporal = new Client({ connection });
  const faults = new FaultInjector(cluster, bank, temporal, rng.fork(), {
    accountingOutageSeconds: [8, 14],
    shardOutageSeconds: [10, 20],
    phaseSeconds: seconds,
    maxTemporalCancels: Math.max(12, Math.round(transfers * 0.03)),
    log,
  });
  record.faults = faults.events;

  record.faultPhase.from = Date.now();
  faults.start();
  let lastReport = 0;
  await runTransfers(bank, rng.fork(), { transfers, concurrency, seconds }, (sent) => {
    if (Date.now() - lastReport > 10_000) {
      lastReport = Date.now();
      log(`${sent}/${transfers} transfers sent`);
    }
  });
  log('all transfers sent; stopping the faults and healing');
  record.faultPhase.to = Date.now();
  await faults.stop();

  const stillUnanswered = await resendUnanswered(bank);
  log(`re-sent the requests left without an answer (${stillUnanswered} still unanswered)`);
  const open = await waitForTerminal(cluster.shardInstances.map((pg) => pg.url));
  log(open === 0 ? 'every transfer is terminal' : `${open} transfer(s) not terminal after ${SETTLE_SECONDS}s`);

  const databases: ChaosDatabase[] = cluster.postgres.map((pg) => ({
    name: pg.database,
    store: createStore({ url: pg.url, poolMax: 4, applicationName: 'wallet-chaos-checker' }),
  }));
  let rows: CheckRow[];
  let finalStatuses: Map<string, string>;
  try {
    for (const db of databases) await db.store.connect();
    const outcome = await runChecks({
      record,
      databases: databases.filter((db) => db.name !== cluster.accountingInstance.database),
      accounting: databases.find((db) => db.name === cluster.accountingInstance.database)!,
      shardMap: cluster.layout.shardMap,
      temporal,
      apiUrl: cluster.apiUrl,
      staffToken: bank.ops,
      logFiles: cluster.nodeLogFiles,
    });
    rows = outcome.rows;
    finalStatuses = outcome.finalStatuses;
    const injected = faults.kindsInjected();
    rows.push({
      name: 'every fault kind was injected at least once',
      checked: FAULT_KINDS.length,
      violations: FAULT_KINDS.filter((k) => !injected.has(k)).map((k) => `${k} never injected`),
    });
    rows.push({
      name: 'every request got a definite answer',
      checked: record.transfers.length + record.deposits.length,
      violations: stillUnanswered > 0 ? [`${stillUnanswered} request(s) never answered`] : [],
    });
    rows.push({
      name: 'no process exited on its own (only the faults kill)',
      checked: 3 + workers,
      violations: cluster.unexpectedExits.map(
        (e) =>
          `${e.name} exited (${e.signal ?? `code ${e.code}`}) at ${new Date(e.at).toISOString()}: see ${cluster.logPath(e.name)}`,
      ),
    });
    const errors = errorsByWindow(record);
    rows.push({
      name: `no 5xx outside a fault window (+${FAULT_WINDOW_GRACE_MS / 1000}s)`,
      checked: record.http.length,
      violations: errors.outsideAnyWindow.map((e) => `${e.status} ${e.route} at ${new Date(e.at).toISOString()}`),
    });

    const timed: TimedTransfer[] = [];
    for (const db of databases) {
      const { rows: found } = await db.store.sql<{
        id: string;
        status: string;
        created: string;
        finished: string | null;
      }>(
        `SELECT id::text, status, (extract(epoch FROM created_at) * 1000)::bigint::text AS created,
                (extract(epoch FROM finished_at) * 1000)::bigint::text AS finished FROM transfers`,
      );
      for (const t of found) {
        timed.push({
          id: t.id,
          status: t.status,
          createdAt: Number(t.created),
          finishedAt: t.finished === null ? null : Number(t.finished),
        });
      }
    }
    const out: string[] = [''];
    out.push(
      `== chaos run, seed ${seed}: ${transfers} transfers, ${customers} customers × ${record.wallets.length / customers} currencies, ${shards} wallet shard databases + accounting, ${workers} workers`,
    );
    out.push('', faultTable(record.faults));
    out.push(
      '',
      table(
        ['transfers by final state', 'count'],
        countBy([...finalStatuses.values()], (s) => s),
      ),
    );
    out.push(
      '',
      table(
        ['answer to POST /v1/transfers', 'count'],
        countBy(
          record.transfers.flatMap((t) => t.answers),
          (a) => `${a.status}${a.code ? ` ${a.code}` : ''}`,
        ),
      ),
    );
    out.push(
      '',
      table(
        ['finance decision → answer', 'count'],
        countBy(record.decisions, (d) => `${d.kind} → ${d.status}${d.code ? ` ${d.code}` : ''}`),
      ),
    );
    out.push(
      '',
      table(
        ['cancelled through Temporal in', 'count'],
        countBy(
          record.temporalCancels.filter((c) => c.ok),
          (c) => c.step ?? 'unknown',
        ),
      ),
    );
    out.push(
      '',
      table(
        ['transfers sent by route', 'count'],
        countBy(record.transfers, (t) => t.route),
      ),
    );
    out.push('', errorsTable(errors));
    out.push('', shardOutageAnswersTable(record));
    out.push('', speedTable(record, timed));
    const workerLogs = await Promise.all(
      cluster.workerNames.map((w) => readFile(cluster.logPath(w), 'utf8').catch(() => '')),
    );
    out.push('', shardOutageTable(record, timed, parksInLogs(workerLogs)));
    out.push('', formatCheckTable(rows));
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    for (const db of databases) await db.store.close().catch(() => undefined);
    await connection.close();
  }

  const violations = rows.reduce((n, r) => n + r.violations.length, 0);
  const failed = violations > 0;
  log(
    `${failed ? `FAILED: ${violations} violation(s)` : 'passed: 0 violations'} in ${((Date.now() - t0) / 1000).toFixed(0)}s (seed ${seed})`,
  );
  await cluster.stop({ keepDir: failed || args.keep });
  process.removeListener('exit', onExit);
  if (failed || args.keep) log(`logs and data kept in ${cluster.dir}`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`chaos run failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(2);
  },
);
