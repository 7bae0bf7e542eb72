import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { PageResult } from '../../domain/reconciliation/results';
import { reconciliationWorkflow } from '../../workflows/reconciliation';
import { createTimeSkippingEnv, createTimeSkippingWorker } from '../support/time-skipping';

/**
 * A reconciliation run that cannot finish marks its row failed (with why) instead of leaving it
 * `running` for good; on the time-skipping server, with stubbed page activities.
 */
let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
const failed: Array<{ runId: string; reason: string }> = [];
const finished: string[] = [];
/** the wallets page: fails for good (a table that cannot be read) unless healthy */
let walletsBroken = true;
/** when set, the wallets page waits for it (a slow page) and tells `entered` */
let walletsGate: { entered: () => void; release: Promise<void> } | null = null;

const emptyPage = async (): Promise<PageResult> => ({ checked: 0, found: {}, repaired: 0, next: null });

beforeAll(async () => {
  env = await createTimeSkippingEnv();
  worker = await createTimeSkippingWorker(env, {
    activities: {
      beginReconciliation: async () => undefined,
      reconcileWallets: async () => {
        if (walletsGate) {
          walletsGate.entered();
          await walletsGate.release;
        }
        if (walletsBroken) throw ApplicationFailure.nonRetryable('relation "wallets" is unreadable', 'BROKEN');
        return emptyPage();
      },
      reconcileJournalEntries: emptyPage,
      reconcileBookings: emptyPage,
      reconcileTransferWorkflows: emptyPage,
      reconcileWorkflowRows: emptyPage,
      reconcileFinanceDecisions: emptyPage,
      finishReconciliation: async ({ runId, summary }: { runId: string; summary: object }) => {
        finished.push(runId);
        return summary;
      },
      failReconciliation: async (f: { runId: string; reason: string }) => {
        failed.push(f);
      },
    },
  });
  running = worker.run();
}, 120_000);

afterAll(async () => {
  worker?.shutdown();
  await running;
  await env?.teardown();
});

const start = (runId: string) =>
  env.client.workflow.start(reconciliationWorkflow, {
    args: [{ trigger: 'manual', runId, pageSize: 10 }],
    taskQueue: worker.options.taskQueue,
    workflowId: `reconciliation-${runId}`,
  });

describe('a reconciliation run', () => {
  it('whose page fails for good marks its run failed, with the reason, and fails the workflow', async () => {
    walletsBroken = true;
    const runId = randomUUID();
    const handle = await start(runId);
    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    expect(failed).toEqual([{ runId, reason: expect.stringContaining('relation "wallets" is unreadable') }]);
    expect(finished).not.toContain(runId);
  });

  it('cancelled from Temporal while a page runs marks its run failed as cancelled', async () => {
    walletsBroken = false;
    failed.length = 0;
    let release!: () => void;
    const entered = new Promise<void>((resolve) => {
      walletsGate = { entered: resolve, release: new Promise<void>((r) => (release = r)) };
    });
    try {
      const runId = randomUUID();
      const handle = await start(runId);
      await entered;
      await handle.cancel();
      await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
      expect(failed).toEqual([{ runId, reason: 'cancelled from Temporal' }]);
      expect(finished).not.toContain(runId);
    } finally {
      walletsGate = null;
      release();
    }
  });

  it('that completes is finished, not failed', async () => {
    walletsBroken = false;
    failed.length = 0;
    const runId = randomUUID();
    await start(runId).then((h) => h.result());
    expect(finished).toContain(runId);
    expect(failed).toEqual([]);
  });
});
