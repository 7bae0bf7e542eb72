import fs from 'node:fs';
import path from 'node:path';
import { SearchAttributeType } from '@temporalio/common';
import { transferSearchAttributes } from '../workflows/contract';

/**
 * The repository root: the nearest ancestor of this file that holds package.json.
 * Works from the TS source (scripts/, under ts-jest or ts-node) and from the compiled
 * output (dist/scripts/, where dist/ has no package.json of its own).
 */
export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = parent;
  }
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Where the Temporal CLI (`temporal server start-dev`) is on this machine:
 * $TEMPORAL_CLI_PATH, then the project-local copy installed by scripts/ensure-deps.sh
 * (`.tools/temporal/bin/temporal`), then `temporal` on PATH.
 * `undefined` when there is none: callers then let @temporalio/testing download the server.
 */
export function findTemporalCli(): string | undefined {
  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new Error(`TEMPORAL_CLI_PATH=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  const local = path.join(repoRoot(), '.tools', 'temporal', 'bin', 'temporal');
  if (isExecutable(local)) return local;
  return onPath(process.platform === 'win32' ? 'temporal.exe' : 'temporal');
}

/**
 * Where the Temporal time-skipping test server (the Java SDK's native `temporal-test-server`, run by
 * `TestWorkflowEnvironment.createTimeSkipping`) is on this machine: $TEMPORAL_TEST_SERVER_PATH, then the
 * project-local copy installed by scripts/ensure-deps.sh (`.tools/temporal-test-server/bin/temporal-test-server`),
 * then `temporal-test-server` on PATH.
 * `undefined` when there is none: callers then let @temporalio/testing download the server.
 */
export function findTemporalTestServer(): string | undefined {
  const fromEnv = process.env.TEMPORAL_TEST_SERVER_PATH;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new Error(`TEMPORAL_TEST_SERVER_PATH=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  const exe = process.platform === 'win32' ? 'temporal-test-server.exe' : 'temporal-test-server';
  const local = path.join(repoRoot(), '.tools', 'temporal-test-server', 'bin', exe);
  if (isExecutable(local)) return local;
  return onPath(exe);
}

/**
 * How `npm start` and the tests run `temporal server start-dev` (docs/benchmarks.md):
 * - SQLite in WAL mode, fsynced at checkpoints rather than at every commit: the dev server spent most
 *   of a bench in fsyncs. A crash of the machine may lose the last commits; the file stays consistent.
 *   A dev stack can afford that (in memory, as in the tests, the pragmas change nothing);
 * - eager activity dispatch: a workflow task that schedules an activity gets it back in its completion
 *   response, without a round trip through matching.
 */
export const DEV_SERVER_TUNING_ARGS: readonly string[] = [
  '--sqlite-pragma',
  'journal_mode=wal',
  '--sqlite-pragma',
  'synchronous=normal',
  '--dynamic-config-value',
  'system.enableActivityEagerExecution=true',
];

const CLI_TYPE: Record<SearchAttributeType, string> = {
  [SearchAttributeType.TEXT]: 'Text',
  [SearchAttributeType.KEYWORD]: 'Keyword',
  [SearchAttributeType.INT]: 'Int',
  [SearchAttributeType.DOUBLE]: 'Double',
  [SearchAttributeType.BOOL]: 'Bool',
  [SearchAttributeType.DATETIME]: 'Datetime',
  [SearchAttributeType.KEYWORD_LIST]: 'KeywordList',
};

/** `--search-attribute KEY=Type` for each of our custom search attributes, for `temporal server start-dev`. */
export function searchAttributeArgs(): string[] {
  return transferSearchAttributes.flatMap((k) => ['--search-attribute', `${k.name}=${CLI_TYPE[k.type]}`]);
}
