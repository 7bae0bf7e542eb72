import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { SearchAttributeType } from '@temporalio/common';
import { loadConfig } from '../config';
import { transferSearchAttributes } from '../workflows/search-attributes';
import { findTemporalCli, repoRoot } from './temporal-cli';

/**
 * The local stack behind `npm start` (scripts/dev-stack.sh builds, then runs this from dist/scripts):
 * a persistent Temporal dev server, migrations, the API and WORKERS worker processes, every line of
 * their output prefixed with the process name.
 *
 * Every child runs in its own process group, so a Ctrl-C in the terminal reaches only this launcher,
 * which then stops things in order and signals each process exactly once: SIGTERM to the API and the
 * workers (workers drain in-flight activities), and only when they are gone, SIGTERM to the Temporal
 * server; whatever outlives its grace period is SIGKILLed. A child exiting on its own is an error:
 * it is reported loudly and the whole stack is stopped (no silent restarts). A second Ctrl-C kills
 * everything at once.
 */

const ROOT = repoRoot();
const HOST = '127.0.0.1';
const TEMPORAL_PORT = 7233;
const TEMPORAL_UI_PORT = 8233;
const TEMPORAL_DB = path.join(ROOT, '.data', 'temporal.db');
const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/wallet';

const CLI_TYPE: Record<SearchAttributeType, string> = {
  [SearchAttributeType.TEXT]: 'Text',
  [SearchAttributeType.KEYWORD]: 'Keyword',
  [SearchAttributeType.INT]: 'Int',
  [SearchAttributeType.DOUBLE]: 'Double',
  [SearchAttributeType.BOOL]: 'Bool',
  [SearchAttributeType.DATETIME]: 'Datetime',
  [SearchAttributeType.KEYWORD_LIST]: 'KeywordList',
};

