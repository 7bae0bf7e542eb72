import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { DataSource } from 'typeorm';
import type { Config } from '../../config';
import type { TransferEntity } from '../../db/entities/transfer.entity';
import { transferIdFor, workflowIdFor } from '../../domain/ids';
import { formatAmount } from '../../domain/money';
import { recordTransfer, setRunId, type NewTransfer } from '../../domain/transfers/records';
import {
  AmountMinorKey,
  CurrencyKey,
  FromWalletIdKey,
  ToWalletIdKey,
  TransferStatusKey,
} from '../../workflows/search-attributes';
import { transferWorkflow } from '../../workflows/transfer';
import type { SagaSettings, TransferWorkflowInput } from '../../workflows/transfer-types';

/** What a caller asks for; the id and workflow id are derived from (caller, key). */
export type StartTransferCommand = Omit<NewTransfer, 'id' | 'workflowId'>;

export interface TransferDeps {
  db: DataSource;
  temporal: Client;
  config: Config;
}

export function sagaSettings(config: Config): SagaSettings {
  return {
    stepBudgetSeconds: config.TRANSFER_STEP_BUDGET_SECONDS,
    stepAttemptTimeoutSeconds: config.TRANSFER_STEP_ATTEMPT_TIMEOUT_SECONDS,
    parkDeadlineSeconds: config.TRANSFER_PARK_DEADLINE_SECONDS,
  };
}

/**
 * Exactly one saga per transfer (DESIGN §4–5): the transfer id derives from (caller, key), the row
 * is written first, then the workflow `transfer-<id>` is started with USE_EXISTING (a running one
 * is joined) and REJECT_DUPLICATE (a finished one is never run again). A request that crashed
 * between the two writes is completed by its retry, which starts the missing workflow.
 */
export async function startTransfer(deps: TransferDeps, cmd: StartTransferCommand) {
  const id = transferIdFor(cmd.callerId, cmd.idempotencyKey);
  const { transfer, created } = await recordTransfer(deps.db, { ...cmd, id, workflowId: workflowIdFor(id) });
  if (!transfer.runId) await ensureWorkflow(deps, transfer);
  return { transfer, created };
}

async function ensureWorkflow({ db, temporal, config }: TransferDeps, t: TransferEntity) {
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
  };
  const amount = formatAmount(t.amount, t.currency);
  try {
    const handle = await temporal.workflow.start(transferWorkflow, {
      workflowId: t.workflowId,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: [
        { key: TransferStatusKey, value: 'PENDING' },
        { key: FromWalletIdKey, value: t.fromWalletId },
        { key: ToWalletIdKey, value: t.toWalletId },
        // safe: amounts are capped at MAX_AMOUNT_MINOR ≤ 2^53 - 1 by configuration
        { key: AmountMinorKey, value: Number(t.amount) },
        { key: CurrencyKey, value: t.currency },
      ],
      staticSummary: `Transfer ${amount} from ${t.fromWalletId} to ${t.toWalletId}`,
      staticDetails: [
        `**Transfer** \`${t.id}\``,
        `- amount: ${amount} (${t.amount} minor units)`,
        `- from wallet: \`${t.fromWalletId}\``,
        `- to wallet: \`${t.toWalletId}\``,
        `- requested by: ${t.callerId}`,
        t.description ? `- description: ${t.description}` : '',
      ]
        .filter(Boolean)
        .join('\n'),
    });
    await setRunId(db, t.id, handle.firstExecutionRunId);
    t.runId = handle.firstExecutionRunId;
  } catch (err) {
    // the saga ran and finished before: the reuse policy refuses a second run, which is the point
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}
