import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { loadConfig } from '../config';
import { RestartBudget } from './restart-budget';
import { DEV_SERVER_TUNING_ARGS, findTemporalCli, repoRoot, searchAttributeArgs } from './temporal-cli';

/**
 * The local stack behind `npm start` (scripts/dev-stack.sh makes sure Postgres and Redis run and
 * builds, then runs this from dist/scripts): a persistent Temporal dev server with the UI and our
 * search attributes, migrations, the API and WORKERS worker processes, every line of their output
 * prefixed with the process name. Once the API and every worker report ready it prints where
 * everything is (`[dev-stack] ready`).
 *
 * Databases (docs/architecture.md §9), all on the Postgres of DATABASE_URL (default .../wallet), created
 * and migrated on start: DEV_WALLET_SHARDS (2) wallet shard databases — `wallet` (database 0, with the
 * service-wide tables), `wallet_s1`, … — and the accounting book's `wallet_accounting`. So a first
 * transfer between two users is, most likely, a cross-shard one. SHARD_DATABASE_URLS and
 * ACCOUNTING_DATABASE_URL, when set, win; SHARD_MAP defaults to equal ranges (pin it before changing
 * the count on a stack with data: docs/operations.md#moving-a-logical-shard).
 *
 * Settings (environment; the defaults are a developer's stack):
 *   WORKERS (2)                      worker processes
 *   DEV_WALLET_SHARDS (2)            wallet shard databases (1: one database for everything)
 *   PORT (3000), HOST (127.0.0.1)    the API
 *   DEV_TEMPORAL_PORT (7233)         Temporal frontend; the UI on DEV_TEMPORAL_UI_PORT (port + 1000)
 *   WORKER_METRICS_PORT (9464)       worker n serves /metrics and /health on 9464 + 2(n-1), its Temporal
 *                                    SDK exporter on the port after it
 *   DEV_STACK_DATA_DIR (.data)       the Temporal state (temporal.db): workflows survive a restart
 *   WORKER_BENCH_BASELINE (true)     the workers also run the bench's bare workflows (`npm run bench`)
 *   DATABASE_URL, REDIS_URL, REDIS_KEY_PREFIX, LOG_LEVEL, ...: as for the processes (config/index.ts)
 *
 * Every child runs in its own process group, so a Ctrl-C in the terminal reaches only this launcher,
 * which then stops things in order and signals each process exactly once: SIGTERM to the API and the
 * workers (workers drain in-flight activities), and only when they are gone, SIGTERM to the Temporal
 * server; whatever outlives its grace period is SIGKILLed. A worker exiting on its own (a crash, e.g.
 * temporalio/sdk-typescript#939 after a long SIGSTOP) is reported loudly and restarted after a growing delay, at most
 * 5 times in 10 minutes (scripts/restart-budget.ts), as compose and Kubernetes restart theirs; any
 * other child exiting on its own, or a worker past that budget, stops the whole stack, loudly. A
 * second Ctrl-C kills everything at once.
 */

const ROOT = repoRoot();
const HOST = '127.0.0.1';
const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/wallet';

function portSetting(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`${name} must be a port number (1-65535), got ${raw}`);
  return port;
}

const TEMPORAL_PORT = portSetting('DEV_TEMPORAL_PORT', 7233);
const TEMPORAL_UI_PORT = portSetting('DEV_TEMPORAL_UI_PORT', TEMPORAL_PORT + 1000);
const DATA_DIR = path.resolve(ROOT, process.env.DEV_STACK_DATA_DIR || '.data');
const TEMPORAL_DB = path.join(DATA_DIR, 'temporal.db');

/** The URL of database `name + suffix` on the server of `url`. */
function sibling(url: string, suffix: string): string {
  const u = new URL(url);
  u.pathname = `${u.pathname.replace(/\/$/, '')}${suffix}`;
  return u.toString();
}

/**
 * The stack's databases beside DATABASE_URL: DEV_WALLET_SHARDS − 1 more wallet shard databases
 * (`<name>_s1`, …) and the accounting book's (`<name>_accounting`), unless configured explicitly.
 */
function devDatabases(env: NodeJS.ProcessEnv): { SHARD_DATABASE_URLS?: string; ACCOUNTING_DATABASE_URL: string } {
  const base = env.DATABASE_URL || DEFAULT_DATABASE_URL;
  const count = Number(env.DEV_WALLET_SHARDS || 2);
  if (!Number.isInteger(count) || count < 1 || count > 64)
    throw new Error(`DEV_WALLET_SHARDS must be a whole number from 1 to 64, got ${env.DEV_WALLET_SHARDS}`);
  const shardUrls = Array.from({ length: count - 1 }, (_, i) => sibling(base, `_s${i + 1}`)).join(',');
  const urls = env.SHARD_DATABASE_URLS || shardUrls;
  return {
    ...(urls ? { SHARD_DATABASE_URLS: urls } : {}),
    ACCOUNTING_DATABASE_URL: env.ACCOUNTING_DATABASE_URL || sibling(base, '_accounting'),
  };
}

