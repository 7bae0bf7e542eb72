import { v5 as uuidv5 } from 'uuid';
import type { Sql } from '../../db/sql';
import type { Store } from '../../db/store';
import { DomainError } from '../errors';
import { clearingOwnerId, clearingWalletId } from '../ids';
import { postEntry, type PostingResult } from '../ledger';
import { shardOfId } from '../shards';
import { captureHold } from './reserve';
import { applyStateChange, type AppliedStateChange } from './records';
import type { RefusalCode } from './refusals';
import type { TransferDetails } from './transfer';

/**
 * A transfer between two logical shards (docs/architecture.md §9): no transaction spans them, so the
 * money goes through each shard's clearing account, one balanced entry per shard:
 * - debit, on the sender's shard: sender → clearing(sender's shard); the point of no return;
 * - credit, on the receiver's shard: clearing(receiver's shard) → receiver, with the shard's one-time
 *   decision on it (incoming_transfers: credited or refused);
 * - return, on the sender's shard, after a refusal: clearing(sender's shard) → sender.
 * Each is one transaction on one database and idempotent by transfer id (entries by their reference).
 * At rest the clearing accounts of all shards sum to zero; in between, to the money in transit.
 */

// Fixed: changing it would change the id of every leg entry ever posted.
const TRANSFER_LEG_NAMESPACE = '3d0e6c1a-9b47-4f2e-8c55-7a1f0b2d9e64';

export type TransferLeg = 'debit' | 'credit' | 'return';

/** The business event of a leg: `transfer-debit:<id>`, `transfer-credit:<id>`, `transfer-return:<id>`. */
export function legReference(leg: TransferLeg, transferId: string): string {
  return `transfer-${leg}:${transferId}`;
}

/** A leg entry's id: derived from its reference, so it is unique per leg and the same on every attempt. */
export function legEntryId(reference: string): string {
  return uuidv5(reference, TRANSFER_LEG_NAMESPACE);
}

/**
 * Posts a leg's entry: the transfer's amount out of one account (`from`: a line of mode debit or capture)
 * into another, with the leg's reference and id. A second posting of the same leg is a no-op.
 */
function postLeg(
  sql: Sql,
  leg: TransferLeg,
  t: TransferDetails,
  from: { walletId: string; mode: 'debit' | 'capture' },
  to: { walletId: string; mode: 'credit' | 'return' },
): Promise<PostingResult> {
  const reference = legReference(leg, t.transferId);
  return postEntry(sql, {
    entryId: legEntryId(reference),
    kind: `transfer_${leg}`,
    reference,
    transferId: t.transferId,
    currency: t.currency,
    description: t.description ?? null,
    lines: [
      { ...from, amount: t.amount },
      { ...to, amount: t.amount },
    ],
  });
}

/** Creates a logical shard's clearing account for a currency on first use; concurrent callers converge on one row. */
export async function ensureClearingAccount(sql: Sql, currency: string, shard: number): Promise<string> {
  const id = clearingWalletId(currency, shard);
  await sql(
    `INSERT INTO wallets (id, owner_id, kind, currency) VALUES ($1, $2, 'clearing', $3) ON CONFLICT DO NOTHING`,
    [id, clearingOwnerId(currency, shard), currency],
  );
  return id;
}

/**
 * The debit, on the sender's database: capture the hold and post sender → clearing(sender's shard), and
 * move the transfer ACCOUNTED → DEBITED, in one transaction. A captured hold means it was done before.
 * A sender that cannot give the money (frozen, closed meanwhile) fails the whole transaction: the hold
 * stays active for the saga to release (nothing moved yet).
 */
export async function debitTransfer(store: Store, t: TransferDetails): Promise<'debited' | 'already-debited'> {
  return store.transaction(async (sql) => {
    const debited = () =>
      applyStateChange(sql, {
        transferId: t.transferId,
        status: 'DEBITED',
        expectedStatus: 'ACCOUNTED',
        step: 'debit',
        stepState: 'done',
      });
    if ((await captureHold(sql, t.transferId)) === 'already-captured') {
      await debited();
      return 'already-debited';
    }
    const clearing = await ensureClearingAccount(sql, t.currency, shardOfId(t.fromWalletId));
    await postLeg(
      sql,
      'debit',
      t,
      { walletId: t.fromWalletId, mode: 'capture' },
      { walletId: clearing, mode: 'credit' },
    );
    await debited();
    return 'debited';
  });
}

/** Why the receiving shard will not take the money: for good, so the saga returns it. */
export interface CreditRefusal {
  code: Extract<RefusalCode, 'WALLET_NOT_FOUND' | 'WALLET_NOT_ACTIVE' | 'CURRENCY_MISMATCH'>;
  reason: string;
}

export type CreditOutcome = { outcome: 'credited' | 'already-credited' } | ({ outcome: 'refused' } & CreditRefusal);

