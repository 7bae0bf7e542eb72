import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import type { AccountingPort } from '../domain/transfers/accounting-port';

/** Everything activities touch, injected once per worker process (createActivities). */
export interface ActivityDeps {
  db: DataSource;
  redis: Redis;
  accounting: AccountingPort;
}
