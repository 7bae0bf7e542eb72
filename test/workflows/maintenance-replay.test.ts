import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { quietTemporalRuntime, workflowBundle } from '../support/env';
import { HISTORIES_DIR } from '../support/histories';

/**
 * Determinism of the maintenance workflows the Schedules start every few minutes (reconciliation,
 * idempotency retention): their recorded histories must replay on the current workflow code, so that a
 * change to either cannot break the runs in flight when it ships. Recorded from real runs by
 * `RECORD_HISTORIES=1 npx jest test/reconciliation` (a change to the command sequence ships behind a
 * patch, with fixtures of its own beside these).
 */
describe('reconciliation and retention workflow replay', () => {
  const dir = path.join(HISTORIES_DIR, 'maintenance');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

  it('has recorded histories: a paged run, a run continued as new, a run that repaired, a batched purge', () => {
    expect(files).toEqual([
      'reconciliation-continued-as-new.json',
      'reconciliation-paged.json',
      'reconciliation-repairs.json',
      'retention-batches.json',
    ]);
  });

  it('replays every recorded history without non-determinism', async () => {
    quietTemporalRuntime();
    const histories = files.map((file) => ({
      workflowId: path.basename(file, '.json'),
      history: JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as unknown,
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
