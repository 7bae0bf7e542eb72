import { ApplicationFailure } from '@temporalio/common';
import { Client as PgClient } from 'pg';
import { QueryFailedError } from 'typeorm';
import { asActivity } from '../../activities/failures';
import { problemFromError } from '../../api/errors';
import { createStore } from '../../db/store';
import { DomainError } from '../../domain/errors';
import { backoffDelayMs, connectWithRetry, errorSummary, StartupAborted } from '../../observability/dependency-retry';
import { testConfig } from '../support/env';
import { TcpProxy } from '../support/tcp-proxy';

/**
 * The errors node-postgres (and the Store over its pool) really raise when a connection is cut or killed (made here on
 * the run's Postgres, through a TCP proxy or by pg_terminate_backend): the API answers them 503
 * SERVICE_UNAVAILABLE, never 500, and the worker's activities leave them retryable.
 */
describe('dropped database connections', () => {
  const proxy = TcpProxy.to(testConfig().DATABASE_URL);
  let direct: PgClient;

  beforeAll(async () => {
    await proxy.listen();
    proxy.open();
    direct = new PgClient({ connectionString: testConfig().DATABASE_URL });
    await direct.connect();
  });

  afterAll(async () => {
    await direct?.end();
    await proxy.stop();
  });

  async function failureOf(work: () => Promise<unknown>): Promise<unknown> {
    try {
      await work();
    } catch (err) {
      return err;
    }
    throw new Error('unexpectedly succeeded');
  }

  /** An error raised while a query runs on a connection the proxy then cuts. */
  async function cutDuring(run: (sql: string) => Promise<unknown>): Promise<unknown> {
    const failing = failureOf(() => run('SELECT pg_sleep(10)'));
    await new Promise((r) => setTimeout(r, 200));
    proxy.dropAll();
    return failing;
  }

  function expectUnavailableAndRetryable(err: unknown) {
    const { problem, expected } = problemFromError(err, '/v1/x');
    expect({ status: problem.status, code: problem.code, expected }).toEqual({
      status: 503,
      code: 'SERVICE_UNAVAILABLE',
      expected: false,
    });
    expect(problem.detail).toBe('a dependency is unavailable; retry later'); // never the driver's message
    // the driver's error as it arrives, whatever its type
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    return asActivity(() => Promise.reject(err)).then(
      () => {
        throw new Error('asActivity swallowed the error');
      },
      (thrown: unknown) => {
        // rethrown as is: Temporal retries it (only DomainErrors become non-retryable failures)
        expect(thrown).toBe(err);
        expect(thrown).not.toBeInstanceOf(ApplicationFailure);
      },
    );
  }

  it('pg: a connection cut mid-query, and the next query on that client', async () => {
    const client = new PgClient({ connectionString: proxy.rewrite(testConfig().DATABASE_URL) });
    client.on('error', () => undefined); // the client reports the cut here too
    await client.connect();
    const cut = await cutDuring((sql) => client.query(sql));
    expect((cut as Error).message).toMatch(/^Connection terminated/);
    await expectUnavailableAndRetryable(cut);

    const after = await failureOf(() => client.query('SELECT 1'));
    expect((after as Error).message).toMatch(/not queryable/);
    await expectUnavailableAndRetryable(after);
  });

  it('Store: a statement on a pooled connection that is cut (db/store.ts)', async () => {
    const store = createStore({
      url: proxy.rewrite(testConfig().DATABASE_URL),
      poolMax: 1,
      applicationName: 'wallet-test-cut',
    });
    await store.connect();
    try {
      const cut = await cutDuring((sql) => store.sql(sql));
      expect((cut as Error).message).toMatch(/Connection terminated/);
      await expectUnavailableAndRetryable(cut);
      // the pool dropped the broken connection: the next statement gets a fresh one
      await expect(store.sql('SELECT 1')).resolves.toMatchObject({ rowCount: 1 });
    } finally {
      await store.close();
    }
  });

  it('pg: a connection that cannot be opened (refused, or reset as it opens)', async () => {
    proxy.close();
    try {
      const client = new PgClient({ connectionString: proxy.rewrite(testConfig().DATABASE_URL) });
      await expectUnavailableAndRetryable(await failureOf(() => client.connect()));
    } finally {
      proxy.open();
    }
  });

  it('Postgres: a backend terminated by an administrator (57P01)', async () => {
    const victim = new PgClient({
      connectionString: testConfig().DATABASE_URL,
      application_name: 'wallet-test-victim',
    });
    victim.on('error', () => undefined);
    await victim.connect();
    const pid = (await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const killed = failureOf(() => victim.query('SELECT pg_sleep(10)'));
    await new Promise((r) => setTimeout(r, 200));
    await direct.query('SELECT pg_terminate_backend($1)', [pid]);
    const err = await killed;
    expect((err as { code?: string }).code).toBe('57P01');
    await expectUnavailableAndRetryable(err);
  });

  it('classifies the messages alone, as wrapped by TypeORM, and the operator codes 57P01/57P02/57P03', () => {
    const messages = [
      'Connection terminated unexpectedly',
      'Connection terminated',
      'Connection terminated due to connection timeout',
      'Client has encountered a connection error and is not queryable',
      'Client was closed and is not queryable',
      'timeout exceeded when trying to connect',
    ];
    for (const message of messages) {
      for (const err of [new Error(message), new QueryFailedError('SELECT 1', [], new Error(message))]) {
        expect([message, problemFromError(err).problem.status]).toEqual([message, 503]);
      }
    }
    for (const code of ['57P01', '57P02', '57P03']) {
      expect([code, problemFromError(Object.assign(new Error('x'), { code })).problem.status]).toEqual([code, 503]);
    }
    // and the rest is unchanged: a domain refusal is not a dependency outage, an unknown error stays 500
    expect(problemFromError(new DomainError('WALLET_NOT_FOUND', 'no')).problem.status).toBe(404);
    expect(problemFromError(new Error('Connection was fine, the code was not')).problem.status).toBe(500);
  });
});

describe('start-up retry (observability/dependency-retry.ts)', () => {
  const lines: Array<{ level: string; obj: Record<string, unknown>; msg: string }> = [];
  const logger = {
    warn: (obj: object, msg: string) => lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
    info: (obj: object, msg: string) => lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
  };
  beforeEach(() => lines.splice(0));

  it('doubles from 0.5 s up to the cap, with at most ±20 % jitter, never above the cap', () => {
    const at = (attempt: number, random: number) =>
      backoffDelayMs(attempt, { maxDelayMs: 10_000, random: () => random });
    expect([1, 2, 3, 4, 5, 6, 10, 100].map((a) => at(a, 0.5))).toEqual([
      500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000,
    ]);
    expect(at(1, 0)).toBe(400);
    expect(at(1, 0.999999)).toBe(600);
    expect(at(10, 0.999999)).toBe(10_000);
    expect(at(10, 0)).toBe(8000);
  });

  it('logs one warn line per failed attempt and an info line once connected', async () => {
    let calls = 0;
    const value = await connectWithRetry(
      async () => {
        calls += 1;
        // as pg reports "localhost" refusing on both ::1 and 127.0.0.1: no message of its own
        const refused = ['::1', '127.0.0.1'].map((host) => new Error(`connect ECONNREFUSED ${host}:5432`));
        if (calls < 3) throw Object.assign(new AggregateError(refused), { code: 'ECONNREFUSED' });
        return 'up';
      },
      { dependency: 'postgres', logger, maxDelayMs: 20, initialDelayMs: 5 },
    );
    expect(value).toBe('up');
    expect(lines.map((l) => [l.level, l.msg, l.obj.dependency, l.obj.attempt ?? l.obj.attempts])).toEqual([
      ['warn', 'postgres unavailable; retrying', 'postgres', 1],
      ['warn', 'postgres unavailable; retrying', 'postgres', 2],
      ['info', 'postgres connected', 'postgres', 3],
    ]);
    expect(lines[0]!.obj.err).toBe('connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432');
    expect(typeof lines[0]!.obj.retryInSeconds).toBe('number');
  });

  it('stops waiting at once when aborted, with StartupAborted', async () => {
    const stop = new AbortController();
    const waiting = connectWithRetry(() => Promise.reject(new Error('down')), {
      dependency: 'temporal',
      logger,
      maxDelayMs: 60_000,
      initialDelayMs: 60_000,
      signal: stop.signal,
    });
    await new Promise((r) => setTimeout(r, 20));
    const started = Date.now();
    stop.abort();
    await expect(waiting).rejects.toBeInstanceOf(StartupAborted);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(lines).toHaveLength(1);
  });

  it('summarises an error on one line, without its stack', () => {
    expect(errorSummary(new Error('first line\n    at somewhere'))).toBe('first line');
    expect(errorSummary('plain')).toBe('plain');
  });
});