interface Proc {
  name: string;
  child: ChildProcess;
  /** a one-shot job (migrations): its exit is expected */
  oneShot: boolean;
  done: boolean;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const procs: Proc[] = [];
let stopping = false;
let exitCode = 0;
let nameWidth = 8;

function log(msg: string): void {
  process.stdout.write(`[dev-stack] ${msg}\n`);
}
function loud(msg: string): void {
  const bar = '!'.repeat(Math.min(100, msg.length + 8));
  process.stderr.write(`\n${bar}\n!!! ${msg}\n${bar}\n\n`);
}

function prefixLines(from: Readable | null, to: Writable, tag: string): void {
  if (!from) return;
  readline.createInterface({ input: from, crlfDelay: Infinity }).on('line', (line) => to.write(`${tag}${line}\n`));
}

function start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv, oneShot = false): Proc {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const tag = `[${name}]`.padEnd(nameWidth + 2) + ' ';
  prefixLines(child.stdout, process.stdout, tag);
  prefixLines(child.stderr, process.stderr, tag);
  const proc: Proc = { name, child, oneShot, done: false, exited: Promise.resolve({ code: null, signal: null }) };
  proc.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      proc.done = true;
      resolve({ code, signal });
    });
    child.once('error', (err) => {
      // spawn failure (no 'exit' follows)
      process.stderr.write(`${tag}failed to start ${command}: ${err.message}\n`);
      proc.done = true;
      resolve({ code: 127, signal: null });
    });
  });
  procs.push(proc);
  void proc.exited.then(({ code, signal }) => {
    if (stopping) return;
    if (proc.oneShot && code === 0) return;
    loud(`${name} exited unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`}): stopping the whole stack`);
    void shutdown(1);
  });
  return proc;
}

/** Signals the child's whole process group (it is the group leader: spawned with `detached`). */
function signal(proc: Proc, sig: NodeJS.Signals): void {
  if (proc.done || proc.child.pid === undefined) return;
  try {
    process.kill(-proc.child.pid, sig);
  } catch {
    // already gone
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function stopAll(list: Proc[], graceMs: number): Promise<void> {
  const running = list.filter((p) => !p.done);
  if (running.length === 0) return;
  log(`stopping ${running.map((p) => p.name).join(', ')} (SIGTERM, up to ${Math.round(graceMs / 1000)}s)`);
  for (const p of running) signal(p, 'SIGTERM');
  const allExited = Promise.all(running.map((p) => p.exited)).then(() => true);
  if (!(await Promise.race([allExited, sleep(graceMs).then(() => false)]))) {
    const stuck = running.filter((p) => !p.done);
    log(`still running after ${Math.round(graceMs / 1000)}s: ${stuck.map((p) => p.name).join(', ')}: SIGKILL`);
    for (const p of stuck) signal(p, 'SIGKILL');
    await allExited;
  }
}

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  exitCode = code;
  const graceSeconds = Number(process.env.WORKER_SHUTDOWN_GRACE_SECONDS ?? 30);
  // API and workers first, while the Temporal server is still up for the workers to report to
  await stopAll(
    procs.filter((p) => p.name !== 'temporal'),
    (Number.isFinite(graceSeconds) ? graceSeconds : 30) * 1000 + 10_000,
  );
  await stopAll(
    procs.filter((p) => p.name === 'temporal'),
    15_000,
  );
  log(code === 0 ? 'stopped' : 'stopped after a failure');
  process.exit(code);
}

function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Polls `check` every 500 ms until it succeeds, the stack is stopping, or `seconds` pass. */
async function waitUntil(what: string, seconds: number, check: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (stopping) return false;
    if (await check()) return true;
    await sleep(500);
  }
  loud(`${what} not ready after ${seconds}s`);
  return false;
}

function temporalHealthy(cli: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(
      cli,
      ['operator', 'cluster', 'health', '--address', `${HOST}:${TEMPORAL_PORT}`],
      { timeout: 5000 },
      (err, stdout) => resolve(!err && /SERVING/i.test(stdout)),
    );
  });
}

async function main(): Promise<void> {
  const cli = findTemporalCli();
  if (!cli) throw new Error('no Temporal CLI found: run `bash scripts/ensure-deps.sh` (installs it into .tools/temporal)');

  const workers = Number(process.env.WORKERS ?? 2);
  if (!Number.isInteger(workers) || workers < 0) throw new Error(`WORKERS must be a non-negative integer, got ${process.env.WORKERS}`);

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: process.env.DATABASE_URL || DEFAULT_DATABASE_URL,
    TEMPORAL_ADDRESS: `${HOST}:${TEMPORAL_PORT}`,
  };
  const config = loadConfig(env); // fail now on a bad setting, not in every child
  const apiUrl = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${config.PORT}`;

  for (const [what, port] of [
    ['Temporal', TEMPORAL_PORT],
    ['Temporal UI', TEMPORAL_UI_PORT],
    ['API', config.PORT],
  ] as const) {
    if (await portInUse(port)) {
      throw new Error(`port ${port} (${what}) is already in use on ${HOST}: is another dev stack running?`);
    }
  }
  nameWidth = Math.max('temporal'.length, `worker-${workers}`.length);

  fs.mkdirSync(path.dirname(TEMPORAL_DB), { recursive: true });
  log(`starting the Temporal dev server (${path.relative(ROOT, cli)}, data in ${path.relative(ROOT, TEMPORAL_DB)})`);
  start(
    'temporal',
    cli,
    [
      'server',
      'start-dev',
      '--db-filename',
      TEMPORAL_DB,
      '--ip',
      HOST,
      '--port',
      String(TEMPORAL_PORT),
      '--ui-port',
      String(TEMPORAL_UI_PORT),
      '--namespace',
      config.TEMPORAL_NAMESPACE,
      ...transferSearchAttributes.flatMap((k) => ['--search-attribute', `${k.name}=${CLI_TYPE[k.type]}`]),
    ],
    env,
  );
  if (!(await waitUntil('Temporal dev server', 60, () => temporalHealthy(cli)))) return shutdown(1);
  log(`Temporal dev server is up on ${HOST}:${TEMPORAL_PORT}`);

  const migrate = start('migrate', process.execPath, [path.join(ROOT, 'dist', 'scripts', 'migrate.js')], env, true);
  const { code } = await migrate.exited;
  if (stopping) return;
  if (code !== 0) return; // reported and stopping already

  start('api', process.execPath, [path.join(ROOT, 'dist', 'api', 'main.js')], env);
  for (let n = 1; n <= workers; n++) {
    start(`worker-${n}`, process.execPath, [path.join(ROOT, 'dist', 'worker', 'main.js')], { ...env, WORKER_ID: String(n) });
  }

  if (!(await waitUntil('API', 60, () => portInUse(config.PORT)))) return shutdown(1);
  log('');
  log(`API          ${apiUrl}`);
  log(`API docs     ${apiUrl}/docs`);
  log(`Temporal UI  http://${HOST}:${TEMPORAL_UI_PORT}`);
  log(`${workers} worker process(es) on task queue ${config.TEMPORAL_TASK_QUEUE}; Ctrl-C stops everything`);
  log('');
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    if (!stopping) {
      log(`${sig}: shutting down`);
      void shutdown(0);
      return;
    }
    log(`${sig} again: killing everything now`);
    for (const p of procs) signal(p, 'SIGKILL');
    process.exit(exitCode || 130);
  });
}
// last resort, e.g. on an exception in this launcher: never leave a child behind
process.on('exit', () => {
  for (const p of procs) signal(p, 'SIGKILL');
});

main().catch((err: unknown) => {
  loud(`dev stack failed: ${err instanceof Error ? err.message : String(err)}`);
  void shutdown(1);
});
