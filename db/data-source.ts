import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { CONNECT_TIMEOUT_MS } from './store';
import { migrations } from './migrations';

export { migrations } from './migrations';

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
