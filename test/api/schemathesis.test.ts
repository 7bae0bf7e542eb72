import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { tokenFor, type TestCaller } from '../support/auth';
import { ownDatabase, testConfig } from '../support/env';
import { startTransferWorker, type RunningWorker } from '../support/transfer-worker';
import { ADMIN, FINANCE, OPS, customer, startApp } from './helpers';

/**
 * The outside probe, inside the suite: schemathesis (pinned in test/schemathesis/requirements.txt,
 * installed by scripts/ensure-deps.sh) generates requests from the OpenAPI document the API serves and
 * runs every one of its checks on the answers (`--checks all`: no 5xx; status codes, content types,
 * headers and bodies as documented; schema-valid data accepted, invalid data refused; 405 for undeclared
 * methods; auth not ignored; …), for each role, with a fixed seed and a bounded number of cases.
 * A failure prints schemathesis' own report: the failing request as a curl line, and what was expected.
 */

const ROOT = resolve(__dirname, '../..');
const ST = join(ROOT, '.tools/schemathesis/bin/st');
/** The checks' settings that differ from schemathesis' defaults, each with its reason. */
const CONFIG = join(__dirname, 'schemathesis.toml');
const REPORTS = join(ROOT, 'test-results/schemathesis');
const SEED = '20261201';
const MAX_EXAMPLES = '10';

const exec = promisify(execFile);

async function schemathesis(
  baseUrl: string,
  role: string,
  caller: TestCaller,
): Promise<{ code: number; output: string }> {
  const args = [
    '--config-file',
    CONFIG,
    'run',
    `${baseUrl}/openapi.json`,
    '--header',
    `Authorization: Bearer ${tokenFor(caller)}`,
    '--checks',
    'all',
    '--seed',
    SEED,
    '--max-examples',
    MAX_EXAMPLES,
    '--workers',
    '1',
    '--generation-database',
    'none',
    '--no-color',
    '--report',
    'junit',
    '--report-junit-path',
    join(REPORTS, `${role}.xml`),
  ];
  try {
    // cwd: schemathesis keeps its crash files (for `st replay`) under .schemathesis/ there, git-ignored
    const { stdout, stderr } = await exec(ST, args, { cwd: REPORTS, maxBuffer: 64 * 1024 * 1024, timeout: 240_000 });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof e.code === 'number' ? e.code : -1,
      output: `${e.stdout ?? ''}${e.stderr ?? ''}\n${e.message}`,
    };
  }
}

describe('the OpenAPI document against the running API (schemathesis --checks all)', () => {
  let app: FastifyInstance;
  let worker: RunningWorker;
  let baseUrl: string;
  const database = ownDatabase('schemathesis');
  const overrides = { ...database.overrides, TEMPORAL_TASK_QUEUE: `schemathesis-${randomUUID()}` };

  beforeAll(async () => {
    if (!existsSync(ST)) throw new Error(`${ST} is missing: run bash scripts/ensure-deps.sh (npm test does)`);
    mkdirSync(REPORTS, { recursive: true });
    // a database and a task queue of its own, with one real worker: every transfer schemathesis can find
    // (and send finance decisions to) is one it started, answered by this worker alone; never another
    // suite's, whose worker may be stopped (a decision then waits for the answer timeout: 503) or stubbed
    await database.create();
    worker = await startTransferWorker(testConfig(overrides));
    app = await startApp(overrides);
    baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await worker?.stop();
    await database.drop();
  });

  it.each<[string, TestCaller]>([
    ['customer', customer('schemathesis-customer')],
    ['ops', OPS],
    ['finance', FINANCE],
    ['admin', ADMIN],
  ])(
    'finds no failure for a %s token',
    async (role, caller) => {
      const { code, output } = await schemathesis(baseUrl, role, caller);
      if (code !== 0) throw new Error(`schemathesis exited ${code} for the ${role} token:\n${output}`);
      expect(output).toMatch(/Test cases:\s*\n\s*\d+ generated/);
    },
    300_000,
  );
});
