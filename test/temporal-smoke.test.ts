import { TypedSearchAttributes } from '@temporalio/common';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import type { Client } from '@temporalio/client';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { TransferStatusKey, transferSearchAttributes } from '../workflows/contract';
import { connectTemporalClient, connectWorkerConnection, testConfig, uniqueTaskQueue } from './support/env';
import type { SmokeActivities } from './smoke/smoke-workflows';
import { smokeWorkflow } from './smoke/smoke-workflows';

describe('Temporal dev server (smoke)', () => {
  let client: Client;
  let connection: NativeConnection;

  beforeAll(async () => {
    client = await connectTemporalClient();
    connection = await connectWorkerConnection();
  });

  afterAll(async () => {
    await connection?.close();
    await client?.connection.close();
  });

  it('registers our custom search attributes with their types', async () => {
    const { customAttributes } = await client.connection.operatorService.listSearchAttributes({
      namespace: testConfig().TEMPORAL_NAMESPACE,
    });
    expect(transferSearchAttributes.map((k) => k.name)).toEqual(
      expect.arrayContaining(['TransferStatus', 'FromWalletId', 'ToWalletId', 'AmountMinor', 'Currency']),
    );
    for (const key of transferSearchAttributes) {
      expect({ name: key.name, type: customAttributes?.[key.name] }).toEqual({
        name: key.name,
        type: encodeSearchAttributeIndexedValueType(key.type),
      });
    }
  });

  it('runs a workflow that calls an activity on a real in-process worker', async () => {
    const taskQueue = uniqueTaskQueue('smoke');
    const activities: SmokeActivities = {
      greet: async (name) => `hello, ${name}`,
    };
    const worker = await Worker.create({
      connection,
      namespace: testConfig().TEMPORAL_NAMESPACE,
      taskQueue,
      workflowsPath: require.resolve('./smoke/smoke-workflows'),
      activities,
    });

    const workflowId = `smoke-${taskQueue}`;
    const result = await worker.runUntil(
      client.workflow.execute(smokeWorkflow, {
        taskQueue,
        workflowId,
        args: ['wallet'],
        typedSearchAttributes: new TypedSearchAttributes([{ key: TransferStatusKey, value: 'PENDING' }]),
      }),
    );

    expect(result).toEqual({ greeting: 'hello, wallet', statusBefore: 'PENDING', statusAfter: 'COMPLETED' });
    const described = await client.workflow.getHandle(workflowId).describe();
    expect(described.status.name).toBe('COMPLETED');
    expect(described.typedSearchAttributes.get(TransferStatusKey)).toBe('COMPLETED');
  });
});
