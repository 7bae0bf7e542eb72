/**
 * Start-up against dependencies that may be down: a process keeps trying to reach Postgres or
 * Temporal with exponential backoff (0.5 s doubling up to DEPENDENCY_RETRY_MAX_SECONDS, ±20 %
 * jitter) and logs one JSON line per failed attempt instead of exiting with a stack trace.
 * An AbortSignal (SIGINT/SIGTERM, or the app closing) ends the waiting at once.
 */

/** The part of a pino logger (or Fastify's) the retry loop writes to. */
export interface RetryLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface ConnectWithRetryOptions {
  /** named in every log line: 'postgres', 'temporal' */
  dependency: string;
  logger: RetryLogger;
  /** the longest wait between two attempts */
  maxDelayMs: number;
  /** the first wait (doubled after every failure); default 500 ms */
  initialDelayMs?: number;
  /** aborting rejects at once with a StartupAborted, even in the middle of an attempt */
  signal?: AbortSignal;
  /** called after each failed attempt (1, 2, …), before the wait */
  onFailedAttempt?: (attempt: number) => void;
  /** for tests: a number in [0, 1) */
  random?: () => number;
  /** an error no retry can mend (a database behind on its migrations): rejected with at once */
  isFatal?: (err: unknown) => boolean;
}

/** Thrown when the signal ends the waiting: not a failure, the process was asked to stop. */
export class StartupAborted extends Error {
  constructor(dependency: string) {
    super(`stopped while waiting for ${dependency}`);
    this.name = 'StartupAborted';
  }
}

/** The wait after failed attempt `attempt` (1-based): initial·2^(attempt−1), capped, ±20 % jitter, never above the cap. */
export function backoffDelayMs(
  attempt: number,
  opts: { initialDelayMs?: number; maxDelayMs: number; random?: () => number },
): number {
  const initial = opts.initialDelayMs ?? 500;
  const base = Math.min(opts.maxDelayMs, initial * 2 ** Math.min(attempt - 1, 30));
  const jittered = base * (0.8 + 0.4 * (opts.random ?? Math.random)());
  return Math.round(Math.min(opts.maxDelayMs, jittered));
}

/**
 * One line, no stack: an AggregateError (e.g. ECONNREFUSED on ::1 and on 127.0.0.1) has an empty
 * message of its own, so its parts are named instead.
 */
export function errorSummary(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const parts = err instanceof AggregateError ? err.errors.map(errorSummary) : [];
  const code = (err as { code?: unknown }).code;
  const own = err.message || (typeof code === 'string' ? code : '') || err.name;
  const text = err.message ? own : [...new Set(parts)].join('; ') || own;
  return text.split('\n')[0]!.slice(0, 300);
}

function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined, dependency: string): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new StartupAborted(dependency));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function sleep(ms: number, signal: AbortSignal | undefined, dependency: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const wait = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return abortable(wait, signal, dependency).finally(() => clearTimeout(timer));
}

/**
 * Calls `connect` until it succeeds; logs `{ dependency, attempt, retryInSeconds, err }` at warn
 * after every failure and `{ dependency, attempts }` at info on success. Rejects only with
 * StartupAborted (the signal) or an error `isFatal` names; whatever `connect` left half-open is its own business.
 */
export async function connectWithRetry<T>(connect: () => Promise<T>, opts: ConnectWithRetryOptions): Promise<T> {
  const { dependency, logger, signal } = opts;
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw new StartupAborted(dependency);
    try {
      const value = await abortable(connect(), signal, dependency);
      logger.info({ dependency, attempts: attempt }, `${dependency} connected`);
      return value;
    } catch (err) {
      if (err instanceof StartupAborted || signal?.aborted) throw new StartupAborted(dependency);
      if (opts.isFatal?.(err)) throw err;
      const delay = backoffDelayMs(attempt, opts);
      logger.warn(
        { dependency, attempt, retryInSeconds: Math.round(delay / 10) / 100, err: errorSummary(err) },
        `${dependency} unavailable; retrying`,
      );
      opts.onFailedAttempt?.(attempt);
      await sleep(delay, signal, dependency);
    }
  }
}
