import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import { heartbeat } from '@temporalio/activity';
import type { ShardDatabase } from '../db/shards';
import { storeDiscrepancies } from '../domain/reconciliation/discrepancy';
import { byDatabase, type DatabasePage } from '../domain/reconciliation/page';
import { pageResult, type Discrepancy, type PageResult } from '../domain/reconciliation/results';
import {
  decidedTransfersPage,
  decisionAuditKeys,
  openTransfersPage,
  workflowIdsWithRows,
} from '../domain/reconciliation/transfer-pages';
import { changeTransferState, type TransferRecord } from '../domain/transfers/records';
import { sagaStart } from '../domain/transfers/saga-start';
import { shardOfId } from '../domain/shards';
import { TERMINAL_STATUSES } from '../domain/transfer-status';
import type { transferWorkflow } from '../workflows/transfer';
import type { TransferView } from '../workflows/contract';
import type { ActivityDeps } from './deps';
import { pageEachDatabase, type PageInput } from './reconciliation';

const TRANSFER_WORKFLOW = 'transferWorkflow';
const WORKFLOW_ID_PREFIX = 'transfer-';

/**
 * The transfers tables (of every wallet shard database) against Temporal, and the audit log against the
 * decisions the workflows recorded. A transfer's row and its decision audit rows are on its sender's
 * database, which its id names.
 */
