import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { findTemporalCli } from '../../scripts/temporal-cli';
import { quietTemporalRuntime, testConfig, workflowBundle } from './env';

export const HISTORIES_DIR = path.resolve(__dirname, '../fixtures/histories');

/**
 * The prefix of the fixtures recorded now: the saga's command sequence as of its latest patch
 * (`compensate-from-the-books`, `durable-decision`). Bump it with the next patch, so the files of
 * earlier versions stay as they were recorded.
 */
export const RECORDED_VERSION = 'v2.1';

/**
 * With RECORD_HISTORIES=1, saves a finished scenario's workflow history as a replay fixture
 * (test/fixtures/histories/<name>.json, committed). test/transfers/replay.test.ts replays the saga's,
 * test/workflows/maintenance-replay.test.ts those under maintenance/ (reconciliation, retention), against
 * the current workflow code, so a change that breaks running workflows fails the suite.
 * The Temporal CLI writes the history JSON (the format `historyFromJSON` reads); the SDK's own
 * encoder trips over jest's per-file module copies of the protobuf classes.
 */
export async function recordHistory(workflowId: string, name: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const cli = findTemporalCli();
  if (!cli) throw new Error('RECORD_HISTORIES needs the Temporal CLI (run scripts/ensure-deps.sh)');
  const cfg = testConfig();
  const json = execFileSync(
    cli,
    [
      'workflow',
      'show',
      '--workflow-id',
      workflowId,
      '--address',
      cfg.TEMPORAL_ADDRESS,
      '--namespace',
      cfg.TEMPORAL_NAMESPACE,
      '--output',
      'json',
    ],
    { encoding: 'utf8' },
  );
  const file = path.join(HISTORIES_DIR, `${name}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, json);
}

/**
 * Replays the recorded histories `files` (names in `dir`) on the current workflow bundle. Returns how
 * many were replayed and one line per history that failed (a non-determinism error, with its message).
 */
export async function replayRecordedHistories(
  dir: string,
  files: string[],
): Promise<{ replayed: number; failures: string[] }> {
  quietTemporalRuntime();
  const histories = files.map((file) => ({
    workflowId: path.basename(file, '.json'),
    // the JSON form as is: the worker decodes it with its own protobuf classes
    history: JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as unknown,
  }));
  const failures: string[] = [];
  let replayed = 0;
  for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
    replayed += 1;
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  return { replayed, failures };
}
