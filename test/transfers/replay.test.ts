import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { quietTemporalRuntime, workflowBundle } from '../support/env';
import { HISTORIES_DIR } from '../support/histories';

/**
 * Determinism: every recorded saga history (happy path, rejection, compensation, parking with
 * retry / cancel / deadline, …) must replay on the current workflow code without a
 * non-determinism error. Re-record with `RECORD_HISTORIES=1 npx jest test/transfers/saga` only when a
 * change is deliberately incompatible (and then version the workflow with patched()).
 */
describe('transfer workflow replay', () => {
  const files = fs.readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json')).sort();

  it('has recorded histories of the saga scenarios to replay', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'completed.json',
        'rejected-insufficient-funds.json',
        'cancelled-receiver-frozen.json',
        'cancelled-limit-exceeded.json',
        'parked-then-retried.json',
        'parked-then-cancelled.json',
        'parked-deadline-passed.json',
      ]),
    );
  });

  it('replays every recorded history without non-determinism', async () => {
    quietTemporalRuntime();
    const histories = files.map((file) => ({
      workflowId: path.basename(file, '.json'),
      // the JSON form as is: the worker decodes it with its own protobuf classes
      history: JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, file), 'utf8')) as unknown,
    }));
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
      replayed += 1;
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(replayed).toBe(files.length);
  });
});
