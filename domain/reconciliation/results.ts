/**
 * What a reconciliation run finds and reports, as the workflow, the activities and the API share it.
 * Pure (no database, no Node APIs): the reconciliation workflow imports it into the workflow sandbox.
 */

/** What a reconciliation run can find (docs/architecture.md §7.3); the `kind` label of reconciliation_discrepancies. */
export const DISCREPANCY_KINDS = [
  // ledger invariants
  'wallet_balance_mismatch',
  'wallet_balance_after_mismatch',
  'wallet_held_mismatch',
  'journal_entry_unbalanced',
  'ledger_currency_unbalanced',
  // accounting book against the ledger
  'booking_missing',
  'booking_not_reversed',
  'accounting_currency_unbalanced',
  'accounting_ledger_totals_mismatch',
  // transfers table against Temporal
  'transfer_without_workflow',
  'transfer_workflow_closed',
  'workflow_without_transfer',
  // audit log against finance decisions
  'decision_without_audit',
  'audit_without_decision',
  // the shard model (docs/architecture.md §9)
  'shard_on_wrong_database',
  'journal_entry_spans_shards',
  'clearing_balance_mismatch',
  'clearing_transit_mismatch',
  'cross_shard_debit_missing',
  'cross_shard_debit_unexpected',
  'cross_shard_credit_missing',
  'cross_shard_credit_without_debit',
  'cross_shard_return_missing',
  'cross_shard_leg_mismatch',
  'cross_shard_transfer_stuck',
] as const;
export type DiscrepancyKind = (typeof DISCREPANCY_KINDS)[number];

export interface Discrepancy {
  kind: DiscrepancyKind;
  /** the one id the discrepancy is about (wallet, entry, transfer, workflow id or currency) */
  subject: string;
  /**
   * every id involved, by name (walletId, transferId, workflowId, runId, updateId, …); always `database`
   * (db-0, db-1, …, accounting) and, when the discrepancy belongs to one, `logicalShard`: where the row
   * that is wrong or missing is (or should be)
   */
  ids: Record<string, string>;
  detail: string;
  /** what the run did about it, when it repaired it */
  repaired?: string;
}

/** What one page activity reports back to the workflow: counts only, its discrepancies are stored already. */
export interface PageResult {
  checked: number;
  /** discrepancies found on this page, by kind */
  found: Partial<Record<DiscrepancyKind, number>>;
  repaired: number;
  /** keyset cursor of the next page; null when this was the last */
  next: string | null;
  /** per-currency running sums some checks stitch across pages (decimal strings, minor units) */
  totals?: Record<string, string>;
}

export type RunTrigger = 'schedule' | 'manual';

export interface RunSummary {
  /** rows checked, by check (wallets, journalEntries, transfers, …) */
  checked: Record<string, number>;
  discrepancyCounts: Partial<Record<DiscrepancyKind, number>>;
  repaired: number;
}

/** Folds a page's discrepancies into its result. */
export function pageResult(
  list: Discrepancy[],
  checked: number,
  next: string | null,
  totals?: Record<string, string>,
): PageResult {
  const found: PageResult['found'] = {};
  for (const d of list) found[d.kind] = (found[d.kind] ?? 0) + 1;
  return { checked, found, repaired: list.filter((d) => d.repaired).length, next, ...(totals ? { totals } : {}) };
}
