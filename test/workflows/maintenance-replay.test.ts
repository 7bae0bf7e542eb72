import fs from 'node:fs';
import path from 'node:path';
import { HISTORIES_DIR, replayRecordedHistories } from '../support/histories';

/**
 * Determinism of the maintenance workflows the Schedules start every few minutes (reconciliation,
 * idempotency retention): their recorded histories must replay on the current workflow code, so that a
 * change to either cannot break the runs in flight when it ships. Recorded from real runs by
 * `RECORD_HISTORIES=1 npx jest test/reconciliation` (a change to the command sequence ships behind a
 * patch, with fixtures of its own beside these).
 */
describe('reconciliation and retention workflow replay', () => {
  const dir = path.join(HISTORIES_DIR, 'maintenance');
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();

  it('has recorded histories: a paged run, a run continued as new, a run that repaired, a batched purge', () => {
    expect(files).toEqual([
      'reconciliation-continued-as-new.json',
      'reconciliation-paged.json',
      'reconciliation-repairs.json',
      'retention-batches.json',
    ]);
  });

  it('replays every recorded history without non-determinism', async () => {
    const { replayed, failures } = await replayRecordedHistories(dir, files);
    expect(failures).toEqual([]);
    expect(replayed).toBe(files.length);
  });
});
