import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Client } from 'pg';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadConfig } from '../config';
import { runMigrations } from '../db/migrate';
import { dropDatabase, ensureDatabase, maintenanceUrl } from '../scripts/migrate';
import { DEV_SERVER_TUNING_ARGS, findTemporalCli } from '../scripts/temporal-cli';
import { bundleTransferWorkflows } from '../worker/bundle';
import { transferSearchAttributes } from '../workflows/contract';

/**
 * What one test run set up, kept on globalThis for test/global-teardown.ts
 * (globalSetup and globalTeardown run in the same, main jest process).
 */
export interface TestRunState {
  databaseUrl?: string;
  databaseName?: string;
  /** every database of the run: the wallet shard databases (databaseUrl first) and the accounting book's */
  databaseUrls?: string[];
  temporal?: TestWorkflowEnvironment;
  tmpDir?: string;
  /** Our SIGINT/SIGTERM handler, removed again by the teardown. */
  onSignal?: (signal: NodeJS.Signals) => void;
}

declare global {
  var __walletTestRun: TestRunState | undefined;
}

const log = (msg: string): void => console.log(`[global-setup] ${msg}`);

function timestamp(d = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await fn();
  log(`${what} (${Date.now() - started} ms)`);
  return result;
}

const TEST_DB_PATTERN = /^wallet_test_(\d{14})_(\d+)(_s\d+|_accounting)?$/;
const TMP_PREFIX = 'wallet-test-';
/** Wallet shard databases of a run unless TEST_WALLET_SHARDS says otherwise (docs/testing.md). */
const DEFAULT_TEST_WALLET_SHARDS = 2;
const KEPT_COMMENT = 'KEEP_TEST_DB';

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `yyyymmddhhmmss` (UTC, as made by timestamp()) to epoch ms. */
function parseTimestamp(ts: string): number {
  const iso = ts.replace(/^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)$/, '$1-$2-$3T$4:$5:$6Z');
  return Date.parse(iso);
}

/**
 * Removes what earlier runs on this machine left behind when they were killed (SIGKILL, OOM) before
 * their teardown: test databases and temp dirs whose jest process is gone. Only on a local Postgres
 * (the pid check means nothing elsewhere), only databases older than 10 minutes, never one kept with
 * KEEP_TEST_DB=1. Best effort: a failure here is reported, never fatal.
 */
async function reapLeftovers(serverUrl: string): Promise<void> {
  try {
    for (const entry of fs.readdirSync(os.tmpdir())) {
      const m = new RegExp(`^${TMP_PREFIX}(\\d+)-`).exec(entry);
      if (m && !processAlive(Number(m[1]))) fs.rmSync(path.join(os.tmpdir(), entry), { recursive: true, force: true });
    }
    const host = new URL(serverUrl).hostname;
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(host)) return;
    const client = new Client({ connectionString: maintenanceUrl(serverUrl) });
    await client.connect();
    try {
      const { rows } = await client.query<{ datname: string; comment: string | null }>(
        `SELECT datname, shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname LIKE 'wallet\\_test\\_%'`,
      );
      for (const { datname, comment } of rows) {
        const m = TEST_DB_PATTERN.exec(datname);
        if (!m || comment === KEPT_COMMENT) continue;
        if (Date.now() - parseTimestamp(m[1] ?? '') < 10 * 60_000 || processAlive(Number(m[2]))) continue;
        await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
        log(`dropped ${datname}, left behind by a test run that no longer exists`);
      }
    } finally {
      await client.end();
    }
  } catch (err) {
    log(`could not clean up after earlier runs (ignored): ${(err as Error).message}`);
  }
}

async function markKept(databaseUrls: string[]): Promise<void> {
  const client = new Client({ connectionString: maintenanceUrl(databaseUrls[0]!) });
  await client.connect();
  try {
    for (const url of databaseUrls) {
      await client.query(`COMMENT ON DATABASE "${new URL(url).pathname.slice(1)}" IS '${KEPT_COMMENT}'`);
    }
  } finally {
    await client.end();
  }
}

