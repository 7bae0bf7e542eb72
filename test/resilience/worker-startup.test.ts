import fs from 'node:fs';
import { closedPort } from '../api/helpers';
import { testConfig, uniqueTaskQueue } from '../support/env';
import { TcpProxy } from '../support/tcp-proxy';
import { getJson, isRetryLine, spawnLogging, until, WORKER_MAIN, type LoggingProcess } from './helpers';

/**
 * A worker process (dist/worker/main.js) started while Postgres, Temporal or Redis is down: it keeps
 * running, retries with backoff, writes nothing but JSON lines, and starts polling once the
 * dependency is back. Postgres and Temporal are taken down for this one process by a TCP proxy in
 * front of the shared servers (test/support/tcp-proxy.ts).
 */
describe('worker start-up with a dependency down', () => {
  const processes: LoggingProcess[] = [];
  const proxies: TcpProxy[] = [];

  beforeAll(() => {
    if (!fs.existsSync(WORKER_MAIN)) throw new Error(`${WORKER_MAIN} is missing: run \`npm run build\` first`);
  });

  afterEach(async () => {
    await Promise.all(processes.splice(0).map((p) => p.stop()));
    await Promise.all(proxies.splice(0).map((p) => p.stop()));
  });

  async function closedProxyTo(address: string): Promise<TcpProxy> {
    const proxy = TcpProxy.to(address);
    proxies.push(proxy);
    await proxy.listen();
    return proxy;
  }

  function startWorker(name: string, env: NodeJS.ProcessEnv): LoggingProcess {
    const worker = spawnLogging(WORKER_MAIN, {
      WORKER_ID: name,
      TEMPORAL_TASK_QUEUE: uniqueTaskQueue(name),
      WORKER_SHUTDOWN_GRACE_SECONDS: '2',
      // short waits between attempts: the test sees several of them within a second or two
      DEPENDENCY_RETRY_MAX_SECONDS: '0.5',
      ...env,
    });
    processes.push(worker);
    return worker;
  }

  /** The worker's /health/ready URL, from its "listening" line (WORKER_METRICS_PORT=0 picks a free port). */
  async function healthUrl(worker: LoggingProcess): Promise<string> {
    const line = await worker.waitForLine(
      (l) => l.msg === 'worker metrics and health server listening',
      15_000,
      'the health server',
    );
    return String(line.health);
  }

  function expectOnlyJson(worker: LoggingProcess) {
    expect(worker.nonJsonLines()).toEqual([]);
    expect(worker.output()).not.toContain('Unhandled error event');
  }

  it.each([
    [
      'postgres',
      (proxy: TcpProxy) => ({ DATABASE_URL: proxy.rewrite(testConfig().DATABASE_URL) }),
      () => testConfig().DATABASE_URL,
    ],
    ['temporal', (proxy: TcpProxy) => ({ TEMPORAL_ADDRESS: proxy.address }), () => testConfig().TEMPORAL_ADDRESS],
  ])(
    'keeps retrying while %s is down at start, logging JSON only, and starts polling once it is back',
    async (dependency, envFor, target) => {
      const proxy = await closedProxyTo(target());
      const worker = startWorker(`down-${dependency}`, envFor(proxy));
      const ready = await healthUrl(worker);

      // several failed attempts, each one warn line naming the dependency, and the process still runs
      await worker.waitForLine(
        (l) => isRetryLine(dependency)(l) && (l.attempt as number) >= 3,
        20_000,
        `3 ${dependency} retry lines`,
      );
      expect(worker.alive()).toBe(true);
      const retries = worker.jsonLines(isRetryLine(dependency));
      expect(retries.map((l) => l.attempt)).toEqual(retries.map((_, i) => i + 1));
      for (const line of retries) expect(line.retryInSeconds as number).toBeLessThanOrEqual(0.5);
      expect(worker.jsonLines((l) => l.msg === 'worker started')).toEqual([]);

      // live while waiting, not ready, and the readiness says what is missing
      expect((await getJson(ready.replace('/ready', '/live'))).status).toBe(200);
      const waiting = await getJson(ready);
      expect(waiting.status).toBe(503);
      expect(waiting.body).toMatchObject({
        status: 'unavailable',
        checks: { [dependency]: 'unreachable: not connected yet' },
      });

      proxy.open();
      await worker.waitForLine((l) => l.msg === 'worker started', 20_000, 'the worker to start');
      const failed = worker.jsonLines(isRetryLine(dependency)).length;
      expect(worker.jsonLines((l) => l.msg === `${dependency} connected`)).toEqual([
        expect.objectContaining({ level: 30, dependency, attempts: failed + 1 }),
      ]);
      await until(async () => (await getJson(ready)).status === 200, 15_000, 'the worker to be ready');

      expect(await worker.stop()).toBe(0);
      expectOnlyJson(worker);
    },
  );

  it('stops at once, with exit code 0, when signalled while waiting for its dependencies', async () => {
    const pg = await closedProxyTo(testConfig().DATABASE_URL);
    const temporal = await closedProxyTo(testConfig().TEMPORAL_ADDRESS);
    const worker = startWorker('signalled', {
      DATABASE_URL: pg.rewrite(testConfig().DATABASE_URL),
      TEMPORAL_ADDRESS: temporal.address,
      DEPENDENCY_RETRY_MAX_SECONDS: '30', // it would sleep for long between attempts
    });
    await worker.waitForLine(isRetryLine('postgres'), 15_000, 'a postgres retry line');
    await worker.waitForLine(isRetryLine('temporal'), 15_000, 'a temporal retry line');

    const signalled = Date.now();
    expect(await worker.stop()).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(3000);
    expect(worker.jsonLines((l) => l.msg === 'worker stopped')).toHaveLength(1);
    expectOnlyJson(worker);
  });

  it('starts with Redis down and writes no non-JSON line (no ioredis "Unhandled error event")', async () => {
    const worker = startWorker('no-redis', { REDIS_URL: `redis://127.0.0.1:${await closedPort()}` });
    await worker.waitForLine((l) => l.msg === 'worker started', 30_000, 'the worker to start');
    const down = await worker.waitForLine(
      (l) => l.dependency === 'redis' && l.level === 40,
      10_000,
      'the redis warning',
    );
    expect(down.err).toEqual(expect.stringContaining('ECONNREFUSED'));
    // ioredis keeps reconnecting: a few more failed attempts, still one line (transitions only)
    await new Promise((r) => setTimeout(r, 1500));
    expect(worker.jsonLines((l) => l.dependency === 'redis')).toHaveLength(1);
    expect(await worker.stop()).toBe(0);
    expectOnlyJson(worker);
  });
});
