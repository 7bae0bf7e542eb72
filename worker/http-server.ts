import type { AddressInfo } from 'node:net';
import type { NativeConnection, Worker } from '@temporalio/worker';
import Fastify from 'fastify';
import type { Registry } from 'prom-client';
import type { ShardSet } from '../db/shards';
import type { Store } from '../db/store';
import { METRICS_CONTENT_TYPE, renderMetrics } from '../observability/metrics';

/**
 * The worker's small HTTP server on HOST:WORKER_METRICS_PORT (Prometheus job `wallet-worker`,
 * Kubernetes probes, the compose health check):
 *   GET /metrics       our metrics (prom-client) followed by the Temporal SDK's own (temporal_*),
 *                      fetched from its exporter on 127.0.0.1:TEMPORAL_METRICS_PORT at scrape time
 *   GET /health/live   200 while the process runs (no dependency checked: a Postgres outage must
 *                      not get every worker restarted)
 *   GET /health/ready  200 when the worker is RUNNING (polling its task queue), Temporal answers
 *                      and Postgres (database 0) answers; 503 with the failing check otherwise (also
 *                      while starting and draining). Every database is reported under `databases`;
 *                      one wallet shard down does not make a worker unready: its sagas wait for it
 *                      while the others run
 */
export interface WorkerHttpServerOptions {
  host: string;
  port: number;
  registry: Registry;
  /** the Temporal SDK's Prometheus exporter, e.g. http://127.0.0.1:9465/metrics */
  temporalMetricsUrl?: string;
  readiness: () => Promise<Readiness>;
}

export interface Readiness {
  status: 'ok' | 'unavailable';
  checks: Record<string, string>;
  /** every database by name (db-0, db-1, …, accounting), when the worker was given its ShardSet */
  databases?: Record<string, string>;
}

export interface WorkerHttpServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

const CHECK_TIMEOUT_MS = 1500;
/** grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING */
const SERVING = 1;
const TEMPORAL_SCRAPE_TIMEOUT_MS = 3000;

async function probe(check: () => Promise<unknown>): Promise<string> {
  try {
    await check();
    return 'ok';
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return `unreachable: ${message.split('\n')[0]!.slice(0, 120)}`;
  }
}

/**
 * Readiness of a worker process: polling, and both of its dependencies answer. `connection` may be a
 * getter: worker/main.ts serves /health before it has reached Temporal (undefined until then), and
 * `db` is not connected until Postgres answered once.
 */
export function workerReadiness(deps: {
  worker: () => Worker | undefined;
  connection: NativeConnection | (() => NativeConnection | undefined);
  /** database 0: decides readiness */
  db: Store;
  /** every database, reported (not deciding: see above) */
  shards?: ShardSet;
}) {
  return async (): Promise<Readiness> => {
    const worker = deps.worker();
    const state = worker?.getState() ?? 'STARTING';
    const connection = typeof deps.connection === 'function' ? deps.connection() : deps.connection;
    const databases = Promise.all(
      (deps.shards?.all ?? []).map(
        async (db) => [db.name, await probe(() => db.store.ping(CHECK_TIMEOUT_MS))] as const,
      ),
    );
    const [temporal, postgres] = await Promise.all([
      probe(async () => {
        if (!connection) throw new Error('not connected yet');
        const res = await connection.withDeadline(Date.now() + CHECK_TIMEOUT_MS, () =>
          connection.healthService.check({}),
        );
        if (res.status !== SERVING) throw new Error(`health status ${String(res.status)}`);
      }),
      probe(async () => {
        await deps.db.ping(CHECK_TIMEOUT_MS);
      }),
    ]);
    const checks = { worker: state === 'RUNNING' ? 'ok' : `not polling: ${state}`, temporal, postgres };
    const status = Object.values(checks).every((c) => c === 'ok') ? 'ok' : 'unavailable';
    return { status, checks, ...(deps.shards ? { databases: Object.fromEntries(await databases) } : {}) };
  };
}

async function temporalMetrics(url: string): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TEMPORAL_SCRAPE_TIMEOUT_MS) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return await res.text();
  } catch (err) {
    // our metrics still go out; the comment says why the temporal_* series are missing
    return `# temporal SDK metrics unavailable (${url}): ${err instanceof Error ? err.message : String(err)}\n`;
  }
}

/**
 * A small Fastify instance, like the API's (fastify's own router, HEAD beside every GET, one error
 * handler), with no plugins: nothing here is rate limited or authenticated, and it must stay cheap to
 * scrape and probe even while the worker is busy.
 */
export async function startWorkerHttpServer(opts: WorkerHttpServerOptions): Promise<WorkerHttpServer> {
  // forceCloseConnections: close() also ends idle keep-alive connections (a scraper's), so a draining worker exits
  const app = Fastify({ logger: false, forceCloseConnections: true });
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });
  app.setNotFoundHandler((request, reply) =>
    request.method === 'GET' || request.method === 'HEAD'
      ? reply.code(404).type('text/plain').send('not found\n')
      : reply.code(405).type('text/plain').send('method not allowed\n'),
  );
  app.setErrorHandler((err, _request, reply) =>
    reply
      .code(500)
      .type('text/plain')
      .send(`${err instanceof Error ? err.message : String(err)}\n`),
  );

  app.get('/metrics', async (_request, reply) => {
    const [ours, temporal] = await Promise.all([
      renderMetrics(opts.registry),
      opts.temporalMetricsUrl ? temporalMetrics(opts.temporalMetricsUrl) : Promise.resolve(''),
    ]);
    return reply.type(METRICS_CONTENT_TYPE).send(`${ours.trimEnd()}\n${temporal}`);
  });
  app.get('/health/live', async () => ({ status: 'ok' }));
  app.get('/health/ready', async (_request, reply) => {
    const readiness = await opts.readiness();
    return reply.code(readiness.status === 'ok' ? 200 : 503).send(readiness);
  });

  await app.listen({ host: opts.host, port: opts.port });
  const { port } = app.server.address() as AddressInfo;
  const host = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  return {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () => app.close(),
  };
}
