import 'reflect-metadata';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { WalletEntity } from './entities/wallet.entity';
import { TransferEntity } from './entities/transfer.entity';
import { InitialSchema1700000000000 } from './migrations/1700000000000-InitialSchema';
import { AuditLog1700000100000 } from './migrations/1700000100000-AuditLog';
import { AuditDecisionKey1700000200000 } from './migrations/1700000200000-AuditDecisionKey';
import { Reconciliation1700000300000 } from './migrations/1700000300000-Reconciliation';

export const migrations = [InitialSchema1700000000000, AuditLog1700000100000, AuditDecisionKey1700000200000, Reconciliation1700000300000];

export interface DataSourceOptions {
  url: string;
  poolMax?: number;
  applicationName?: string;
}

/** One DataSource per process; schema changes only through the migrations above, never `synchronize`. */
export function createDataSource({ url, poolMax = 10, applicationName = 'wallet' }: DataSourceOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities: [WalletEntity, TransferEntity],
    migrations,
    migrationsTableName: 'schema_migrations',
    synchronize: false,
    logging: false,
    applicationName,
    extra: { max: poolMax, connectionTimeoutMillis: 5000 },
  });
}

/**
 * Callers waiting for a connection of the DataSource's pg pool (TypeORM's Postgres driver: `master`
 * pool). pg-pool queues every request for a moment, even when an idle connection will take it on the
 * next tick; those are not waiting for a slot, so the idle connections are subtracted.
 */
export function poolWaiting(ds: DataSource): number {
  const pool = pgPool(ds);
  return Math.max(0, (pool?.waitingCount ?? 0) - (pool?.idleCount ?? 0));
}

/** The pg pool behind the DataSource (TypeORM's Postgres driver keeps it as `master`), once initialized. */
export function pgPool(ds: DataSource): Pool | undefined {
  return (ds.driver as unknown as { master?: Pool }).master;
}

/**
 * `ds.initialize()` that may be tried again after it failed (Postgres down at start-up): a failed
 * attempt can leave the pool it opened behind (TypeORM keeps it when the first query fails), so it
 * is ended here instead of piling up one pool per attempt.
 */
export async function initializeDataSource(ds: DataSource): Promise<void> {
  try {
    await ds.initialize();
  } catch (err) {
    if (!ds.isInitialized) {
      const pool = pgPool(ds);
      (ds.driver as unknown as { master?: Pool }).master = undefined;
      await pool?.end().catch(() => undefined);
    }
    throw err;
  }
}
