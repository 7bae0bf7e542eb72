/**
 * The shard model (docs/architecture.md §9): pure functions, safe in workflow code.
 *
 * A fixed set of LOGICAL_SHARDS logical shards; configuration maps them onto physical databases
 * (db/shards.ts). A logical shard is a self-contained book: its wallets, their system and clearing
 * accounts, every journal entry touching them, the transfers they send and the idempotency records of
 * the callers that hash to it. So a logical shard moves to another database by copying its rows, and
 * capacity grows by remapping logical shards, never by rehashing wallets.
 *
 * Routing needs no lookup: an owner's shard is a hash of the owner id, and a wallet id (a UUID) carries
 * its logical shard. New ids are RFC 9562 version 8 UUIDs whose third group is `8` followed by the shard
 * in three hex digits (`…-83ff-…` is shard 1023); every other id (the random v4 wallet ids and the v5
 * transfer ids from before sharding) is shard 0, where those rows already live.
 */

/** Never changes: every id minted and every owner hash depends on it. */
export const LOGICAL_SHARDS = 1024;

/** FNV-1a, 32 bits, over the UTF-8 bytes: small, stable and the same in every process and language. */
function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** The logical shard of an owner (and of a caller's idempotency records): all of one owner's wallets share it. */
export function shardOfOwner(ownerId: string): number {
  return fnv1a32(ownerId) % LOGICAL_SHARDS;
}

/**
 * The logical shard an id names: the three hex digits after the version of a v8 id; shard 0 for any
 * other id. A v8 id naming a shard that cannot exist is routed to shard 0, where it is not found.
 */
export function shardOfId(id: string): number {
  if (id.length !== 36 || id[14] !== '8') return 0;
  const shard = Number.parseInt(id.slice(15, 18), 16);
  return Number.isInteger(shard) && shard < LOGICAL_SHARDS ? shard : 0;
}

/** `uuid` (any RFC 9562 UUID: random v4, name-based v5) made a v8 id of `shard`; the other bits are kept. */
export function withShard(uuid: string, shard: number): string {
  if (!Number.isInteger(shard) || shard < 0 || shard >= LOGICAL_SHARDS)
    throw new RangeError(`no logical shard ${shard}`);
  const id = uuid.toLowerCase();
  // the variant's two high bits are 10 (8, 9, a or b), as in the UUID it came from
  const variant = ((Number.parseInt(id[19]!, 16) & 0x3) | 0x8).toString(16);
  return `${id.slice(0, 14)}8${shard.toString(16).padStart(3, '0')}-${variant}${id.slice(20)}`;
}

/** Whether a transfer between two wallets stays in one logical shard (one journal entry) or crosses (clearing). */
export function isCrossShard(fromWalletId: string, toWalletId: string): boolean {
  return shardOfId(fromWalletId) !== shardOfId(toWalletId);
}