/** `name (logical shards a-b)` per wallet shard database, and the accounting book's, for the ready lines. */
function describeDatabases(config: ReturnType<typeof loadConfig>): string[] {
  const nameOf = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));
  const ranges = config.shardDatabaseUrls.map(() => [] as string[]);
  for (let shard = 0; shard < config.shardMap.length;) {
    const db = config.shardMap[shard]!;
    let last = shard;
    while (config.shardMap[last + 1] === db) last += 1;
    ranges[db]!.push(shard === last ? `${shard}` : `${shard}-${last}`);
    shard = last + 1;
  }
  return [
    ...config.shardDatabaseUrls.map((url, i) => `db-${i} ${nameOf(url)} (logical shards ${ranges[i]!.join(',')})`),
    `accounting ${nameOf(config.accountingDatabaseUrl)}`,
  ];
}

interface Proc {
  name: string;
  child: ChildProcess;
  /** a one-shot job (migrations): its exit is expected */
  oneShot: boolean;
  done: boolean;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const procs: Proc[] = [];
let stopping = false;
let exitCode = 0;
let nameWidth = 8;

function log(msg: string): void {
  process.stdout.write(`[dev-stack] ${msg}\n`);
}
function loud(msg: string): void {
  const bar = '!'.repeat(Math.min(100, msg.length + 8));
  process.stderr.write(`\n${bar}\n!!! ${msg}\n${bar}\n\n`);
}

function prefixLines(from: Readable | null, to: Writable, tag: string): void {
  if (!from) return;
  readline.createInterface({ input: from, crlfDelay: Infinity }).on('line', (line) => to.write(`${tag}${line}\n`));
}

interface StartOptions {
  /** a one-shot job (migrations): its exit is expected */
  oneShot?: boolean;
  /** restarted when it exits on its own, within this budget (workers) */
  restart?: RestartBudget;
  /** polled after a restart, to say when it serves again */
  ready?: () => Promise<boolean>;
}

function start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv, opts: StartOptions = {}): Proc {
  const oneShot = opts.oneShot ?? false;
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const tag = `[${name}]`.padEnd(nameWidth + 2) + ' ';
  prefixLines(child.stdout, process.stdout, tag);
  prefixLines(child.stderr, process.stderr, tag);
  const proc: Proc = { name, child, oneShot, done: false, exited: Promise.resolve({ code: null, signal: null }) };
  proc.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      proc.done = true;
      resolve({ code, signal });
    });
    child.once('error', (err) => {
      // spawn failure (no 'exit' follows)
      process.stderr.write(`${tag}failed to start ${command}: ${err.message}\n`);
      proc.done = true;
      resolve({ code: 127, signal: null });
    });
  });
  procs.push(proc);
  void proc.exited.then(({ code, signal }) => {
    if (stopping) return;
    if (proc.oneShot && code === 0) return;
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    const budget = opts.restart;
    const next = budget?.take();
    if (!budget || !next) {
      const spent = budget
        ? ` (restarted ${budget.maxRestarts} times in ${budget.windowMs / 60_000} minutes already)`
        : '';
      loud(`${name} exited unexpectedly (${how})${spent}: stopping the whole stack`);
      void shutdown(1);
      return;
    }
    loud(
      `${name} exited unexpectedly (${how}): restarting it in ${next.delayMs / 1000}s ` +
        `(restart ${next.restart} of at most ${budget.maxRestarts} in ${budget.windowMs / 60_000} minutes)`,
    );
    setTimeout(() => {
      if (stopping) return;
      log(`restarting ${name}`);
      start(name, command, args, env, opts);
      if (opts.ready) {
        void waitUntil(`${name} (restarted)`, 60, opts.ready).then((ok) => ok && log(`${name} restarted and ready`));
      }
    }, next.delayMs).unref();
  });
  return proc;
}

