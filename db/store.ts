import { Pool, type PoolClient, type QueryConfig } from 'pg';
import type { Sql } from './sql';

export interface StoreOptions {
  url: string;
  poolMax?: number;
  applicationName?: string;
  /**
   * node-postgres' read timeout per statement (`query_timeout`): a database that stops answering (frozen,
   * black-holed) fails the statement after this instead of holding the caller forever. Unset: none.
   */
  queryTimeoutMs?: number;
}

/** How long a caller waits for a pooled connection (a Postgres that does not accept one fails fast). */
export const CONNECT_TIMEOUT_MS = 5000;

/**
 * One database: every statement of the service reaches Postgres through the Store of the database
 * it works on (docs/architecture.md "One way to reach the database"). The Store owns the pg pool;
 * TypeORM's DataSource (db/data-source.ts) is kept for the migrations only.
 */
export interface Store {
  /** Single statements on the pool, each atomic on its own (no transaction around them). */
  readonly sql: Sql;
  /**
   * Runs `work` in one READ COMMITTED transaction and commits it; a throw rolls it back. Balance
   * changes rely on conditional updates, which are safe at this level (docs/architecture.md §3), so no SERIALIZABLE
   * retry loop is needed. The `Sql` it passes is bound to the transaction: use it, never `sql`, inside.
   */
  transaction<T>(work: (sql: Sql) => Promise<T>): Promise<T>;
  /**
   * A read that Postgres itself stops after `timeoutMs`: `SET LOCAL statement_timeout` in its own
   * transaction, so a slow statement is cancelled on the server and its connection goes back to the
   * pool (a client-side timer racing the promise only stopped waiting).
   */
  boundedRead<T>(timeoutMs: number, work: (sql: Sql) => Promise<T>): Promise<T>;
  /**
   * `SELECT 1` with node-postgres' own read timeout (`query_timeout`), for the readiness checks. When
   * it expires the query fails and pg-pool drops that connection (it is released with the error), so a
   * hung Postgres or a black-holed connection leaves nothing running behind the answer. Rejects while
   * Postgres has never answered (`connect()`).
   */
  ping(timeoutMs: number): Promise<void>;
  /** One round trip; from its first success on, `connected` is true (callers retry it while Postgres is down). */
  connect(): Promise<void>;
  /** Postgres answered once and the Store is not closed: the processes serve (or poll) from then on. */
  readonly connected: boolean;
  /**
   * The pool's connections (open, idle) and the callers waiting for one. pg-pool queues every request
   * for a moment, even when an idle connection takes it on the next tick; those are not waiting for a
   * slot, so `waiting` subtracts the idle ones.
   */
  poolStats(): { total: number; idle: number; waiting: number };
  /** Ends the pool; every statement after it fails. */
  close(): Promise<void>;
}

function clientSql(client: Pick<PoolClient, 'query'>): Sql {
  return async <T>(text: string, params: unknown[] = []) => {
    const res = await client.query(text, params);
    // rowCount is null for statements without a count (e.g. SET): fall back to the rows returned
    return { rows: res.rows as T[], rowCount: res.rowCount ?? res.rows.length };
  };
}

export function createStore({ url, poolMax = 10, applicationName = 'wallet', queryTimeoutMs }: StoreOptions): Store {
  const pool = new Pool({
    connectionString: url,
    max: poolMax,
    application_name: applicationName,
    // a connect waits no longer than a statement may take: a frozen database fails both alike (a worker's
    // attempt then meets an unavailable database, waited out, instead of timing out, an attempt spent)
    connectionTimeoutMillis: queryTimeoutMs ? Math.min(CONNECT_TIMEOUT_MS, queryTimeoutMs) : CONNECT_TIMEOUT_MS,
    ...(queryTimeoutMs ? { query_timeout: queryTimeoutMs } : {}),
  });
  // An idle connection that breaks (Postgres restarted) is dropped by pg-pool; without a listener the
  // 'error' event would end the process. The next statement fails, and is reported, where it runs.
  pool.on('error', () => undefined);
  let connected = false;
  let closed = false;

  async function transaction<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    let broken: Error | undefined;
    // a connection that breaks between two statements reports it as an 'error' event (unhandled, it would
    // end the process); the next statement fails on it, and it is not given back to the pool
    const onError = (err: Error) => (broken = err);
    client.on('error', onError);
    try {
      // one statement: BEGIN and the isolation level in one round trip (a transfer runs about ten transactions)
      await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
      const result = await work(clientSql(client));
      // deferred constraints (a balanced journal entry) are checked here: a failure rolls the whole work back
      await client.query('COMMIT');
      return result;
    } catch (err) {
      // after a failed COMMIT there is nothing left to roll back (Postgres only warns); a connection that
      // cannot even answer ROLLBACK is broken and is dropped instead of going back to the pool
      await client.query('ROLLBACK').catch((rollbackErr: Error) => (broken = rollbackErr));
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  return {
    sql: clientSql(pool),
    transaction,
    boundedRead: (timeoutMs, work) =>
      transaction(async (sql) => {
        await sql(`SELECT set_config('statement_timeout', $1, true)`, [`${Math.max(1, Math.ceil(timeoutMs))}ms`]);
        return work(sql);
      }),
    async ping(timeoutMs) {
      if (!connected) throw new Error('not connected yet');
      // query_timeout per query: read by pg's Client#query, missing from @types/pg's QueryConfig
      await pool.query({ text: 'SELECT 1', query_timeout: timeoutMs } as QueryConfig);
    },
    async connect() {
      await pool.query('SELECT 1');
      if (!closed) connected = true;
    },
    get connected() {
      return connected;
    },
    poolStats: () => ({
      total: pool.totalCount,
      idle: pool.idleCount,
      waiting: Math.max(0, pool.waitingCount - pool.idleCount),
    }),
    async close() {
      if (closed) return;
      closed = true;
      connected = false;
      await pool.end();
    },
  };
}
