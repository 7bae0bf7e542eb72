import type { Store } from '../db/store';
import { recordAudit, type AuditActor } from './audit';
import { DomainError } from './errors';
import { postEntry } from './ledger';
import { shardOfId } from './shards';
import { ensureSystemWallet } from './wallets';

export interface DepositRequest {
  /** Derived from (caller, Idempotency-Key): the same request always names the same deposit. */
  depositId: string;
  walletId: string;
  amount: bigint;
  reference?: string | null;
  /** Who deposits: an audit row (`wallet.deposit`) is written in the posting's transaction, once. */
  audit?: AuditActor;
}

export interface Deposit {
  id: string;
  walletId: string;
  amount: bigint;
  currency: string;
  reference: string | null;
  balanceAfter: bigint;
  createdAt: Date;
}

export interface DepositOutcome {
  deposit: Deposit;
  /** false when this deposit had been posted before: nothing moved this time */
  created: boolean;
}

/**
 * Money entering the system: the system account of the wallet's logical shard (`external:EUR@7`;
 * `external:EUR` on shard 0) → wallet, as one balanced journal entry, so the entry stays inside the
 * shard. `store` is the wallet's database (`shards.forWallet(walletId).store`).
 * Idempotent by deposit id: concurrent or repeated calls post once and all read the same entry.
 */
export async function deposit(store: Store, req: DepositRequest): Promise<DepositOutcome> {
  const created = await store.transaction(async (sql) => {
    const { rows } = await sql<{ currency: string; kind: string }>(`SELECT currency, kind FROM wallets WHERE id = $1`, [
      req.walletId,
    ]);
    const wallet = rows[0];
    if (!wallet || wallet.kind !== 'customer')
      throw new DomainError('WALLET_NOT_FOUND', `wallet ${req.walletId} not found`);
    const systemId = await ensureSystemWallet(sql, wallet.currency, shardOfId(req.walletId));
    const result = await postEntry(sql, {
      entryId: req.depositId,
      kind: 'deposit',
      reference: `deposit:${req.depositId}`,
      currency: wallet.currency,
      description: req.reference ?? null,
      lines: [
        { walletId: systemId, mode: 'debit', amount: req.amount },
        { walletId: req.walletId, mode: 'credit', amount: req.amount },
      ],
    });
    if (result.created && req.audit) {
      await recordAudit(sql, {
        ...req.audit,
        action: 'wallet.deposit',
        targetType: 'wallet',
        targetId: req.walletId,
        reason: req.reference ?? null,
        details: { depositId: req.depositId, amount: req.amount.toString(), currency: wallet.currency },
      });
    }
    return result.created;
  });
  const deposit = await readDeposit(store, req.depositId);
  if (!deposit) throw new Error(`deposit ${req.depositId} vanished after posting`);
  return { deposit, created };
}

interface DepositRow {
  id: string;
  wallet_id: string;
  amount: string;
  currency: string;
  description: string | null;
  balance_after: string;
  created_at: Date;
}

export async function readDeposit(store: Store, depositId: string): Promise<Deposit | null> {
  const { rows } = await store.sql<DepositRow>(
    `SELECT e.id, l.wallet_id, l.amount, e.currency, e.description, l.balance_after, e.created_at
       FROM journal_entries e
       JOIN ledger_lines l ON l.entry_id = e.id AND l.amount > 0
       JOIN wallets w ON w.id = l.wallet_id AND w.kind = 'customer'
      WHERE e.reference = $1`,
    [`deposit:${depositId}`],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    id: r.id,
    walletId: r.wallet_id,
    amount: BigInt(r.amount),
    currency: r.currency,
    reference: r.description,
    balanceAfter: BigInt(r.balance_after),
    createdAt: r.created_at,
  };
}