/** Signals the child's whole process group (it is the group leader: spawned with `detached`). */
function signal(proc: Proc, sig: NodeJS.Signals): void {
  if (proc.done || proc.child.pid === undefined) return;
  try {
    process.kill(-proc.child.pid, sig);
  } catch {
    // already gone
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function stopAll(list: Proc[], graceMs: number): Promise<void> {
  const running = list.filter((p) => !p.done);
  if (running.length === 0) return;
  log(`stopping ${running.map((p) => p.name).join(', ')} (SIGTERM, up to ${Math.round(graceMs / 1000)}s)`);
  for (const p of running) signal(p, 'SIGTERM');
  const allExited = Promise.all(running.map((p) => p.exited)).then(() => true);
  if (!(await Promise.race([allExited, sleep(graceMs).then(() => false)]))) {
    const stuck = running.filter((p) => !p.done);
    log(`still running after ${Math.round(graceMs / 1000)}s: ${stuck.map((p) => p.name).join(', ')}: SIGKILL`);
    for (const p of stuck) signal(p, 'SIGKILL');
    await allExited;
  }
}

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  exitCode = code;
  const graceSeconds = Number(process.env.WORKER_SHUTDOWN_GRACE_SECONDS ?? 30);
  // API and workers first, while the Temporal server is still up for the workers to report to
  await stopAll(
    procs.filter((p) => p.name !== 'temporal'),
    (Number.isFinite(graceSeconds) ? graceSeconds : 30) * 1000 + 10_000,
  );
  await stopAll(
    procs.filter((p) => p.name === 'temporal'),
    15_000,
  );
  log(code === 0 ? 'stopped' : 'stopped after a failure');
  process.exit(code);
}

function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Polls `check` every 500 ms until it succeeds, the stack is stopping, or `seconds` pass. */
async function waitUntil(what: string, seconds: number, check: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (stopping) return false;
    if (await check()) return true;
    await sleep(500);
  }
  loud(`${what} not ready after ${seconds}s`);
  return false;
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

function temporalHealthy(cli: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(
      cli,
      ['operator', 'cluster', 'health', '--address', `${HOST}:${TEMPORAL_PORT}`],
      { timeout: 5000 },
      (err, stdout) => resolve(!err && /SERVING/i.test(stdout)),
    );
  });
}

