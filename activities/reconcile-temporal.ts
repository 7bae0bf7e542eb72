import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import { heartbeat } from '@temporalio/activity';
import { storeDiscrepancies } from '../domain/reconciliation/discrepancy';
import { pageResult, type Discrepancy, type PageResult } from '../domain/reconciliation/results';
import {
  decidedTransfersPage,
  decisionAuditKeys,
  openTransfersPage,
  workflowIdsWithRows,
} from '../domain/reconciliation/transfer-pages';
import { changeTransferState, type TransferRecord } from '../domain/transfers/records';
import { sagaStart } from '../domain/transfers/saga-start';
import { TERMINAL_STATUSES } from '../domain/transfer-status';
import type { transferWorkflow } from '../workflows/transfer';
import type { TransferView } from '../workflows/contract';
import type { ActivityDeps } from './deps';
import type { PageInput } from './reconciliation';

const TRANSFER_WORKFLOW = 'transferWorkflow';

/** The transfers table against Temporal, and the audit log against the decisions the workflows recorded. */
export function reconcileTemporalActivities({ db, temporal, config }: ActivityDeps) {
  async function describe(workflowId: string): Promise<WorkflowExecutionDescription | null> {
    try {
      return await temporal.workflow.getHandle(workflowId).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return null;
      throw err;
    }
  }

  /** A row whose workflow is missing or closed: what is wrong and, when it can be, the repair. */
  async function checkTransfer(t: TransferRecord): Promise<Discrepancy | null> {
    const ids = { transferId: t.id, workflowId: t.workflowId };
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
        const applied = await changeTransferState(db, {
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
    async reconcileTransferWorkflows({ runId, after, limit }: PageInput): Promise<PageResult> {
      const page = await openTransfersPage(db, after, limit);
      const found: Discrepancy[] = [];
      for (const t of page) {
        const d = await checkTransfer(t);
        if (d) found.push(d);
        heartbeat();
      }
      await storeDiscrepancies(db, runId, found);
      return pageResult(found, page.length, page.length === limit ? page[page.length - 1]!.seq.toString() : null);
    },

    /** Every transfer workflow on our task queue must have its row (visibility pages; `after` is the page token). */
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
      const known = await workflowIdsWithRows(
        db,
        executions.map((e) => e.workflowId),
      );
      const found: Discrepancy[] = executions
        .filter((e) => !known.has(e.workflowId))
        .map((e) => ({
          kind: 'workflow_without_transfer',
          subject: e.workflowId,
          ids: e,
          detail: 'a transfer workflow without its transfers row',
        }));
      await storeDiscrepancies(db, runId, found);
      const token =
        res.nextPageToken && res.nextPageToken.length > 0 ? Buffer.from(res.nextPageToken).toString('base64') : null;
      return pageResult(found, executions.length, token);
    },

    /** The decisions a saga applied (its result or `status` query) against the audit rows it wrote with them. */
    async reconcileFinanceDecisions({ runId, after, limit }: PageInput): Promise<PageResult> {
      const page = await decidedTransfersPage(db, after, limit);
      const found: Discrepancy[] = [];
      for (const t of page) {
        const described = await describe(t.workflowId);
        if (!described || !['RUNNING', 'COMPLETED'].includes(described.status.name)) continue; // reported by the check above
        const handle = temporal.workflow.getHandle(t.workflowId, described.runId);
        const view = (
          described.status.name === 'RUNNING' ? await handle.query('status') : await handle.result()
        ) as TransferView;
        const rows = await decisionAuditKeys(db, t.id);
        const audited = new Set(rows.map((r) => r.key));
        const decided = new Set<string>();
        for (const d of view.decisions) {
          if (!d.updateId) continue; // v1 decisions carry no update id
          const key = `${t.workflowId}/${d.updateId}`;
          decided.add(key);
          if (!audited.has(key)) {
            found.push({
              kind: 'decision_without_audit',
              subject: key,
              ids: { transferId: t.id, workflowId: t.workflowId, updateId: d.updateId },
              detail: `${d.kind} by ${d.actor} applied by the saga, no audit row`,
            });
          }
        }
        for (const { key, settled } of rows) {
          if (decided.has(key) || !settled) continue;
          found.push({
            kind: 'audit_without_decision',
            subject: key,
            ids: { transferId: t.id, workflowId: t.workflowId, updateId: key.slice(t.workflowId.length + 1) },
            detail: 'an audit row for a decision the saga did not apply',
          });
        }
        heartbeat();
      }
      await storeDiscrepancies(db, runId, found);
      return pageResult(found, page.length, page.length === limit ? page[page.length - 1]!.seq.toString() : null);
    },
  };
}