export function reconcileTemporalActivities({ db, shards, temporal, config }: ActivityDeps) {
  async function describe(workflowId: string): Promise<WorkflowExecutionDescription | null> {
    try {
      return await temporal.workflow.getHandle(workflowId).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return null;
      throw err;
    }
  }

  /** A row of `home`'s whose workflow is missing or closed: what is wrong and, when it can be, the repair. */
  async function checkTransfer(home: ShardDatabase, t: TransferRecord): Promise<Discrepancy | null> {
    const ids = {
      transferId: t.id,
      workflowId: t.workflowId,
      database: home.name,
      logicalShard: String(shardOfId(t.fromWalletId)),
    };
    const described = await describe(t.workflowId);
    if (!described) {
      // the API crashed between the row and the start: start it now, exactly as the API would have
      try {
        await temporal.workflow.start<typeof transferWorkflow>(TRANSFER_WORKFLOW, sagaStart(config, t));
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
      return {
        kind: 'transfer_without_workflow',
        subject: t.id,
        ids,
        detail: `${t.status} with no workflow`,
        repaired: 'saga started under its workflow id',
      };
    }
    if (described.status.name === 'RUNNING') return null;
    const closed = { ...ids, runId: described.runId };
    if (described.status.name === 'COMPLETED') {
      const view = (await temporal.workflow.getHandle(t.workflowId, described.runId).result()) as TransferView;
      if (TERMINAL_STATUSES.includes(view.status)) {
        const applied = await changeTransferState(home.store, {
          transferId: t.id,
          status: view.status,
          ...(view.failure ? { failure: view.failure } : {}),
        });
        if (!applied) return null; // the saga's own write landed meanwhile
        return {
          kind: 'transfer_workflow_closed',
          subject: t.id,
          ids: closed,
          detail: `row ${t.status}, workflow completed with ${view.status}`,
          repaired: `row set to ${view.status} from the workflow's result`,
        };
      }
    }
    return {
      kind: 'transfer_workflow_closed',
      subject: t.id,
      ids: closed,
      detail: `row ${t.status}, workflow ${described.status.name}`,
    };
  }

  return {
    /** Non-terminal transfer rows must have a running saga; a missing one is started, a closed one's row repaired. */
    async reconcileTransferWorkflows(input: PageInput): Promise<PageResult> {
      return pageEachDatabase(shards, db, input, async (_shards, { database }, after, limit): Promise<DatabasePage> => {
        const page = await openTransfersPage(database.store, after, limit);
        const found: Discrepancy[] = [];
        for (const t of page) {
          const d = await checkTransfer(database, t);
          if (d) found.push(d);
          heartbeat();
        }
        return {
          found,
          checked: page.length,
          last: page.length === limit ? page[page.length - 1]!.seq.toString() : null,
        };
      });
    },

    /**
     * Every transfer workflow on our task queue must have its row, on the database its transfer id names
     * (visibility pages; `after` is the page token).
     */
    async reconcileWorkflowRows({ runId, after, limit }: PageInput): Promise<PageResult> {
      const res = await temporal.workflowService.listWorkflowExecutions({
        namespace: config.TEMPORAL_NAMESPACE,
        query: `WorkflowType = '${TRANSFER_WORKFLOW}' AND TaskQueue = '${config.TEMPORAL_TASK_QUEUE}'`,
        pageSize: limit,
        nextPageToken: after ? Buffer.from(after, 'base64') : undefined,
      });
      const executions = (res.executions ?? []).map((e) => ({
        workflowId: e.execution?.workflowId ?? '',
        runId: e.execution?.runId ?? '',
      }));
      const transferIdOf = (workflowId: string) =>
        workflowId.startsWith(WORKFLOW_ID_PREFIX) ? workflowId.slice(WORKFLOW_ID_PREFIX.length) : workflowId;
      const known = new Set<string>();
      for (const [database, group] of byDatabase(shards, executions, (e) => transferIdOf(e.workflowId))) {
        const ids = await workflowIdsWithRows(
          database.store,
          group.map((e) => e.workflowId),
        );
        for (const id of ids) known.add(id);
      }
      const found: Discrepancy[] = executions
        .filter((e) => !known.has(e.workflowId))
        .map((e) => {
          const transferId = transferIdOf(e.workflowId);
          return {
            kind: 'workflow_without_transfer',
            subject: e.workflowId,
            ids: {
              ...e,
              database: shards.forTransfer(transferId).name,
              logicalShard: String(shardOfId(transferId)),
            },
            detail: `a transfer workflow without its transfers row on ${shards.forTransfer(transferId).name}`,
          };
        });
      await storeDiscrepancies(db, runId, found);
      const token =
        res.nextPageToken && res.nextPageToken.length > 0 ? Buffer.from(res.nextPageToken).toString('base64') : null;
      return pageResult(found, executions.length, token);
    },

    /** The decisions a saga applied (its result or `status` query) against the audit rows it wrote with them. */
    async reconcileFinanceDecisions(input: PageInput): Promise<PageResult> {
      return pageEachDatabase(shards, db, input, async (_shards, { database }, after, limit): Promise<DatabasePage> => {
        const page = await decidedTransfersPage(database.store, after, limit);
        const found: Discrepancy[] = [];
        for (const t of page) {
          const described = await describe(t.workflowId);
          if (!described || !['RUNNING', 'COMPLETED'].includes(described.status.name)) continue; // reported by the check above
          const handle = temporal.workflow.getHandle(t.workflowId, described.runId);
          const view = (
            described.status.name === 'RUNNING' ? await handle.query('status') : await handle.result()
          ) as TransferView;
          const rows = await decisionAuditKeys(database.store, t.id);
          const audited = new Set(rows.map((r) => r.key));
          const decided = new Set<string>();
          const place = { database: database.name, logicalShard: String(shardOfId(t.fromWalletId)) };
          for (const d of view.decisions) {
            if (!d.updateId) continue; // v1 decisions carry no update id
            const key = `${t.workflowId}/${d.updateId}`;
            decided.add(key);
            if (!audited.has(key)) {
              found.push({
                kind: 'decision_without_audit',
                subject: key,
                ids: { transferId: t.id, workflowId: t.workflowId, updateId: d.updateId, ...place },
                detail: `${d.kind} by ${d.actor} applied by the saga, no audit row`,
              });
            }
          }
          for (const { key, settled } of rows) {
            if (decided.has(key) || !settled) continue;
            found.push({
              kind: 'audit_without_decision',
              subject: key,
              ids: {
                transferId: t.id,
                workflowId: t.workflowId,
                updateId: key.slice(t.workflowId.length + 1),
                ...place,
              },
              detail: 'an audit row for a decision the saga did not apply',
            });
          }
          heartbeat();
        }
        return {
          found,
          checked: page.length,
          last: page.length === limit ? page[page.length - 1]!.seq.toString() : null,
        };
      });
    },
  };
}
