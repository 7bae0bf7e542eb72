// A trivial workflow for test/temporal-smoke.test.ts: proves that the real server, a real worker,
// workflow bundling, activities and our custom search attributes work together.
// Deliberately not part of workflows/ (it must never ship in the production bundle).
import { proxyActivities, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { TransferStatusKey } from '../../workflows/contract';

export interface SmokeActivities {
  greet(name: string): Promise<string>;
}

const { greet } = proxyActivities<SmokeActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 1 },
});

export interface SmokeResult {
  greeting: string;
  statusBefore: string | undefined;
  statusAfter: string | undefined;
}

export async function smokeWorkflow(name: string): Promise<SmokeResult> {
  const statusBefore = workflowInfo().typedSearchAttributes.get(TransferStatusKey);
  const greeting = await greet(name);
  upsertSearchAttributes([{ key: TransferStatusKey, value: 'COMPLETED' }]);
  return { greeting, statusBefore, statusAfter: workflowInfo().typedSearchAttributes.get(TransferStatusKey) };
}
