import type { ShardDatabase, ShardSet } from '../../db/shards';
import { shardOfId } from '../shards';
import type { Discrepancy } from './results';

/** The database a page reads: its index among the wallet shard databases, and the database itself. */
export interface PagedDatabase {
  index: number;
  database: ShardDatabase;
}

/** One page of a check on one database, before it is stored and folded into the run. */
export interface DatabasePage {
  found: Discrepancy[];
  /** rows read */
  checked: number;
  /** the key of the page's last row when the page was full (there may be more on this database), else null */
  last: string | null;
  /** running sums, keyed `<sum>:<currency>:<database>` (see checkTotals) */
  totals?: Record<string, bigint>;
}

/** `database` and `logicalShard` of a discrepancy about a row of a wallet or transfer id (its shard is in the id). */
export function placeOf(shards: ShardSet, id: string): { database: string; logicalShard: string } {
  const shard = shardOfId(id);
  return { database: shards.forShard(shard).name, logicalShard: String(shard) };
}

export function addTotal(totals: Record<string, bigint>, key: string, amount: string | bigint | null): void {
  if (amount !== null) totals[key] = (totals[key] ?? 0n) + BigInt(amount);
}

export function stringTotals(totals: Record<string, bigint>): Record<string, string> {
  return Object.fromEntries(Object.entries(totals).map(([k, v]) => [k, v.toString()]));
}

/** The ids grouped by the database that holds them (by the logical shard each id carries). */
export function byDatabase<T>(shards: ShardSet, items: T[], idOf: (item: T) => string): Map<ShardDatabase, T[]> {
  const groups = new Map<ShardDatabase, T[]>();
  for (const item of items) {
    const db = shards.forWallet(idOf(item));
    groups.set(db, [...(groups.get(db) ?? []), item]);
  }
  return groups;
}
