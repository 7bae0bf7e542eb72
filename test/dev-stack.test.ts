import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { MIGRATION_NAMES } from '../db/migrations';
import { dropDatabase } from '../scripts/migrate';
import { closedPort } from './api/helpers';
import { RECONCILIATION_SCHEDULE_ID, RETENTION_SCHEDULE_ID } from '../scripts/ensure-schedules';
import {
  customer,
  FINANCE,
  fund,
  httpDriver,
  openWallet,
  parseMetrics,
  transfer,
  valueOf,
  type ApiDriver,
} from './observability/helpers';
import { testConfig } from './support/env';
import { eventually } from './support/wallets';

/**
 * `npm start` itself (scripts/dev-stack.sh → dist/scripts/dev-stack.js, built by `npm test` before
 * jest): start it on ports and a database of its own, create two wallets, fund one, transfer and see
 * COMPLETED, stop it with Ctrl-C (SIGINT) and find no process of it left. Then start it again on the
 * same data folder: the Temporal state survived (the finished workflow is still found by its search
 * attributes) and stop it again. Both starts leave exactly one reconciliation and one retention
 * Schedule (the second updates them), and a reconciliation run started through the API succeeds.
 * The stack runs two wallet shard databases and the accounting book's own (`<name>`, `<name>_s1`,
 * `<name>_accounting`), all created and migrated on start.
 */
const ROOT = path.resolve(__dirname, '..');

interface Stack {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  ready: Promise<void>;
}

/** Processes whose environment carries `marker` (every process of the stack inherits DEV_STACK_DATA_DIR). */
/** The Schedules the stack's Temporal knows, by id (the list is eventually consistent: wait for both). */
async function scheduleIds(port: number, everyMs = 300_000): Promise<string[]> {
  const connection = await Connection.connect({ address: `127.0.0.1:${port}` });
  try {
    const client = new Client({ connection, namespace: 'default' });
    const found = await eventually(
      async () => {
        const ids: string[] = [];
        for await (const s of client.schedule.list()) ids.push(s.scheduleId);
        return ids.includes(RECONCILIATION_SCHEDULE_ID) && ids.includes(RETENTION_SCHEDULE_ID) ? ids.sort() : undefined;
      },
      10_000,
      'the two schedules',
    );
    const reconciliation = await client.schedule.getHandle(RECONCILIATION_SCHEDULE_ID).describe();
    expect(reconciliation.spec.intervals).toMatchObject([{ every: everyMs }]);
    expect(reconciliation.policies.overlap).toBe('SKIP');
    expect(reconciliation.action).toMatchObject({ type: 'startWorkflow', workflowType: 'reconciliationWorkflow' });
    expect(reconciliation.memo).toMatchObject({ description: expect.stringContaining('books') });
    return found;
  } finally {
    await connection.close();
  }
}

/** A manual reconciliation run through the API, to the end: the stack's own (clean) books. */
async function reconcile(api: ApiDriver): Promise<unknown> {
  const started = await api.request('POST', '/v1/reconciliation/runs', {
    caller: FINANCE,
    body: { reason: 'dev stack test' },
  });
  expect(started.status).toBe(202);
  const { id } = started.json() as { id: string };
  return eventually(
    async () => {
      const run = (await api.request('GET', `/v1/reconciliation/runs/${id}`, { caller: FINANCE })).json() as {
        status: string;
      };
      return run.status === 'succeeded' ? run : undefined;
    },
    30_000,
    'the reconciliation run',
  );
}

/** The migrations of this build a database of the stack lacks. */
async function missingMigrations(url: string): Promise<string[]> {
  const client = new PgClient({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(`SELECT name FROM schema_migrations`);
    const applied = new Set(rows.map((r) => r.name));
    return MIGRATION_NAMES.filter((n) => !applied.has(n));
  } finally {
    await client.end();
  }
}

function processesWith(marker: string): number[] {
  if (!fs.existsSync('/proc')) return [];
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = fs.readFileSync(`/proc/${entry}/environ`, 'utf8');
      if (environ.split('\0').includes(marker)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids.filter((pid) => pid !== process.pid);
}

/** Resolves after `ms` without keeping jest alive. */
function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms).unref());
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** `count` consecutive free ports (the workers' metrics and Temporal SDK exporter ports), below Linux's ephemeral range. */
async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + 2 * Math.floor(Math.random() * 6_000);
    const taken = await Promise.all(Array.from({ length: count }, (_, i) => portOpen(base + i)));
    if (!taken.some(Boolean)) return base;
  }
  throw new Error('no free port range found');
}

