import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type LogLevel, type WorkflowBundleOption } from '@temporalio/worker';
import { loadConfig, type Config } from '../../config';
import { runMigrations } from '../../db/migrate';
import { createShardSet, type ShardSet } from '../../db/shards';
import { createStore, type Store } from '../../db/store';
import { dropDatabase, ensureDatabase } from '../../scripts/migrate';
import { bundleTransferWorkflows } from '../../worker/bundle';

/**
 * Helpers for tests. test/global-setup.ts has already put this run's settings in process.env:
 * DATABASE_URL (a fresh, migrated database), TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE (a dev server),
 * TEMPORAL_TASK_QUEUE (unique to the run) and WORKFLOW_BUNDLE_PATH (the workflows, bundled once).
 */

/** The validated config of this test run; `overrides` win over process.env. */
export function testConfig(overrides: NodeJS.ProcessEnv = {}): Config {
  return loadConfig({ ...process.env, NODE_ENV: 'test', ...overrides });
}

/** A connected Store on the run's database. Call `close()` in afterAll. */
export async function createTestStore(opts: { poolMax?: number } = {}): Promise<Store> {
  const store = createStore({
    url: testConfig().DATABASE_URL,
    poolMax: opts.poolMax ?? 5,
    applicationName: 'wallet-test',
  });
  await store.connect();
  return store;
}

/**
 * Every database of the run (its wallet shard databases and the accounting book), connected: route a
 * wallet's rows with `forWallet(id).store`, an owner's with `forOwner(ownerId).store`. Close it in afterAll.
 */
export async function createTestShards(
  opts: { poolMax?: number; overrides?: NodeJS.ProcessEnv } = {},
): Promise<ShardSet> {
  const shards = createShardSet(testConfig(opts.overrides), {
    poolMax: opts.poolMax ?? 5,
    applicationName: 'wallet-test',
  });
  await shards.connect();
  return shards;
}

/** A Temporal client on the run's dev server. Close it with `client.connection.close()` in afterAll. */
export async function connectTemporalClient(): Promise<Client> {
  const cfg = testConfig();
  const connection = await Connection.connect({ address: cfg.TEMPORAL_ADDRESS });
  return new Client({ connection, namespace: cfg.TEMPORAL_NAMESPACE });
}

/**
 * Installs this test process's Temporal Runtime with an ERROR logger (TEMPORAL_TEST_LOG_LEVEL to change),
 * instead of the default INFO one that logs every worker state change, and without the Runtime's
 * SIGINT/SIGTERM handlers, so a signal stops the test process instead of being swallowed.
 * Must run before the first Worker/NativeConnection of the test file; a no-op when too late or done.
 */
export function quietTemporalRuntime(): void {
  try {
    // ERROR by default: the SDK logs every business refusal (insufficient funds, …) as a WARN
    const level = (process.env.TEMPORAL_TEST_LOG_LEVEL ?? 'ERROR') as LogLevel;
    Runtime.install({ logger: new DefaultLogger(level), shutdownSignals: [] });
  } catch {
    // already installed or instantiated
  }
}

/** A worker-side connection to the run's dev server, for `Worker.create({ connection })`. Close it after the worker. */
export async function connectWorkerConnection(): Promise<NativeConnection> {
  quietTemporalRuntime();
  return NativeConnection.connect({ address: testConfig().TEMPORAL_ADDRESS });
}

/** A task queue name nobody else in this run uses (so tests and their workers never steal each other's tasks). */
export function uniqueTaskQueue(prefix = 'test'): string {
  return `${testConfig().TEMPORAL_TASK_QUEUE}-${prefix}-${randomUUID().slice(0, 8)}`;
}

let fallbackBundle: Promise<WorkflowBundleOption> | undefined;

/**
 * The `workflowBundle` option for `Worker.create`: the bundle global setup built once for the whole run,
 * so test files do not each spend seconds in webpack. Outside a jest run with global setup, bundles here (once).
 */
export function workflowBundle(): Promise<WorkflowBundleOption> {
  const codePath = process.env.WORKFLOW_BUNDLE_PATH;
  if (codePath) return Promise.resolve({ codePath });
  fallbackBundle ??= bundleTransferWorkflows({ logger: new DefaultLogger('WARN') }).then(({ code }) => ({ code }));
  return fallbackBundle;
}

/**
 * A database of a test file's own on the run's server, for a file that must see only its own rows (or
 * must not show its rows to the other files): `url` at once, `create()` (created and migrated) in
 * beforeAll, `drop()` in afterAll.
 */
export function ownDatabase(label: string): {
  url: string;
  overrides: NodeJS.ProcessEnv;
  create(): Promise<void>;
  drop(): Promise<void>;
} {
  const url = new URL(testConfig().DATABASE_URL);
  url.pathname = `/wallet_${label}_${Date.now()}_${process.pid}`;
  const databaseUrl = url.toString();
  return {
    url: databaseUrl,
    async create() {
      await ensureDatabase(databaseUrl);
      await runMigrations(databaseUrl);
    },
    /** the settings of an app or worker on this database alone: one wallet shard database, the book in it too */
    get overrides(): NodeJS.ProcessEnv {
      return { DATABASE_URL: databaseUrl, SHARD_DATABASE_URLS: '', SHARD_MAP: '', ACCOUNTING_DATABASE_URL: '' };
    },
    async drop() {
      await dropDatabase(databaseUrl);
    },
  };
}

/**
 * Two wallet shard databases and an accounting one of a test file's own, for a file that takes a
 * database away (an outage must not reach the other files, which share the run's databases):
 * `overrides` at once (the settings of an app or worker on them), `create()` in beforeAll, `drop()` in afterAll.
 */
export function ownShardedDatabases(label: string): {
  urls: { shard0: string; shard1: string; accounting: string };
  overrides: NodeJS.ProcessEnv;
  create(): Promise<void>;
  drop(): Promise<void>;
} {
  const stamp = `${Date.now()}_${process.pid}`;
  const named = (suffix: string) => {
    const url = new URL(testConfig().DATABASE_URL);
    url.pathname = `/wallet_${label}_${stamp}_${suffix}`;
    return url.toString();
  };
  const urls = { shard0: named('s0'), shard1: named('s1'), accounting: named('accounting') };
  const all = [urls.shard0, urls.shard1, urls.accounting];
  return {
    urls,
    overrides: {
      DATABASE_URL: urls.shard0,
      SHARD_DATABASE_URLS: urls.shard1,
      SHARD_MAP: '',
      ACCOUNTING_DATABASE_URL: urls.accounting,
    },
    async create() {
      for (const url of all) {
        await ensureDatabase(url);
        await runMigrations(url);
      }
    },
    async drop() {
      for (const url of all) await dropDatabase(url);
    },
  };
}
