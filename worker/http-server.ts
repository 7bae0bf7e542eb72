import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NativeConnection, Worker } from '@temporalio/worker';
import type { Registry } from 'prom-client';
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
 *                      and Postgres answers; 503 with the failing check otherwise (also while
 *                      starting and draining)
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
  db: Store;
}) {
  return async (): Promise<Readiness> => {
    const worker = deps.worker();
    const state = worker?.getState() ?? 'STARTING';
    const connection = typeof deps.connection === 'function' ? deps.connection() : deps.connection;
    const [temporal, postgres] = await Promise.all([
      probe(async () => {
        if (!connection) throw new Error('not connected yet');
        const res = await connection.withDeadline(Date.now() + CHECK_TIMEOUT_MS, () => connection.healthService.check({}));
        if (res.status !== SERVING) throw new Error(`health status ${String(res.status)}`);
      }),
      probe(async () => {
        await deps.db.ping(CHECK_TIMEOUT_MS);
      }),
    ]);
    const checks = { worker: state === 'RUNNING' ? 'ok' : `not polling: ${state}`, temporal, postgres };
    return { status: Object.values(checks).every((c) => c === 'ok') ? 'ok' : 'unavailable', checks };
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

export async function startWorkerHttpServer(opts: WorkerHttpServerOptions): Promise<WorkerHttpServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed\n');
    const handle = async () => {
      switch (path) {
        case '/metrics': {
          const [ours, temporal] = await Promise.all([
            renderMetrics(opts.registry),
            opts.temporalMetricsUrl ? temporalMetrics(opts.temporalMetricsUrl) : Promise.resolve(''),
          ]);
          return send(200, METRICS_CONTENT_TYPE, `${ours.trimEnd()}\n${temporal}`);
        }
        case '/health/live':
          return send(200, 'application/json', JSON.stringify({ status: 'ok' }));
        case '/health/ready': {
          const readiness = await opts.readiness();
          return send(readiness.status === 'ok' ? 200 : 503, 'application/json', JSON.stringify(readiness));
        }
        default:
          return send(404, 'text/plain', 'not found\n');
      }
    };
    handle().catch((err: unknown) => send(500, 'text/plain', `${err instanceof Error ? err.message : String(err)}\n`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  return {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
