import { Client, Connection } from '@temporalio/client';
import { Redis } from 'ioredis';
import type { Config } from '../config';
import { createShardSet } from '../db/shards';
import { PostgresAccountingBook } from '../domain/transfers/accounting-book';
import type { ActivityDeps } from '../activities';
import { errorSummary, type RetryLogger } from '../observability/dependency-retry';
import { createWorkerMetrics } from '../observability/metrics';
import { storeBreakerGauge } from '../observability/store-metrics';

export type WorkerDeps = ActivityDeps & {
  /** ends Redis, the Temporal client and the Postgres pool */
  close(): Promise<void>;
};

const SILENT: RetryLogger = { warn: () => undefined, info: () => undefined };

/**
 * The worker's connections and metrics, Postgres not connected yet (`deps.db.connect()`,
 * worker/main.ts retries it while Postgres is down). Redis connects in the background and keeps
 * reconnecting; its outages are logged as transitions (one line down, one line back), never as
 * ioredis's own "Unhandled error event" on stderr.
 */
export function createActivityDeps(config: Config, logger: RetryLogger = SILENT): WorkerDeps {
  const shards = createShardSet(config, {
    poolMax: config.DB_POOL_MAX,
    applicationName: 'wallet-worker',
    // A frozen database must fail a statement (STORE_UNAVAILABLE: the saga waits) well before the step's
    // attempt times out (a failed attempt: its budget). 10 s, or half the attempt where that is shorter;
    // a connect waits no longer (db/store.ts), or a frozen database would time the attempt out first.
    queryTimeoutMs: Math.min(10_000, (config.TRANSFER_STEP_ATTEMPT_TIMEOUT_SECONDS * 1000) / 2),
  });
  const db = shards.home.store;
  const redis = new Redis(config.REDIS_URL, {
    keyPrefix: config.REDIS_KEY_PREFIX,
    maxRetriesPerRequest: 3,
    connectTimeout: 2000,
  });
  let up = true;
  redis.on('error', (err: Error) => {
    if (up)
      logger.warn({ dependency: 'redis', err: errorSummary(err) }, 'redis unavailable; notifications wait for it');
    up = false;
  });
  redis.on('ready', () => {
    if (!up) logger.info({ dependency: 'redis' }, 'redis available again');
    up = true;
  });
  // lazy: connects on first use, so a worker starting while Temporal is down does not fail here
  const temporal = new Client({
    connection: Connection.lazy({ address: config.TEMPORAL_ADDRESS }),
    namespace: config.TEMPORAL_NAMESPACE,
  });
  // db_connection_pool_waiting over every database's pool; the breaker of each database (its own, per process)
  const metrics = createWorkerMetrics({ stores: () => shards.all.map((d) => d.store) });
  storeBreakerGauge(metrics.registry, () => shards);
  return {
    db,
    shards,
    redis,
    config,
    temporal,
    accounting: new PostgresAccountingBook(shards.accounting.store, config.dailyOutgoingLimitMinor),
    metrics,
    async close() {
      redis.disconnect();
      await temporal.connection.close().catch(() => undefined);
      await shards.close();
    },
  };
}

/** The worker's own connections and metrics, database 0 connected (one attempt); closed by the caller after the worker has drained. */
export async function openActivityDeps(config: Config, logger?: RetryLogger): Promise<WorkerDeps> {
  const deps = createActivityDeps(config, logger);
  try {
    // database 0 only, as worker/main.ts serves: a wallet shard that is down (a test takes one away)
    // is waited for by the sagas that need it
    await deps.shards.connectOne(deps.shards.home);
  } catch (err) {
    await deps.close();
    throw err;
  }
  return deps;
}
