import type { Store } from '../../db/store';

/** The rows of one statement on the store's pool: a test's own reads and fixture writes, outside domain/. */
export async function query<T = Record<string, unknown>>(store: Store, text: string, params?: unknown[]): Promise<T[]> {
  return (await store.sql<T>(text, params)).rows;
}
