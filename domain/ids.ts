import { v5 as uuidv5 } from 'uuid';

// Fixed namespaces: changing one would change every derived id, so they never change.
const TRANSFER_NAMESPACE = '0f6d3c8e-6f0b-4d55-9d0f-2b8c1c1b7a10';
const DEPOSIT_NAMESPACE = '6a3e2f4b-1c7d-4f0e-8a9b-5d2c3e4f5a61';
const SYSTEM_WALLET_NAMESPACE = 'b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e';

/**
 * The transfer id is a pure function of (caller, Idempotency-Key): a retried or crashed request
 * always maps to the same transfer row and the same workflow id, so it can never start a second
 * transfer (docs/architecture.md §5). The NUL separator keeps ("ab","c") and ("a","bc") apart.
 */
export function transferIdFor(callerId: string, idempotencyKey: string): string {
  return uuidv5(`${callerId}\u0000${idempotencyKey}`, TRANSFER_NAMESPACE);
}

export function depositIdFor(callerId: string, idempotencyKey: string): string {
  return uuidv5(`${callerId}\u0000${idempotencyKey}`, DEPOSIT_NAMESPACE);
}

/** The per-currency system account (`external:EUR`) that money entering the system comes from. */
export function systemWalletId(currency: string): string {
  return uuidv5(`external:${currency}`, SYSTEM_WALLET_NAMESPACE);
}

export function workflowIdFor(transferId: string): string {
  return `transfer-${transferId}`;
}
