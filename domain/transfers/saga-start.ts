import type { Config } from '../../config';
import type { TransferRecord } from './records';
import { formatAmount } from '../money';
import { shardOfId } from '../shards';
import {
  AmountMinorKey,
  CurrencyKey,
  FromShardKey,
  FromWalletIdKey,
  ToShardKey,
  ToWalletIdKey,
  TransferStatusKey,
  type SagaSettings,
  type TransferRoute,
  type TransferWorkflowInput,
} from '../../workflows/contract';

/** Saga timing from the configuration, fixed in the workflow's input (and so in its history) at start. */
export function sagaSettings(config: Config): SagaSettings {
  return {
    stepMaxAttempts: config.TRANSFER_STEP_MAX_ATTEMPTS,
    stepAttemptTimeoutSeconds: config.TRANSFER_STEP_ATTEMPT_TIMEOUT_SECONDS,
    parkDeadlineSeconds: config.TRANSFER_PARK_DEADLINE_SECONDS,
  };
}

/** The name of the database holding a logical shard, as db/shards.ts names it (`db-<index>`). */
function databaseOfShard(config: Config, logicalShard: number): string {
  return `db-${config.shardMap[logicalShard]}`;
}

/**
 * Where the transfer's rows are, by database name (db/shards.ts: `db-<index>`, and `accounting` for a
 * book with a database of its own), for the saga's step summaries: the workflow cannot read the configuration.
 */
export function transferRoute(config: Config, t: Pick<TransferRecord, 'fromWalletId' | 'toWalletId'>): TransferRoute {
  const accountingIndex = config.shardDatabaseUrls.indexOf(config.accountingDatabaseUrl);
  return {
    fromDatabase: databaseOfShard(config, shardOfId(t.fromWalletId)),
    toDatabase: databaseOfShard(config, shardOfId(t.toWalletId)),
    accountingDatabase: accountingIndex >= 0 ? `db-${accountingIndex}` : 'accounting',
  };
}

/**
 * The start options of a transfer's saga: `transfer-<id>` on the task queue, USE_EXISTING joins a running
 * saga and REJECT_DUPLICATE never runs a finished one again, with the search attributes, summary and
 * details ops read in the Temporal UI. One builder for the API (update-with-start) and reconciliation
 * (starting the saga of a row whose start was lost), so both start exactly the same workflow.
 */
export function sagaStart(config: Config, t: TransferRecord) {
  const route = transferRoute(config, t);
  const input: TransferWorkflowInput = {
    transfer: {
      transferId: t.id,
      fromWalletId: t.fromWalletId,
      toWalletId: t.toWalletId,
      amountMinor: t.amount.toString(),
      currency: t.currency,
      description: t.description,
    },
    settings: sagaSettings(config),
    route,
  };
  const amount = formatAmount(t.amount, t.currency);
  const [fromShard, toShard] = [shardOfId(t.fromWalletId), shardOfId(t.toWalletId)];
  const { fromDatabase, toDatabase } = route;
  return {
    workflowId: t.workflowId,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    args: [input] as [TransferWorkflowInput],
    workflowIdConflictPolicy: 'USE_EXISTING' as const,
    workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
    typedSearchAttributes: [
      { key: TransferStatusKey, value: 'PENDING' },
      { key: FromWalletIdKey, value: t.fromWalletId },
      { key: ToWalletIdKey, value: t.toWalletId },
      // safe: amounts are capped at MAX_AMOUNT_MINOR ≤ 2^53 - 1 by configuration
      { key: AmountMinorKey, value: Number(t.amount) },
      { key: CurrencyKey, value: t.currency },
      { key: FromShardKey, value: fromShard },
      { key: ToShardKey, value: toShard },
    ],
    staticSummary: `Transfer ${amount} from ${t.fromWalletId} to ${t.toWalletId}${fromShard === toShard ? '' : ' (cross-shard)'}`,
    staticDetails: [
      `**Transfer** \`${t.id}\``,
      `- amount: ${amount} (${t.amount} minor units)`,
      `- from wallet: \`${t.fromWalletId}\` (shard ${fromShard}, ${fromDatabase})`,
      `- to wallet: \`${t.toWalletId}\` (shard ${toShard}, ${toDatabase})`,
      `- requested by: ${t.callerId}`,
      t.description ? `- description: ${t.description}` : '',
    ]
      .filter(Boolean)
      .join('\n'),
  };
}
