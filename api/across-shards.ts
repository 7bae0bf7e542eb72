import type { ShardDatabase, ShardSet } from '../db/shards';
import { listAudit, type AuditRecord } from '../domain/audit';
import {
  compareIdKeysDesc,
  compareRowKeysDesc,
  encodeIdCursor,
  encodeRowCursor,
  mergePages,
  type IdKey,
  type Page,
  type RowKey,
} from '../domain/history';
import { shardOfId } from '../domain/shards';
import { listTransfers, type TransferFilter, type TransferRecord } from '../domain/transfers/records';
import { listWallets, ownsAnyWallet, walletIdsOfOwner, type WalletFilter, type WalletRecord } from '../domain/wallets';

/**
 * Reads that span databases (docs/api.md "Lists across shards"). Every row lives on exactly one wallet
 * database; a list asks each database it needs, in parallel, for one page after the same key and
 * merges them in one order (domain/history.ts). A database that is down fails the whole list with
 * StoreUnavailable (503 SHARD_UNAVAILABLE): a page without its rows would skip them for good.
 */

/**
 * Where an owner's wallets are: its logical shard's database, and — when that is another one — the
 * database of logical shard 0, for the owner's wallets from before sharding. Those are shard 0 (their
 * ids carry no shard) and stay there, so only that database's shard-0 rows are the owner's legacy ones.
 */
export function ownerDatabases(shards: ShardSet, ownerId: string): Array<{ db: ShardDatabase; legacyOnly: boolean }> {
  const own = shards.forOwner(ownerId);
  const legacy = shards.forShard(0);
  return legacy === own
    ? [{ db: own, legacyOnly: false }]
    : [
        { db: own, legacyOnly: false },
        { db: legacy, legacyOnly: true },
      ];
}

/** The ids of every customer wallet an owner holds (its shard's database, plus its legacy wallets). */
export async function ownedWalletIds(shards: ShardSet, ownerId: string): Promise<string[]> {
  const parts = await Promise.all(
    ownerDatabases(shards, ownerId).map(({ db, legacyOnly }) => walletIdsOfOwner(db.store, ownerId, { legacyOnly })),
  );
  return parts.flat();
}

/**
 * Whether `callerId` owns one of the wallets, each asked of its own database, one after the other: the
 * first (a transfer's sender) usually answers, so the second database is read only when needed.
 */
export async function ownsAnyWalletOn(shards: ShardSet, callerId: string, walletIds: string[]): Promise<boolean> {
  for (const id of walletIds) {
    if (await ownsAnyWallet(shards.forWallet(id).store, callerId, [id])) return true;
  }
  return false;
}

/**
 * Transfers on every wallet database, merged newest first. A transfer lives on its sender's database, so
 * "the transfers of wallet W" are W's database (sent, and received from wallets there) plus every other
 * database (received from wallets there): all of them are asked. incoming_transfers on W's database
 * would not do: it is written only when the credit is decided and has neither the status nor the steps.
 */
export async function listTransfersAcross(
  shards: ShardSet,
  filter: Omit<TransferFilter, 'limit' | 'after'>,
  opts: { limit: number; after: IdKey | null },
): Promise<Page<TransferRecord>> {
  const parts = await Promise.all(
    shards.databases.map((db) => listTransfers(db.store, { ...filter, limit: opts.limit + 1, after: opts.after })),
  );
  return pageOf(
    mergePages(parts, (a, b) => compareIdKeysDesc(a.key, b.key), opts.limit),
    (r) => r.transfer,
  );
}

/**
 * Customer wallets, merged newest first: of one owner (its databases, see ownerDatabases), or of every
 * wallet database.
 */
export async function listWalletsAcross(
  shards: ShardSet,
  filter: Omit<WalletFilter, 'limit' | 'after' | 'legacyOnly'>,
  opts: { limit: number; after: IdKey | null },
): Promise<Page<WalletRecord>> {
  const targets =
    filter.ownerId === undefined
      ? shards.databases.map((db) => ({ db, legacyOnly: false }))
      : ownerDatabases(shards, filter.ownerId);
  const parts = await Promise.all(
    targets.map(({ db, legacyOnly }) =>
      listWallets(db.store, { ...filter, legacyOnly, limit: opts.limit + 1, after: opts.after }),
    ),
  );
  return pageOf(
    mergePages(parts, (a, b) => compareIdKeysDesc(a.key, b.key), opts.limit),
    (r) => r.wallet,
  );
}

/**
 * The audit trail, merged newest first. The rows of one target sit where the target lives: a wallet's
 * and a transfer's on the database of the logical shard its id carries; a reconciliation run's (a
 * random id: shard 0) on database 0 — so a target is looked up there and nowhere else.
 */
export async function listAuditAcross(
  shards: ShardSet,
  opts: { targetId?: string; limit: number; after: RowKey | null },
): Promise<Page<AuditRecord>> {
  const targets =
    opts.targetId === undefined
      ? shards.databases
      : [
          ...new Set([
            shards.forShard(shardOfId(opts.targetId)),
            ...(shardOfId(opts.targetId) === 0 ? [shards.home] : []),
          ]),
        ];
  const parts = await Promise.all(
    targets.map((db) =>
      listAudit(db.store, shards.databases.indexOf(db), {
        targetId: opts.targetId,
        limit: opts.limit + 1,
        after: opts.after,
      }),
    ),
  );
  const merged = mergePages(parts, (a, b) => compareRowKeysDesc(a.key, b.key), opts.limit);
  const last = merged.items[merged.items.length - 1];
  return {
    items: merged.items.map((r) => r.entry),
    nextCursor: merged.more && last ? encodeRowCursor(last.key) : null,
  };
}

function pageOf<R extends { key: IdKey }, T>(merged: { items: R[]; more: boolean }, item: (r: R) => T): Page<T> {
  const last = merged.items[merged.items.length - 1];
  return { items: merged.items.map(item), nextCursor: merged.more && last ? encodeIdCursor(last.key) : null };
}