/** Releases everything in `state`; every step runs even if an earlier one fails. */
export async function cleanupTestRun(state: TestRunState, { keepDb = false } = {}): Promise<void> {
  const errors: unknown[] = [];
  if (state.onSignal) {
    process.off('SIGINT', state.onSignal);
    process.off('SIGTERM', state.onSignal);
    state.onSignal = undefined;
  }
  if (state.temporal) {
    try {
      await state.temporal.teardown();
    } catch (err) {
      errors.push(err);
    }
    state.temporal = undefined;
  }
  if (state.databaseUrls) {
    if (keepDb) {
      try {
        // marked, so that later runs do not take them for the leftovers of a killed run
        await markKept(state.databaseUrls);
        console.log(`[global-teardown] KEEP_TEST_DB=1: keeping databases ${state.databaseName}*`);
      } catch (err) {
        errors.push(err);
      }
    } else {
      for (const url of state.databaseUrls) {
        try {
          await dropDatabase(url);
        } catch (err) {
          errors.push(err);
        }
      }
    }
    state.databaseUrls = undefined;
    state.databaseUrl = undefined;
  }
  if (state.tmpDir) {
    fs.rmSync(state.tmpDir, { recursive: true, force: true });
    state.tmpDir = undefined;
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, 'test run cleanup failed');
}

/**
 * Once per `jest` run, before any test file:
 *  - a fresh Postgres database with all migrations applied   -> DATABASE_URL
 *  - a Temporal dev server (real server, SQLite in memory) with our custom search
 *    attributes registered                                    -> TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE
 *  - the workflows bundled once                               -> WORKFLOW_BUNDLE_PATH (and WORKER_BUNDLE_PATH)
 *  - a task queue name unique to this run                     -> TEMPORAL_TASK_QUEUE
 * Jest starts its test workers after this function returns, with the parent's process.env,
 * so these variables reach every test file (in band or in a worker).
 */
