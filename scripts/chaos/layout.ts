import { parseShardMap } from '../../config';
import { LOGICAL_SHARDS, shardOfId, shardOfOwner } from '../../domain/shards';

/** The name the service gives its accounting database (db/shards.ts), used in every report line. */
export const ACCOUNTING_DATABASE = 'accounting';

/**
 * Where a chaos run's rows must live: the wallet shard databases (`db-0`, `db-1`, … as db/shards.ts
 * names them) and which logical shards each holds. The harness passes the same map to the service
 * (SHARD_MAP), so the client's idea of "which database a transfer touches" and the service's routing
 * cannot drift apart.
 */
export class ShardLayout {
  /** logical shard → database index */
  readonly shardMap: readonly number[];
  readonly databases: readonly string[];

  constructor(readonly databaseCount: number) {
    this.shardMap = parseShardMap(undefined, databaseCount);
    this.databases = Array.from({ length: databaseCount }, (_, i) => `db-${i}`);
  }

  databaseOfShard(logicalShard: number): string {
    return this.databases[this.shardMap[logicalShard]!]!;
  }
  databaseOfWallet(walletId: string): string {
    return this.databaseOfShard(shardOfId(walletId));
  }
  databaseOfOwner(ownerId: string): string {
    return this.databaseOfShard(shardOfOwner(ownerId));
  }

  /** The map as SHARD_MAP spells it: `0-511:0,512-1023:1`. */
  shardMapText(): string {
    const ranges: string[] = [];
    let first = 0;
    for (let shard = 1; shard <= LOGICAL_SHARDS; shard++) {
      if (shard === LOGICAL_SHARDS || this.shardMap[shard] !== this.shardMap[first]) {
        ranges.push(`${first}-${shard - 1}:${this.shardMap[first]}`);
        first = shard;
      }
    }
    return ranges.join(',');
  }
}

/**
 * An owner id `${base}-<n>` whose logical shard satisfies `wanted` (the first n that does): the
 * workload places its customers on chosen databases and shards this way, as a bank would see them
 * land by chance at scale.
 */
export function ownerWhere(base: string, wanted: (logicalShard: number) => boolean): string {
  for (let n = 0; n < 1_000_000; n++) {
    const owner = `${base}-${n}`;
    if (wanted(shardOfOwner(owner))) return owner;
  }
  throw new Error(`no owner id ${base}-<n> lands where wanted`);
}
