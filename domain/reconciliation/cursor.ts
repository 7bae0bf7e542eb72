/**
 * The keyset cursor of a check that pages through every wallet shard database in turn:
 * `<database index>:<key within it>` (`1:` is database 1 from its first row). The workflow carries it as
 * an opaque string. A cursor without the prefix (written by a run from before shards, continued as new
 * across the upgrade) is a key of database 0, where every row of that time lives.
 */
export interface ShardCursor {
  /** index into the wallet shard databases (SHARD_MAP's values) */
  database: number;
  /** the key after which to start on that database; null: from its first row */
  after: string | null;
}

const PREFIXED = /^(\d+):(.*)$/s;

export function parseShardCursor(cursor: string | null): ShardCursor {
  if (cursor === null) return { database: 0, after: null };
  const m = PREFIXED.exec(cursor);
  if (!m) return { database: 0, after: cursor };
  return { database: Number(m[1]), after: m[2] === '' ? null : m[2]! };
}

export function formatShardCursor({ database, after }: ShardCursor): string {
  return `${database}:${after ?? ''}`;
}

/**
 * Where the next page starts: the same database after `last` when this page was full, else the next
 * database from its start, else nowhere (null: the check is done).
 */
export function nextShardCursor(current: ShardCursor, last: string | null, databases: number): string | null {
  if (last !== null) return formatShardCursor({ database: current.database, after: last });
  if (current.database + 1 < databases) return formatShardCursor({ database: current.database + 1, after: null });
  return null;
}