export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const state: TestRunState = {};
  globalThis.__walletTestRun = state;

  // The Temporal Runtime of this (main jest) process would by default catch SIGINT/SIGTERM to shut
  // down workers, which swallows the signal: `kill <jest>` (e.g. a CI timeout) would then be ignored.
  // It has no workers here, so: no Runtime signal handling, and our own handler below stops the
  // dev server and drops the database before exiting with the signal's status.
  try {
    Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  } catch {
    // already installed (jest --watch runs globalSetup again in the same process)
  }
  state.onSignal = (signal) => {
    console.error(`\n[global-setup] ${signal}: stopping the Temporal dev server and dropping the test database`);
    const code = 128 + (os.constants.signals[signal] ?? 1);
    setTimeout(() => process.exit(code), 15_000).unref(); // never hang on the way out
    globalThis.__walletTestRun = undefined;
    cleanupTestRun(state, { keepDb: process.env.KEEP_TEST_DB === '1' })
      .catch((err: unknown) => console.error('[global-setup] cleanup failed:', err))
      .finally(() => process.exit(code));
  };
  process.once('SIGINT', state.onSignal);
  process.once('SIGTERM', state.onSignal);

  try {
    // (a) database
    const base = new URL(loadConfig(process.env).DATABASE_URL);
    await reapLeftovers(base.toString());
    state.databaseName = `wallet_test_${timestamp()}_${process.pid}`;
    base.pathname = `/${state.databaseName}`;
    const databaseUrl = base.toString();
    // TEST_WALLET_SHARDS wallet shard databases (`…_s1`, …) and the accounting book's own (`…_accounting`)
    const shardCount = Number(process.env.TEST_WALLET_SHARDS ?? DEFAULT_TEST_WALLET_SHARDS);
    const named = (suffix: string) => {
      const u = new URL(databaseUrl);
      u.pathname = `/${state.databaseName}${suffix}`;
      return u.toString();
    };
    const shardUrls = [databaseUrl, ...Array.from({ length: shardCount - 1 }, (_, i) => named(`_s${i + 1}`))];
    const accountingUrl = shardCount > 1 ? named('_accounting') : databaseUrl;
    state.databaseUrl = databaseUrl;
    state.databaseUrls = [...new Set([...shardUrls, accountingUrl])];
    await timed(`${state.databaseUrls.length} database(s) ${state.databaseName}* created and migrated`, () =>
      Promise.all(
        state.databaseUrls!.map(async (url) => {
          await ensureDatabase(url);
          const applied = await runMigrations(url);
          if (applied.length === 0) throw new Error(`no migrations were applied to the fresh test database ${url}`);
        }),
      ),
    );
    if (shardCount > 1) {
      process.env.SHARD_DATABASE_URLS = shardUrls.slice(1).join(',');
      process.env.ACCOUNTING_DATABASE_URL = accountingUrl;
    } else {
      delete process.env.SHARD_DATABASE_URLS;
      delete process.env.ACCOUNTING_DATABASE_URL;
    }

    // (b) Temporal dev server
    const cli = findTemporalCli();
    if (!cli) log('no Temporal CLI found (.tools/temporal, PATH, TEMPORAL_CLI_PATH): letting the SDK download it');
    state.temporal = await timed(`Temporal dev server started (${cli ?? 'SDK download'})`, () =>
      TestWorkflowEnvironment.createLocal({
        server: {
          executable: cli ? { type: 'existing-path', path: cli } : undefined,
          ip: '127.0.0.1',
          namespace: 'default',
          searchAttributes: transferSearchAttributes,
          log: { format: 'pretty', level: 'error' },
          // the same server settings as `npm start`, so the tests run the server the bench measures
          extraArgs: [...DEV_SERVER_TUNING_ARGS],
        },
      }),
    );

    // (c) the workflow bundle, built once for the whole run
    state.tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), `${TMP_PREFIX}${process.pid}-`));
    const bundlePath = path.join(state.tmpDir, 'workflow-bundle.js');
    await timed('workflows bundled', async () => {
      const { code } = await bundleTransferWorkflows({ logger: new DefaultLogger('WARN') });
      fs.writeFileSync(bundlePath, code);
    });

    // (d) + (e) environment for the test files
    process.env.NODE_ENV = 'test';
    process.env.DATABASE_URL = databaseUrl;
    process.env.TEMPORAL_ADDRESS = state.temporal.address;
    process.env.TEMPORAL_NAMESPACE = state.temporal.namespace ?? 'default';
    process.env.TEMPORAL_TASK_QUEUE = `wallet-test-${timestamp()}-${process.pid}`;
    process.env.WORKFLOW_BUNDLE_PATH = bundlePath;
    process.env.WORKER_BUNDLE_PATH = bundlePath; // the name config/index.ts uses for the same thing
    process.env.WALLET_TEST_RUN = '1';
    // worker processes the tests start serve /metrics and /health on a free port, without the Temporal
    // SDK exporter (fixed ports would collide between workers, runs and a running `npm start`)
    process.env.WORKER_METRICS_PORT = '0';
    process.env.TEMPORAL_METRICS_PORT = '0';
    // Redis is shared with other runs and the dev stack: this run's keys live under their own prefix
    process.env.REDIS_KEY_PREFIX = `wallet-test-${timestamp()}-${process.pid}:`;
    log(
      `ready in ${Date.now() - started} ms: DATABASE_URL db=${state.databaseName} (${shardCount} wallet shard database(s)), ` +
        `TEMPORAL_ADDRESS=${process.env.TEMPORAL_ADDRESS}, TEMPORAL_TASK_QUEUE=${process.env.TEMPORAL_TASK_QUEUE}`,
    );
  } catch (err) {
    // jest does not run globalTeardown when globalSetup throws: clean up here
    await cleanupTestRun(state).catch((cleanupErr: unknown) =>
      console.error('[global-setup] cleanup failed:', cleanupErr),
    );
    globalThis.__walletTestRun = undefined;
    throw err;
  }
}
