import type { EventEmitter } from 'node:events';
import fp from 'fastify-plugin';
import { createApiMetrics, METRICS_CONTENT_TYPE, renderMetrics, type ApiMetrics } from '../../observability/metrics';
import { sagasWaitingGauge, storeBreakerGauge } from '../../observability/store-metrics';
import { REPLAYED_HEADER } from './idempotency';

declare module 'fastify' {
  interface FastifyInstance {
    /** This app's Prometheus metrics (its own registry; observability/metrics.ts). */
    metrics: ApiMetrics;
  }
}

/** The label of requests that matched no route: never the raw URL (unbounded cardinality). */
export const UNMATCHED_ROUTE = 'unmatched';

/** What api/plugins/rate-limit.ts reports, if it is registered (looked up when the app is ready). */
type RateLimitEmitter = EventEmitter<{ limited: [{ route: string }]; storeError: [{ err: Error }] }>;

/**
 * Prometheus metrics of the API, served at GET /metrics (public unless METRICS_PUBLIC=false; not in
 * the OpenAPI document). Per request, in onResponse: http_request_duration_seconds{route, method,
 * status_code} with the route *pattern*, idempotent_replays_total{route} for answers carrying
 * Idempotent-Replayed, rate_limited_total{route} for 429s. Deposits count themselves
 * (transactions_total{type="deposit"}); the pool and NEEDS_ATTENTION gauges are read at scrape time,
 * as are the databases' breaker states and the sagas waiting for a database (observability/store-metrics.ts).
 */
export default fp(
  async (app) => {
    const metrics = createApiMetrics({
      db: () => app.shards.home.store,
      stores: () => app.shards.all.map((db) => db.store),
      walletStores: () => app.shards.databases.map((db) => db.store),
      onCollectError: (err) =>
        app.log.warn(
          { err },
          'a database-backed gauge (transfers_needs_attention, reconciliation_*) could not be read',
        ),
    });
    storeBreakerGauge(metrics.registry, () => app.shards);
    sagasWaitingGauge(metrics.registry, {
      shards: () => app.shards,
      // registered after this plugin (api/app.ts): read at scrape time
      temporal: () => (app.hasDecorator('temporal') ? app.temporal : undefined),
      cacheMs: 5000,
      onError: (err) => app.log.warn({ err }, 'wallet_sagas_waiting_for_store could not be counted'),
    });
    app.decorate('metrics', metrics);

    // The rate limiter, when present, reports its refusals itself (with the route); else every 429 counts.
    let limiterReports = false;
    app.addHook('onReady', async () => {
      const events = (app as unknown as { rateLimitEvents?: RateLimitEmitter }).rateLimitEvents;
      if (!events) return;
      limiterReports = true;
      events.on('limited', ({ route }) => metrics.rateLimited.inc({ route }));
      events.on('storeError', () => metrics.rateLimitStoreErrors.inc());
    });

    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
      metrics.httpDuration.observe(
        { route, method: request.method, status_code: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
      if (reply.getHeader(REPLAYED_HEADER) === 'true') metrics.idempotentReplays.inc({ route });
      if (reply.statusCode === 429 && !limiterReports) metrics.rateLimited.inc({ route });
    });

    app.get('/metrics', { schema: { hide: true }, logLevel: 'warn' }, async (_request, reply) => {
      return reply
        .type(METRICS_CONTENT_TYPE)
        .header('cache-control', 'no-store')
        .send(await renderMetrics(metrics.registry));
    });
  },
  { name: 'metrics', fastify: '5.x', dependencies: ['db'] },
);
