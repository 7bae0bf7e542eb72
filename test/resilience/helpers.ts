import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/**
 * Real processes (the built entries in dist/, as `npm start` and production run them) whose every
 * output line is kept, stdout and stderr apart, so a test can assert that a process under a
 * dependency outage writes JSON lines only.
 */

export const WORKER_MAIN = path.resolve(__dirname, '../../dist/worker/main.js');
export const API_MAIN = path.resolve(__dirname, '../../dist/api/main.js');

export interface OutputLine {
  stream: 'stdout' | 'stderr';
  text: string;
  /** the parsed line, or undefined when it is not a JSON object */
  json?: Record<string, unknown>;
}

export interface LoggingProcess {
  child: ChildProcess;
  lines: OutputLine[];
  exited: Promise<number | null>;
  /** Resolves with the first (parsed) JSON line matching `match`, already written or still to come. */
  waitForLine(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
    what?: string,
  ): Promise<Record<string, unknown>>;
  /** Every line that is not a JSON object (should be none). */
  nonJsonLines(): OutputLine[];
  /** Every JSON line matching `match`. */
  jsonLines(match?: (line: Record<string, unknown>) => boolean): Record<string, unknown>[];
  alive(): boolean;
  /** SIGTERM (unless gone already); resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Everything written so far, for failure messages. */
  output(): string;
}

function parse(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Starts `node <entry>` with the test run's environment plus `env` (JSON logs). */
export function spawnLogging(entry: string, env: NodeJS.ProcessEnv): LoggingProcess {
  const child = spawn(process.execPath, [entry], {
    env: { ...process.env, LOG_FORMAT: 'json', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: OutputLine[] = [];
  const waiters = new Set<() => void>();
  for (const stream of ['stdout', 'stderr'] as const) {
    let pending = '';
    child[stream].on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const text of parts) if (text.trim() !== '') lines.push({ stream, text, json: parse(text) });
      for (const wake of waiters) wake();
    });
    child[stream].on('end', () => {
      if (pending.trim() !== '') lines.push({ stream, text: pending, json: parse(pending) });
      pending = '';
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const output = () => lines.map((l) => `${l.stream}: ${l.text}`).join('\n');
  const alive = () => child.exitCode === null && child.signalCode === null;

  return {
    child,
    lines,
    exited,
    output,
    alive,
    nonJsonLines: () => lines.filter((l) => l.json === undefined),
    jsonLines: (match = () => true) => lines.flatMap((l) => (l.json && match(l.json) ? [l.json] : [])),
    waitForLine(match, timeoutMs = 30_000, what = 'a log line') {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find((l) => l.json && match(l.json));
          if (found) {
            finish();
            resolve(found.json!);
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; output:\n${output()}`));
        }, timeoutMs);
        const onExit = (code: number | null) => {
          // the last lines may still be in the pipe: look once more
          setTimeout(() => {
            check();
            finish();
            reject(new Error(`process exited (${code}) before ${what}; output:\n${output()}`));
          }, 50);
        };
        const finish = () => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('exit', onExit);
        };
        waiters.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    async stop() {
      if (alive()) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Polls `probe` until it returns true or the time is up. */
export async function until(probe: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (
      await Promise.resolve()
        .then(probe)
        .catch(() => false)
    )
      return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Status and parsed body of a GET (no keep-alive, so nothing outlives the test). */
export async function getJson(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; type: string; body: unknown }> {
  const res = await fetch(url, { headers: { connection: 'close', ...headers }, signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: kept as text
  }
  return { status: res.status, type: res.headers.get('content-type') ?? '', body };
}

/** A retry line of the start-up loop (observability/dependency-retry.ts) for `dependency`. */
export function isRetryLine(dependency: string) {
  return (l: Record<string, unknown>) =>
    l.level === 40 &&
    l.dependency === dependency &&
    typeof l.attempt === 'number' &&
    typeof l.retryInSeconds === 'number' &&
    typeof l.err === 'string';
}
