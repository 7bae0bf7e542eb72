export interface SqlResult<T> {
  rows: T[];
  rowCount: number;
}

/**
 * A statement runner: a Store's `sql` (each statement on its own, on the pool) or the one a Store's
 * `transaction` passes to its work (every statement in that transaction). db/store.ts makes both.
 */
export type Sql = <T = Record<string, unknown>>(text: string, params?: unknown[]) => Promise<SqlResult<T>>;
