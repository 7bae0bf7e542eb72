import 'reflect-metadata';
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
 * `ds.initialize()` that may be tried again after it failed (Postgres down at start-up): a failed
 * attempt can leave the pool it opened behind (TypeORM keeps it when the first query fails), so it
 * is ended here instead of piling up one pool per attempt.
 */
export async function initializeDataSource(ds: DataSource): Promise<void> {
  try {
    await ds.initialize();
  } catch (err) {
    if (!ds.isInitialized) {
      const driver = ds.driver as unknown as { master?: { end(): Promise<void> } };
      const pool = driver.master;
      driver.master = undefined;
      await pool?.end().catch(() => undefined);
    }
    throw err;
  }
}