async function main(): Promise<void> {
  const cli = findTemporalCli();
  if (!cli)
    throw new Error('no Temporal CLI found: run `bash scripts/ensure-deps.sh` (installs it into .tools/temporal)');

  const workers = Number(process.env.WORKERS ?? 2);
  if (!Number.isInteger(workers) || workers < 0)
    throw new Error(`WORKERS must be a non-negative integer, got ${process.env.WORKERS}`);

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: process.env.DATABASE_URL || DEFAULT_DATABASE_URL,
    // every process (migrate, schedules, API, workers) sees the same databases
    ...devDatabases(process.env),
    TEMPORAL_ADDRESS: `${HOST}:${TEMPORAL_PORT}`,
    // the finance console links each transfer to its workflow in this stack's Temporal UI
    TEMPORAL_UI_URL: process.env.TEMPORAL_UI_URL || `http://${HOST}:${TEMPORAL_UI_PORT}`,
    // the children write to pipes; pretty logs (with colours) when this launcher's terminal is a TTY
    ...(process.stdout.isTTY && !process.env.LOG_FORMAT ? { LOG_FORMAT: 'pretty', FORCE_COLOR: '1' } : {}),
  };
  delete env.TEMPORAL_METRICS_PORT; // set per worker below
  const config = loadConfig(env); // fail now on a bad setting, not in every child
  const localHost = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  const apiUrl = `http://${localHost}:${config.PORT}`;
  // worker n (1-based): its /metrics + /health server, then the Temporal SDK exporter on the next port
  const metricsBase = config.WORKER_METRICS_PORT || 9464;
  const workerPorts = Array.from({ length: workers }, (_, i) => ({
    metrics: metricsBase + 2 * i,
    temporal: metricsBase + 2 * i + 1,
  }));
  const workerUrl = (n: number) => `http://${localHost}:${workerPorts[n - 1]!.metrics}`;

  for (const [what, port] of [
    ['Temporal', TEMPORAL_PORT],
    ['Temporal UI', TEMPORAL_UI_PORT],
    ['API', config.PORT],
    ...workerPorts.flatMap(
      (p, i) =>
        [
          [`worker-${i + 1} metrics`, p.metrics],
          [`worker-${i + 1} Temporal SDK metrics`, p.temporal],
        ] as const,
    ),
  ] as const) {
    if (await portInUse(port)) {
      throw new Error(`port ${port} (${what}) is already in use on ${HOST}: is another dev stack running?`);
    }
  }
  nameWidth = Math.max('schedules'.length, `worker-${workers}`.length);

  fs.mkdirSync(path.dirname(TEMPORAL_DB), { recursive: true });
  log(`starting the Temporal dev server (${path.relative(ROOT, cli)}, data in ${path.relative(ROOT, TEMPORAL_DB)})`);
  start(
    'temporal',
    cli,
    [
      'server',
      'start-dev',
      '--db-filename',
      TEMPORAL_DB,
      ...DEV_SERVER_TUNING_ARGS,
      '--ip',
      HOST,
      '--port',
      String(TEMPORAL_PORT),
      '--ui-port',
      String(TEMPORAL_UI_PORT),
      '--namespace',
      config.TEMPORAL_NAMESPACE,
      ...searchAttributeArgs(),
    ],
    env,
  );
  if (!(await waitUntil('Temporal dev server', 60, () => temporalHealthy(cli)))) return shutdown(1);
  log(`Temporal dev server is up on ${HOST}:${TEMPORAL_PORT}`);

  const migrate = start('migrate', process.execPath, [path.join(ROOT, 'dist', 'scripts', 'migrate.js')], env, {
    oneShot: true,
  });
  const { code } = await migrate.exited;
  if (stopping) return;
  if (code !== 0) return; // reported and stopping already

  // the reconciliation and retention Schedules, created or updated to this configuration (idempotent)
  const schedules = start(
    'schedules',
    process.execPath,
    [path.join(ROOT, 'dist', 'scripts', 'ensure-schedules.js')],
    env,
    {
      oneShot: true,
    },
  );
  if ((await schedules.exited).code !== 0 || stopping) return;

  start('api', process.execPath, [path.join(ROOT, 'dist', 'api', 'main.js')], env);
  for (let n = 1; n <= workers; n++) {
    start(
      `worker-${n}`,
      process.execPath,
      [path.join(ROOT, 'dist', 'worker', 'main.js')],
      {
        ...env,
        WORKER_ID: String(n),
        // `npm run bench` runs its bare workflows on these very workers (a production config refuses it)
        WORKER_BENCH_BASELINE: process.env.WORKER_BENCH_BASELINE ?? String(config.NODE_ENV !== 'production'),
        WORKER_METRICS_PORT: String(workerPorts[n - 1]!.metrics),
        TEMPORAL_METRICS_PORT: String(workerPorts[n - 1]!.temporal),
      },
      { restart: new RestartBudget(), ready: () => httpOk(`${workerUrl(n)}/health/ready`) },
    );
  }

  if (!(await waitUntil('API', 60, () => httpOk(`${apiUrl}/health/ready`)))) return shutdown(1);
  for (let n = 1; n <= workers; n++) {
    if (!(await waitUntil(`worker-${n}`, 60, () => httpOk(`${workerUrl(n)}/health/ready`)))) return shutdown(1);
  }
  const rows: Array<[string, string]> = [
    ['API', apiUrl],
    ['API docs', `${apiUrl}/docs  (OpenAPI: ${apiUrl}/openapi.json)`],
    ['Console', `${apiUrl}/console/  (sign in: npm run -s token -- --sub fiona --role finance --console)`],
    ['API metrics', `${apiUrl}/metrics`],
    [
      'Temporal UI',
      `http://${HOST}:${TEMPORAL_UI_PORT}  (gRPC ${HOST}:${TEMPORAL_PORT}, namespace ${config.TEMPORAL_NAMESPACE})`,
    ],
    ...Array.from({ length: workers }, (_, i): [string, string] => [
      `worker-${i + 1}`,
      `${workerUrl(i + 1)}/metrics  ${workerUrl(i + 1)}/health/ready`,
    ]),
    ...describeDatabases(config).map((line, i): [string, string] => [i === 0 ? 'Databases' : '', line]),
  ];
  log('');
  for (const [what, where] of rows) log(`${what.padEnd(12)} ${where}`);
  log('');
  log(`ready: ${workers} worker process(es) on task queue ${config.TEMPORAL_TASK_QUEUE}; Ctrl-C stops everything`);
  log('');
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    if (!stopping) {
      log(`${sig}: shutting down`);
      void shutdown(0);
      return;
    }
    log(`${sig} again: killing everything now`);
    for (const p of procs) signal(p, 'SIGKILL');
    process.exit(exitCode || 130);
  });
}
// last resort, e.g. on an exception in this launcher: never leave a child behind
process.on('exit', () => {
  for (const p of procs) signal(p, 'SIGKILL');
});

main().catch((err: unknown) => {
  loud(`dev stack failed: ${err instanceof Error ? err.message : String(err)}`);
  void shutdown(1);
});
