import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Config } from '../../config';

/** The built worker entry (`npm test` builds before jest runs), as `npm start` and production run it. */
export const WORKER_MAIN = path.resolve(__dirname, '../../dist/worker/main.js');

export interface WorkerProcess {
  child: ChildProcess;
  /** the worker's Temporal identity, once it logged "worker started" */
  identity: Promise<string>;
  exited: Promise<number | null>;
  /** everything it wrote so far (stdout and stderr) */
  output(): string;
}

/** A real worker process on `config`'s task queue; `env` adds to (and wins over) the test run's environment. */
export function spawnWorker(config: Config, workerId: string, env: NodeJS.ProcessEnv = {}): WorkerProcess {
  const child = spawn(process.execPath, [WORKER_MAIN], {
    env: {
      ...process.env,
      WORKER_ID: workerId,
      TEMPORAL_TASK_QUEUE: config.TEMPORAL_TASK_QUEUE,
      WORKER_SHUTDOWN_GRACE_SECONDS: '5',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const identity = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      for (const line of output.split('\n')) {
        if (line.includes('"worker started"')) resolve(JSON.parse(line).identity);
      }
    });
    child.once('exit', (code) => reject(new Error(`worker ${workerId} exited (${code}) before starting:\n${output}`)));
  });
  identity.catch(() => undefined); // observed by whoever awaits it
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, identity, exited, output: () => output };
}

/** SIGTERM (a graceful drain) unless it is gone already; resolves with the exit code. */
export async function stopWorker(w: WorkerProcess): Promise<number | null> {
  if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
  return w.exited;
}

/** SIGKILL: the process dies mid-work, as on a crash or an OOM kill. */
export async function killWorker(w: WorkerProcess): Promise<void> {
  if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  await w.exited;
}