interface IncomingRow {
  status: 'credited' | 'refused';
  failure_code: CreditRefusal['code'] | null;
  failure_reason: string | null;
}

async function decisionOf(sql: Sql, transferId: string): Promise<CreditOutcome | null> {
  const { rows } = await sql<IncomingRow>(
    `SELECT status, failure_code, failure_reason FROM incoming_transfers WHERE transfer_id = $1`,
    [transferId],
  );
  const row = rows[0];
  if (!row) return null;
  if (row.status === 'credited') return { outcome: 'already-credited' };
  return { outcome: 'refused', code: row.failure_code!, reason: row.failure_reason ?? row.failure_code! };
}

function refusalOf(
  receiver: { kind: string; currency: string; status: string } | undefined,
  t: TransferDetails,
): CreditRefusal | null {
  if (!receiver || receiver.kind !== 'customer') {
    return { code: 'WALLET_NOT_FOUND', reason: `wallet ${t.toWalletId} not found` };
  }
  if (receiver.currency !== t.currency) {
    return {
      code: 'CURRENCY_MISMATCH',
      reason: `wallet ${t.toWalletId} holds ${receiver.currency}, not ${t.currency}`,
    };
  }
  if (receiver.status !== 'active') {
    return { code: 'WALLET_NOT_ACTIVE', reason: `wallet ${t.toWalletId} is ${receiver.status}` };
  }
  return null;
}

/**
 * The credit, on the receiver's database, in one transaction: the shard decides once whether it takes the
 * money (incoming_transfers, append-only) and, if so, posts clearing(receiver's shard) → receiver. A
 * receiver that is missing, frozen, closed or of another currency is a refusal that COMMITS (so no later
 * attempt can credit it after the saga sent the money back); a later call finds the decision and answers
 * with it, so a credit lands at most once and a refusal stays a refusal.
 */
export async function creditTransfer(store: Store, t: TransferDetails): Promise<CreditOutcome> {
  return store.transaction(async (sql) => {
    const decided = await decisionOf(sql, t.transferId);
    if (decided) return decided;
    const clearing = await ensureClearingAccount(sql, t.currency, shardOfId(t.toWalletId));
    // Both rows locked in id order (the order postEntry updates them in): the receiver's status cannot
    // change between this decision and the posting, and no other posting deadlocks with this one.
    const { rows } = await sql<{ id: string; kind: string; currency: string; status: string }>(
      `SELECT id, kind, currency, status FROM wallets WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE`,
      [[t.toWalletId, clearing]],
    );
    const refusal = refusalOf(
      rows.find((r) => r.id === t.toWalletId),
      t,
    );
    const inserted = await sql(
      `INSERT INTO incoming_transfers (transfer_id, from_wallet_id, to_wallet_id, amount, currency, status,
                                       failure_code, failure_reason)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (transfer_id) DO NOTHING`,
      [
        t.transferId,
        t.fromWalletId,
        t.toWalletId,
        t.amount.toString(),
        t.currency,
        refusal ? 'refused' : 'credited',
        refusal?.code ?? null,
        refusal?.reason ?? null,
      ],
    );
    // a twin attempt decided first (it held the locks until it committed): its decision stands
    if (inserted.rowCount === 0) return (await decisionOf(sql, t.transferId))!;
    if (refusal) return { outcome: 'refused', ...refusal };
    await postLeg(sql, 'credit', t, { walletId: clearing, mode: 'debit' }, { walletId: t.toWalletId, mode: 'credit' });
    return { outcome: 'credited' };
  });
}

/**
 * After a refused credit, on the sender's database, in one transaction: post clearing(sender's shard) →
 * sender and end the transfer RETURNED with the refusal. The money lands whatever the sender's wallet
 * became meanwhile (frozen, closed): it is the sender's own. Only a transfer whose debit is posted can be
 * returned; a second call posts nothing.
 */
export async function returnTransfer(
  store: Store,
  t: TransferDetails,
  failure: { code: string; reason: string },
): Promise<{ outcome: 'returned' | 'already-returned'; returned: AppliedStateChange | null }> {
  return store.transaction(async (sql) => {
    const { rows } = await sql(`SELECT 1 FROM journal_entries WHERE transfer_id = $1 AND kind = 'transfer_debit'`, [
      t.transferId,
    ]);
    if (rows.length === 0) throw new DomainError('INVALID_STATE', `transfer ${t.transferId} has no debit to return`);
    const posted = await postLeg(
      sql,
      'return',
      t,
      { walletId: clearingWalletId(t.currency, shardOfId(t.fromWalletId)), mode: 'debit' },
      { walletId: t.fromWalletId, mode: 'return' },
    );
    const returned = await applyStateChange(sql, {
      transferId: t.transferId,
      status: 'RETURNED',
      failure: { step: 'credit', ...failure },
      step: 'credit',
      stepState: 'failed',
    });
    return { outcome: posted.created ? 'returned' : 'already-returned', returned };
  });
}
