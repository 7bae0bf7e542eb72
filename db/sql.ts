import type { DataSource, QueryRunner } from 'typeorm';

export interface SqlResult<T> {
  rows: T[];
  rowCount: number;
}

/** A statement runner bound to one transaction (or to the pool, for single reads). */
export type Sql = <T = Record<string, unknown>>(text: string, params?: unknown[]) => Promise<SqlResult<T>>;

function runnerSql(runner: QueryRunner): Sql {
  return async <T>(text: string, params: unknown[] = []) => {
    // structured result: rows and affected count alike for SELECT, INSERT … RETURNING and UPDATE
    const res = await runner.query(text, params, true);
    return { rows: (res.records ?? []) as T[], rowCount: res.affected ?? res.records?.length ?? 0 };
  };
}

/**
 * Runs `work` in one READ COMMITTED transaction. Balance changes rely on conditional updates,
 * which are safe at this level (DESIGN §3), so no SERIALIZABLE retry loop is needed.
 * `BEGIN ISOLATION LEVEL …` in one statement: TypeORM's own transaction() spends a second round trip
 * on SET TRANSACTION, and a transfer runs about ten transactions.
 */
export async function inTransaction<T>(ds: DataSource, work: (sql: Sql) => Promise<T>): Promise<T> {
  const runner = ds.createQueryRunner();
  try {
    await runner.connect();
    await runner.query('BEGIN ISOLATION LEVEL READ COMMITTED');
    let result: T;
    try {
      result = await work(runnerSql(runner));
    } catch (err) {
      await runner.query('ROLLBACK').catch(() => undefined); // a broken connection rolls back by itself
      throw err;
    }
    // deferred constraints (a balanced journal entry) are checked here: a failure rolls the whole work back
    await runner.query('COMMIT');
    return result;
  } finally {
    await runner.release();
  }
}

/**
 * A read that Postgres itself stops after `timeoutMs`: `SET LOCAL statement_timeout` in its own
 * transaction, so a slow statement is cancelled on the server and its connection goes back to the pool
 * (a client-side timer racing the promise only stopped waiting). The wait for a pooled connection is
 * bounded by the pool's connectionTimeoutMillis (db/data-source.ts).
 */
export async function boundedRead<T>(ds: DataSource, timeoutMs: number, work: (sql: Sql) => Promise<T>): Promise<T> {
  return inTransaction(ds, async (sql) => {
    await sql(`SELECT set_config('statement_timeout', $1, true)`, [`${Math.max(1, Math.ceil(timeoutMs))}ms`]);
    return work(sql);
  });
}

/** A single statement outside an explicit transaction. */
export function poolSql(ds: DataSource): Sql {
  return async <T>(text: string, params: unknown[] = []) => {
    const runner = ds.createQueryRunner();
    try {
      return await runnerSql(runner)<T>(text, params);
    } finally {
      await runner.release();
    }
  };
}
