import {
  Client,
  Connection,
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  type ScheduleOptions,
} from '@temporalio/client';
import { loadConfig, type Config } from '../config';
import type { reconciliationWorkflow } from '../workflows/reconciliation';

/** The Schedules' ids: what ops look for in the Temporal UI (Schedules). */
export const RECONCILIATION_SCHEDULE_ID = 'wallet-reconciliation';
export const RETENTION_SCHEDULE_ID = 'wallet-idempotency-retention';

/** The two Schedules as this configuration wants them. */
export function scheduleDefinitions(config: Config): ScheduleOptions[] {
  const common = {
    // overlap SKIP: a run still going when the next is due makes that one skip, never pile up
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '10 minutes' as const, pauseOnFailure: false },
  };
  return [
    {
      scheduleId: RECONCILIATION_SCHEDULE_ID,
      spec: { intervals: [{ every: `${config.RECONCILIATION_INTERVAL_SECONDS}s` }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'reconciliationWorkflow',
        workflowId: 'reconciliation',
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        args: [{ trigger: 'schedule', pageSize: config.RECONCILIATION_PAGE_SIZE }] satisfies Parameters<
          typeof reconciliationWorkflow
        >,
        staticSummary: 'Reconciliation: ledger invariants, accounting book, transfers vs workflows, audit vs decisions',
        staticDetails: 'Results: GET /v1/reconciliation/runs (finance, ops). docs/architecture.md §7.2–7.3.',
      },
      memo: {
        description: 'Checks the books, the accounting book, the sagas and the audit trail against each other',
        results: 'GET /v1/reconciliation/runs; metric reconciliation_discrepancies{kind}',
        runbook: 'docs/runbooks.md#walletreconciliationdiscrepancies',
      },
      state: {
        note: `every ${config.RECONCILIATION_INTERVAL_SECONDS}s (RECONCILIATION_INTERVAL_SECONDS), ensured by scripts/ensure-schedules`,
      },
      ...common,
    },
    {
      scheduleId: RETENTION_SCHEDULE_ID,
      spec: { intervals: [{ every: `${config.RETENTION_INTERVAL_SECONDS}s` }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'idempotencyRetentionWorkflow',
        workflowId: 'idempotency-retention',
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        args: [],
        staticSummary: 'Retention: purge idempotency records older than IDEMPOTENCY_TTL_SECONDS',
      },
      memo: {
        description: `Deletes expired idempotency records in batches of ${config.RETENTION_BATCH_SIZE} (at most ${config.RETENTION_MAX_BATCHES} per run)`,
      },
      state: {
        note: `every ${config.RETENTION_INTERVAL_SECONDS}s (RETENTION_INTERVAL_SECONDS), ensured by scripts/ensure-schedules`,
      },
      ...common,
    },
  ];
}

/**
 * Creates the Schedules, or updates them to this configuration when they exist: idempotent, so
 * `npm start`, the compose stack and every deploy run it. Returns what it did per schedule.
 */
export async function ensureSchedules(
  client: Client,
  config: Config,
): Promise<Array<{ scheduleId: string; action: 'created' | 'updated' }>> {
  const done: Array<{ scheduleId: string; action: 'created' | 'updated' }> = [];
  for (const def of scheduleDefinitions(config)) {
    try {
      await client.schedule.create(def);
      done.push({ scheduleId: def.scheduleId, action: 'created' });
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      // the memo is fixed at creation; spec, action, policies and note follow the configuration
      await client.schedule.getHandle(def.scheduleId).update((prev) => ({
        ...prev,
        spec: def.spec,
        action: def.action,
        policies: { ...prev.policies, ...def.policies },
        state: { ...prev.state, note: def.state?.note },
      }));
      done.push({ scheduleId: def.scheduleId, action: 'updated' });
    }
  }
  return done;
}

if (require.main === module) {
  const config = loadConfig();
  (async () => {
    const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
    try {
      const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
      for (const r of await ensureSchedules(client, config)) console.log(`schedule ${r.scheduleId}: ${r.action}`);
    } finally {
      await connection.close();
    }
  })().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error('ensuring the schedules failed:', err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
