import { ApplicationFailure } from '@temporalio/common';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app';
import { sdkLogLine } from '../../worker/sdk-log';
import { expectProblem } from '../api/helpers';
import { testConfig, uniqueTaskQueue } from '../support/env';
import { eventually } from '../support/wallets';
import { spawnWorker, stopWorker, type WorkerProcess } from '../support/worker-process';
import { postTransfer, walletPair } from '../transfers/helpers';

/** A business refusal is an outcome of a transfer, logged at info without a stack; real failures stay warnings. */
describe('worker logs of a refused transfer', () => {
  const config = testConfig({ TEMPORAL_TASK_QUEUE: uniqueTaskQueue('refusal-logs') });
  let worker: WorkerProcess;
  let app: FastifyInstance;

  beforeAll(async () => {
    worker = spawnWorker(config, 'refusal-logs');
    await worker.identity;
    app = await buildApp({ config, logger: false });
  });

  afterAll(async () => {
    await app?.close();
    if (worker) await stopWorker(worker);
  });

  it('logs INSUFFICIENT_FUNDS at info with its code and no stack, and nothing about it at warn or above', async () => {
    const { from, to } = await walletPair(app, 100);
    const res = await postTransfer(app, { fromWalletId: from.id, toWalletId: to.id, amount: 500 });
    expectProblem(res, 422, 'INSUFFICIENT_FUNDS');
    const { transferId } = res.json<{ transferId: string }>();

    const lines = await eventually(
      async () => {
        const mine = worker
          .output()
          .split('\n')
          .filter((l) => l.startsWith('{') && l.includes(transferId))
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        return mine.some((l) => l.outcome === 'refused') ? mine : undefined;
      },
      15_000,
      'the refusal in the worker log',
    );
    const refusal = lines.find((l) => l.outcome === 'refused')!;
    expect(refusal).toMatchObject({ level: 30, code: 'INSUFFICIENT_FUNDS' });
    expect(JSON.stringify(refusal)).not.toContain('stack');
    expect(lines.filter((l) => (l.level as number) >= 40)).toEqual([]);
  });
});

describe('sdkLogLine', () => {
  it('keeps a retryable failure, and a non-retryable one that is no refusal, at their level with the error', () => {
    const transient = ApplicationFailure.retryable('database unavailable', 'UNAVAILABLE');
    expect(sdkLogLine('WARN', { error: transient })).toEqual({ level: 'WARN', meta: { error: transient } });
    const invalid = ApplicationFailure.nonRetryable('no active hold', 'INVALID_STATE');
    expect(sdkLogLine('WARN', { error: invalid })).toEqual({ level: 'WARN', meta: { error: invalid } });
  });

  it('turns a refusal into an info line with its code and reason', () => {
    const refusal = ApplicationFailure.nonRetryable('balance 100 < 500', 'INSUFFICIENT_FUNDS');
    expect(sdkLogLine('WARN', { error: refusal, activityType: 'reserve' })).toEqual({
      level: 'INFO',
      meta: { activityType: 'reserve', outcome: 'refused', code: 'INSUFFICIENT_FUNDS', reason: 'balance 100 < 500' },
    });
  });
});
