import underPressure from '@fastify/under-pressure';
import fp from 'fastify-plugin';
import { buildProblem } from '../errors';
import { pathOf, sendProblem } from './errors';

/**
 * Routes answered even under pressure. /health/live: an overloaded process is alive, and a restart
 * would drop its in-flight work and shift its load onto the other pods (liveness only fails when the
 * process cannot answer at all). /metrics: the overload must stay visible. /health/ready is shed like
 * every other route: its 503 takes the pod out of the load balancer until the pressure is gone.
 */
const NEVER_SHED = new Set(['/health/live', '/metrics']);

/** At most one "shedding" log line per this many ms: under overload, a line per request would add to it. */
const LOG_EVERY_MS = 1000;

/**
 * Load shedding (@fastify/under-pressure): when the event loop lags (mean delay over one sample above
 * UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY_MS, 1 s by default) or memory passes its configured limit (off by
 * default), requests are answered at once with a 503 SERVICE_UNAVAILABLE problem and Retry-After
 * instead of queueing behind work the process cannot finish in time. Registered before authentication,
 * so a shed request costs no token verification and no Redis round trip.
 */
export default fp(
  async (app) => {
    const cfg = app.config;
    const retryAfter = String(cfg.UNDER_PRESSURE_RETRY_AFTER_SECONDS);
    let lastLogged = 0;
    await app.register(underPressure, {
      maxEventLoopDelay: cfg.UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY_MS,
      maxHeapUsedBytes: cfg.UNDER_PRESSURE_MAX_HEAP_USED_BYTES,
      maxRssBytes: cfg.UNDER_PRESSURE_MAX_RSS_BYTES,
      sampleInterval: cfg.UNDER_PRESSURE_SAMPLE_INTERVAL_MS,
      // answers itself (a nullish return lets the request through): a problem like every other error
      pressureHandler: (request, reply, type, value) => {
        if (NEVER_SHED.has(request.routeOptions.url ?? '')) return;
        if (Date.now() - lastLogged >= LOG_EVERY_MS) {
          lastLogged = Date.now();
          request.log.warn({ pressure: type, value }, 'under pressure: shedding requests with 503');
        }
        const problem = buildProblem('SERVICE_UNAVAILABLE', 'the server is overloaded; retry later', {
          instance: pathOf(request),
        });
        void sendProblem(reply.header('retry-after', retryAfter), problem);
      },
    });
  },
  { name: 'under-pressure', fastify: '5.x', decorators: { fastify: ['config'] } },
);
