import { v5 as uuidv5 } from 'uuid';
import { withShard } from './shards';

// Fixed namespaces: changing one would change every derived id, so they never change.
const TRANSFER_NAMESPACE = '0f6d3c8e-6f0b-4d55-9d0f-2b8c1c1b7a10';
const DEPOSIT_NAMESPACE = '6a3e2f4b-1c7d-4f0e-8a9b-5d2c3e4f5a61';
const SYSTEM_WALLET_NAMESPACE = 'b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e';

/**
 * The transfer id is a pure function of (caller, Idempotency-Key): a retried or crashed request
 * always maps to the same transfer row and the same workflow id, so it can never start a second
 * transfer (docs/architecture.md §5). The NUL separator keeps ("ab","c") and ("a","bc") apart.
 */
export function transferIdFor(callerId: string, idempotencyKey: string, senderShard = 0): string {
  const id = uuidv5(`${callerId}\u0000${idempotencyKey}`, TRANSFER_NAMESPACE);
  // The transfer lives on its sender's logical shard, which its id carries (domain/shards.ts). Shard 0
  // keeps the plain v5 id of the ids minted before sharding, so a request retried across the upgrade
  // still names its own transfer. (The idempotency record, claimed first on the caller's shard, refuses
  // the same key with another sender: one key never names two transfers.)
  return senderShard === 0 ? id : withShard(id, senderShard);
}

export function depositIdFor(callerId: string, idempotencyKey: string): string {
  return uuidv5(`${callerId}\u0000${idempotencyKey}`, DEPOSIT_NAMESPACE);
}

/** The owner id of a logical shard's system account: `external:EUR` on shard 0 (as before sharding), `external:EUR@7` elsewhere. */
export function systemOwnerId(currency: string, shard = 0): string {
  return shard === 0 ? `external:${currency}` : `external:${currency}@${shard}`;
}

/**
 * The system account (`external:EUR`) that money entering a logical shard in that currency comes from:
 * one per shard and currency, so every deposit's entry stays inside its wallet's shard.
 */
export function systemWalletId(currency: string, shard = 0): string {
  const id = uuidv5(systemOwnerId(currency, shard), SYSTEM_WALLET_NAMESPACE);
  return shard === 0 ? id : withShard(id, shard);
}

/** The owner id of a logical shard's clearing account for a currency (`clearing:EUR@7`). */
export function clearingOwnerId(currency: string, shard: number): string {
  return `clearing:${currency}@${shard}`;
}

/**
 * The clearing account of a logical shard and currency: money in transit between shards. A cross-shard
 * transfer debits the sender into its shard's clearing account and credits the receiver out of the
 * receiver's shard's one, so each entry balances inside one shard and the clearing accounts of all
 * shards sum to zero at rest (docs/architecture.md §9).
 */
export function clearingWalletId(currency: string, shard: number): string {
  return withShard(uuidv5(clearingOwnerId(currency, shard), SYSTEM_WALLET_NAMESPACE), shard);
}

export function workflowIdFor(transferId: string): string {
  return `transfer-${transferId}`;
}
