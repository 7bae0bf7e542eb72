import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import type { AccountingPort } from '../domain/transfers/accounting-port';
import type { WorkerMetrics } from '../observability/metrics';

/** Everything activities touch, injected once per worker process (createActivities). */
export interface ActivityDeps {
  db: DataSource;
  redis: Redis;
  accounting: AccountingPort;
  /** the worker's Prometheus metrics (observability/metrics.ts createWorkerMetrics) */
  metrics: WorkerMetrics;
}
