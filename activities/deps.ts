import type { Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type { Config } from '../config';
import type { ShardSet } from '../db/shards';
import type { Store } from '../db/store';
import type { AccountingPort } from '../domain/transfers/accounting-port';
import type { WorkerMetrics } from '../observability/metrics';

/** Everything activities touch, injected once per worker process (createActivities). */
export interface ActivityDeps {
  /** every database: a step picks its wallet's or transfer's (forWallet, forTransfer) and passes its Store to domain/ */
  shards: ShardSet;
  /** database 0 (`shards.home.store`): the service-wide tables (reconciliation runs) */
  db: Store;
  redis: Redis;
  accounting: AccountingPort;
  /** the worker's Prometheus metrics (observability/metrics.ts createWorkerMetrics) */
  metrics: WorkerMetrics;
  /** the worker's settings (reconciliation starts a lost saga with the task queue and saga settings) */
  config: Config;
  /** a Temporal client: reconciliation compares the transfers table with the workflows */
  temporal: Client;
}
