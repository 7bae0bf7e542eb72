import type { FastifyRequest } from 'fastify';
import type { ShardSet } from '../../db/shards';
import { DomainError } from '../../domain/errors';
import type { TransferRecord } from '../../domain/transfers/records';
import type { WalletRecord } from '../../domain/wallets';
import { ownsAnyWalletOn } from '../across-shards';
import type { Role } from './roles';

/**
 * Object-level authorization (OWASP API1). Staff (ops, finance, admin) see every wallet and transfer;
 * a customer sees only wallets it owns and transfers touching them. Whatever a customer may not see
 * is answered exactly like an object that does not exist (404, same code and detail), so ids cannot
 * be probed.
 */

export function hasRole(request: FastifyRequest, ...roles: Role[]): boolean {
  return request.roles.some((r) => roles.includes(r));
}

/** Reads everything: ops, finance, admin. */
export function isStaff(request: FastifyRequest): boolean {
  return hasRole(request, 'ops', 'finance', 'admin');
}

export function walletNotFound(id: string): DomainError {
  return new DomainError('WALLET_NOT_FOUND', `wallet ${id} not found`);
}

export function transferNotFound(id: string): DomainError {
  return new DomainError('TRANSFER_NOT_FOUND', `transfer ${id} not found`);
}

export function canSeeWallet(request: FastifyRequest, wallet: Pick<WalletRecord, 'ownerId'>): boolean {
  return isStaff(request) || wallet.ownerId === request.callerId;
}

/** The wallet if the caller may see it; else the same 404 as for a wallet that does not exist. */
export function visibleWallet<W extends Pick<WalletRecord, 'id' | 'ownerId'>>(request: FastifyRequest, wallet: W): W {
  if (!canSeeWallet(request, wallet)) throw walletNotFound(wallet.id);
  return wallet;
}

/**
 * The transfer if the caller may see it (staff, or a customer owning its source or destination wallet).
 * Each wallet's owner is read on that wallet's own database: the receiver may live on another one.
 */
export async function visibleTransfer(
  shards: ShardSet,
  request: FastifyRequest,
  transfer: TransferRecord,
): Promise<TransferRecord> {
  if (isStaff(request)) return transfer;
  if (await ownsAnyWalletOn(shards, request.callerId, [transfer.fromWalletId, transfer.toWalletId])) return transfer;
  throw transferNotFound(transfer.id);
}