describe('npm start (the dev stack)', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wallet-dev-stack-'));
  const marker = `DEV_STACK_DATA_DIR=${dataDir}`;
  const run = testConfig();
  // named like the run's own databases, so test/global-setup.ts reaps it should this process die
  const database = new URL(run.DATABASE_URL);
  const ts = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  database.pathname = `/wallet_test_${ts}_${process.pid}`;
  const sibling = (suffix: string) => {
    const u = new URL(database);
    u.pathname = `${u.pathname}${suffix}`;
    return u.toString();
  };
  const stackDatabases = [database.toString(), sibling('_s1'), sibling('_accounting')];
  const stacks: Stack[] = [];
  let env: NodeJS.ProcessEnv;
  let ports: { api: number; temporal: number; ui: number; workers: number };

  beforeAll(async () => {
    ports = {
      api: await closedPort(),
      temporal: await closedPort(),
      ui: await closedPort(),
      workers: await freePortRange(4),
    };
    env = { ...process.env };
    // settings of this jest run that must not leak into the stack (it brings its own Temporal and bundle)
    for (const key of [
      'NODE_ENV',
      'TEMPORAL_ADDRESS',
      'TEMPORAL_TASK_QUEUE',
      'WORKER_BUNDLE_PATH',
      'WORKFLOW_BUNDLE_PATH',
      'TEMPORAL_METRICS_PORT',
      // the run's own shard databases: the stack derives its own from DATABASE_URL
      'SHARD_DATABASE_URLS',
      'ACCOUNTING_DATABASE_URL',
      'SHARD_MAP',
    ]) {
      delete env[key];
    }
    Object.assign(env, {
      DEV_STACK_SKIP_BUILD: '1',
      DEV_STACK_DATA_DIR: dataDir,
      WORKERS: '2',
      PORT: String(ports.api),
      DEV_TEMPORAL_PORT: String(ports.temporal),
      DEV_TEMPORAL_UI_PORT: String(ports.ui),
      WORKER_METRICS_PORT: String(ports.workers),
      DATABASE_URL: database.toString(),
      REDIS_KEY_PREFIX: `${run.REDIS_KEY_PREFIX}devstack:`,
      LOG_FORMAT: 'json',
      WORKER_SHUTDOWN_GRACE_SECONDS: '10',
    });
  });

  function startStack(): Stack {
    const child = spawn('bash', [path.join(ROOT, 'scripts', 'dev-stack.sh')], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let onReady: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (onReady = resolve));
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      if (/^\[dev-stack\] ready: /m.test(output)) onReady();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const stack: Stack = {
      child,
      output: () => output,
      exited,
      ready: Promise.race([
        ready,
        exited.then((code) => {
          throw new Error(`the dev stack exited (${code}) before it was ready:\n${output}`);
        }),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`the dev stack was not ready after 90 s:\n${output}`)), 90_000).unref(),
        ),
      ]),
    };
    stacks.push(stack);
    return stack;
  }

  /** Ctrl-C: the launcher stops the API and the workers (gracefully), then Temporal, and exits 0. */
  async function stopStack(stack: Stack): Promise<void> {
    stack.child.kill('SIGINT');
    const code = await Promise.race([stack.exited, delay(60_000, 'timeout' as const)]);
    expect({ code, output: code === 0 ? '' : stack.output() }).toEqual({ code: 0, output: '' });
    expect(stack.output()).toMatch(/\[dev-stack\] stopped$/m);
    expect(processesWith(marker)).toEqual([]);
    const open = await Promise.all(
      [ports.api, ports.temporal, ports.ui, ports.workers, ports.workers + 1, ports.workers + 2, ports.workers + 3].map(
        async (port) => ((await portOpen(port)) ? port : null),
      ),
    );
    expect(open.filter((p) => p !== null)).toEqual([]);
  }

  afterAll(async () => {
    for (const stack of stacks) {
      if (stack.child.exitCode === null && stack.child.signalCode === null) {
        stack.child.kill('SIGINT');
        await Promise.race([stack.exited, delay(45_000, null)]);
      }
    }
    // whatever survived a failed test: never leave a stack running
    for (const pid of processesWith(marker)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const url of stackDatabases) await dropDatabase(url);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts everything, runs a transfer to COMPLETED, and stops without leaving a process behind', async () => {
    const stack = startStack();
    await stack.ready;
    const out = stack.output();
    const apiUrl = `http://127.0.0.1:${ports.api}`;
    for (const url of [
      apiUrl,
      `${apiUrl}/docs`,
      `${apiUrl}/console/`,
      `${apiUrl}/metrics`,
      `http://127.0.0.1:${ports.ui}`,
      `http://127.0.0.1:${ports.workers}/metrics`,
      `http://127.0.0.1:${ports.workers + 2}/metrics`,
    ]) {
      expect(out).toContain(url);
    }
    // each process's lines carry its name
    for (const name of ['temporal', 'migrate', 'schedules', 'api', 'worker-1', 'worker-2'])
      expect(out).toMatch(new RegExp(`^\\[${name}\\]`, 'm'));
    // two wallet shard databases and the accounting book's, each migrated, each named in the ready lines
    const name = database.pathname.slice(1);
    expect(out).toContain(`db-0 ${name} (logical shards 0-511)`);
    expect(out).toContain(`db-1 ${name}_s1 (logical shards 512-1023)`);
    expect(out).toContain(`accounting ${name}_accounting`);
    for (const url of stackDatabases) expect(await missingMigrations(url)).toEqual([]);

    const api = httpDriver(apiUrl);
    const alice = customer();
    const from = await openWallet(api, alice);
    const to = await openWallet(api, customer());
    await fund(api, from, 10_000);
    const done = await transfer(api, alice, { fromWalletId: from, toWalletId: to, amount: 2_500 }, { waitSeconds: 10 });
    expect(done.status).toBe('COMPLETED');
    const sender = (await api.request('GET', `/v1/wallets/${from}`, { caller: alice })).json() as {
      balance: number;
      held: number;
    };
    expect(sender).toMatchObject({ balance: 7_500, held: 0 });

    // the Schedules exist, and a reconciliation run can be started through the API
    expect(out).toMatch(new RegExp(`^\\[schedules\\] +schedule ${RECONCILIATION_SCHEDULE_ID}: created`, 'm'));
    expect(await scheduleIds(ports.temporal)).toEqual([RETENTION_SCHEDULE_ID, RECONCILIATION_SCHEDULE_ID].sort());
    expect(await reconcile(api)).toMatchObject({ status: 'succeeded', discrepancies: 0, trigger: 'manual' });

    // the finance console is served
    expect((await fetch(`${apiUrl}/console/`)).status).toBe(200);

    // the Temporal UI answers, and one of the workers counted the transfer
    expect((await fetch(`http://127.0.0.1:${ports.ui}`)).status).toBe(200);
    await eventually(
      async () => {
        let completed = 0;
        for (const port of [ports.workers, ports.workers + 2]) {
          const m = parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
          completed += valueOf(m.samples, 'transfers_total', { status: 'COMPLETED' }) ?? 0;
        }
        return completed === 1 ? true : undefined;
      },
      10_000,
      'a worker to count the completed transfer',
    );

    // ------------------------------------------------------------------ a worker that dies is restarted
    const [workerPid] = processesWith(marker).filter((pid) => {
      const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      return (
        environ.includes('WORKER_ID=1') &&
        fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('dist/worker/main.js')
      );
    });
    expect(workerPid).toBeDefined();
    process.kill(workerPid!, 'SIGKILL'); // as a crash would: no drain, no "worker stopped"
    await eventually(
      async () => (/\[dev-stack\] worker-1 restarted and ready$/m.test(stack.output()) ? true : undefined),
      60_000,
      'worker-1 to be restarted',
    );
    expect(stack.output()).toContain(
      'worker-1 exited unexpectedly (signal SIGKILL): restarting it in 1s (restart 1 of at most 5 in 10 minutes)',
    );
    expect((await fetch(`http://127.0.0.1:${ports.workers}/health/ready`)).status).toBe(200);
    const again1 = await transfer(api, alice, { fromWalletId: from, toWalletId: to, amount: 500 }, { waitSeconds: 10 });
    expect(again1.status).toBe('COMPLETED');

    await stopStack(stack);
    expect(stack.output()).toMatch(/\[worker-1\].*"worker stopped"/);
    expect(stack.output()).toMatch(/\[worker-2\].*"worker stopped"/);

    // ------------------------------------------------------------------ a restart keeps the workflows
    // with another interval: the second start updates the Schedules in place, still one of each
    env.RECONCILIATION_INTERVAL_SECONDS = '600';
    const again = startStack();
    await again.ready;
    expect(again.output()).toMatch(
      new RegExp(`^\\[schedules\\] +schedule ${RECONCILIATION_SCHEDULE_ID}: updated`, 'm'),
    );
    expect(await scheduleIds(ports.temporal, 600_000)).toEqual(
      [RETENTION_SCHEDULE_ID, RECONCILIATION_SCHEDULE_ID].sort(),
    );
    const connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
    try {
      const client = new Client({ connection, namespace: 'default' });
      const found = await eventually(
        async () => {
          const ids: string[] = [];
          for await (const wf of client.workflow.list({
            query: `TransferStatus = "COMPLETED" AND WorkflowId = "${done.workflowId}"`,
          })) {
            ids.push(wf.workflowId);
          }
          return ids.length ? ids : undefined;
        },
        10_000,
        'the earlier workflow in the restarted server',
      );
      expect(found).toEqual([done.workflowId]);
    } finally {
      await connection.close();
    }
    await stopStack(again);
  });
});
