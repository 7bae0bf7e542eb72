import type { QueryConfig } from 'pg';
import type { DataSource } from 'typeorm';
import { pgPool } from './data-source';

/**
 * `SELECT 1` on the DataSource's pg pool (TypeORM's Postgres driver: `master`) with node-postgres' own
 * read timeout, `query_timeout`, for the readiness checks of the API and the worker. When it expires
 * the query fails and pg-pool drops that connection (it is released with the error), so a hung
 * Postgres or a black-holed connection leaves nothing running behind the answer, unlike a timer raced
 * against the promise. The wait for a pooled connection is bounded by the pool's connectionTimeoutMillis
 * (db/data-source.ts).
 */
export function pingPostgres(ds: DataSource, timeoutMs: number): Promise<unknown> {
  const pool = pgPool(ds);
  if (!pool) return Promise.reject(new Error('the DataSource is not initialized'));
  // query_timeout per query: read by pg's Client#query, missing from @types/pg's QueryConfig
  return pool.query({ text: 'SELECT 1', query_timeout: timeoutMs } as QueryConfig);
}
