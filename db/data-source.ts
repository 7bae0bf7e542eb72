import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { CONNECT_TIMEOUT_MS } from './store';
import { InitialSchema1700000000000 } from './migrations/1700000000000-InitialSchema';
import { AuditLog1700000100000 } from './migrations/1700000100000-AuditLog';
import { AuditDecisionKey1700000200000 } from './migrations/1700000200000-AuditDecisionKey';
import { Reconciliation1700000300000 } from './migrations/1700000300000-Reconciliation';

export const migrations = [
  InitialSchema1700000000000,
  AuditLog1700000100000,
  AuditDecisionKey1700000200000,
  Reconciliation1700000300000,
];

export interface DataSourceOptions {
  url: string;
  poolMax?: number;
  applicationName?: string;
}

/**
 * The TypeORM DataSource of a database, for its migrations (db/migrate.ts): schema changes only through
 * the migrations above, never `synchronize`. Statements at run time go through a Store (db/store.ts).
 */
export function createDataSource({ url, poolMax = 10, applicationName = 'wallet' }: DataSourceOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities: [],
    migrations,
    migrationsTableName: 'schema_migrations',
    synchronize: false,
    logging: false,
    applicationName,
    extra: { max: poolMax, connectionTimeoutMillis: CONNECT_TIMEOUT_MS },
  });
}
