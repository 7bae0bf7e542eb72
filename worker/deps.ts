import { Redis } from 'ioredis';
import type { Config } from '../config';
import { createDataSource } from '../db/data-source';
import { PostgresAccountingBook } from '../domain/transfers/accounting-book';
import type { ActivityDeps } from '../activities';
import { createWorkerMetrics } from '../observability/metrics';

/** The worker's own connections and metrics; the connections are closed by the caller after the worker has drained. */
export async function openActivityDeps(config: Config): Promise<ActivityDeps & { close(): Promise<void> }> {
  const db = createDataSource({ url: config.DATABASE_URL, poolMax: config.DB_POOL_MAX, applicationName: 'wallet-worker' });
  await db.initialize();
  const redis = new Redis(config.REDIS_URL, {
    keyPrefix: config.REDIS_KEY_PREFIX,
    maxRetriesPerRequest: 3,
    connectTimeout: 2000,
  });
  return {
    db,
    redis,
    accounting: new PostgresAccountingBook(db, config.dailyOutgoingLimitMinor),
    metrics: createWorkerMetrics({ db: () => db }),
    async close() {
      redis.disconnect();
      await db.destroy();
    },
  };
}
