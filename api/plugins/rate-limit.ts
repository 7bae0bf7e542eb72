import { EventEmitter } from 'node:events';
import rateLimit from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Gauge } from 'prom-client';
import type { RateLimitClass } from '../../config';
import { ApiError } from '../errors';
import { asStoreOption, FallbackRateLimitStore } from './rate-limit-store';

/**
 * What the limiter reports, for metrics (api/plugins/metrics.ts subscribes when present):
 * - 'limited' { route, rateClass }: a request was refused with 429 (→ rate_limited_total{route})
 * - 'storeError' { err }: Redis did not count a request (error, timeout, or not asked during an
 *   outage); the request was counted in this process instead (→ rate_limit_store_errors_total)
 */
export interface RateLimitEvents {
  limited: [{ route: string; rateClass: RateLimitClass }];
  storeError: [{ err: Error }];
}

declare module 'fastify' {
  interface FastifyInstance {
    rateLimitEvents: EventEmitter<RateLimitEvents>;
  }
}

/**
 * How long a rate-limit check waits for Redis before it counts in memory. A healthy Redis answers in
 * about a millisecond; the client's own bounds (commandTimeout 1 s, api/plugins/redis.ts) are for
 * the cache, and a request should not pay them for its limit check.
 */
export const RATE_LIMIT_REDIS_TIMEOUT_MS = 250;

/**
 * Keys (caller × route class) the in-memory fallback holds at most, least recently used dropped
 * first: a dropped caller would start a fresh budget, so this is sized for every caller active in
 * one window of an outage (a few hundred bytes a key: some tens of MB when full).
 */
export const RATE_LIMIT_LOCAL_KEYS = 100_000;

function rateClassOf(request: FastifyRequest): RateLimitClass | undefined {
  return request.routeOptions.config?.access?.rateLimit;
}

/**
 * Rate limits per caller (the token's sub) and per route class (docs/security.md), counted in
 * Redis so every API instance shares them. Only /v1 routes (the ones with `config.access`) are
 * limited; authentication runs first, so the key is the verified caller. A refused request gets 429
 * with Retry-After and the RateLimit-Limit/-Remaining/-Reset headers.
 *
 * When Redis does not answer, each process counts the same budgets in memory (rate-limit-store.ts)
 * until Redis answers again: limits loosen to at most one budget per API instance, never lift, and
 * the headers tell the in-memory count. Each transition is one log line; the gauge
 * rate_limit_fallback_active is 1 meanwhile.
 */
export default fp(
  async (app) => {
    const events = new EventEmitter<RateLimitEvents>();
    app.decorate('rateLimitEvents', events);
    const limits = app.config.rateLimits;
    const windowMs = app.config.RATE_LIMIT_WINDOW_SECONDS * 1000;

    const store = new FallbackRateLimitStore({
      redis: app.redis,
      nameSpace: 'rl:', // rl:<class>:<caller> (after the client's key prefix)
      redisTimeoutMs: RATE_LIMIT_REDIS_TIMEOUT_MS,
      localKeys: RATE_LIMIT_LOCAL_KEYS,
      onMiss: (err) => events.emit('storeError', { err }),
      // transitions, not every request: an outage is two lines, the counter has the volume
      onFallback: (active, err) => {
        if (active) app.log.warn({ err }, 'rate limit falling back to in-memory counting');
        else app.log.info('rate limit back to Redis');
      },
    });

    // in this app's registry (api/plugins/metrics.ts), when there is one
    app.addHook('onReady', async () => {
      if (!app.hasDecorator('metrics')) return;
      new Gauge({
        name: 'rate_limit_fallback_active',
        help: '1 while this API process counts rate limits in memory because Redis does not answer (limits per instance), else 0',
        registers: [app.metrics.registry],
        collect() {
          this.set(store.fallbackActive ? 1 : 0);
        },
      });
    });

    await app.register(rateLimit, {
      global: true,
      hook: 'onRequest',
      store: asStoreOption(store),
      timeWindow: windowMs,
      max: async (request) => limits[rateClassOf(request) ?? 'read'],
      // public routes (health, metrics, documentation) are not limited
      allowList: async (request) => rateClassOf(request) === undefined,
      keyGenerator: (request) => `${rateClassOf(request)}:${request.callerId || `ip:${request.ip}`}`,
      // the store always answers (from memory when Redis does not), so there is nothing to skip
      skipOnError: false,
      enableDraftSpec: true, // RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset (+ Retry-After on 429)
      onExceeded: (request) => {
        const rateClass = rateClassOf(request) ?? 'read';
        events.emit('limited', { route: request.routeOptions.url ?? 'unknown', rateClass });
        request.log.info({ rateClass, caller: request.callerId }, 'rate limit exceeded');
      },
      errorResponseBuilder: (request, context) =>
        new ApiError(
          'RATE_LIMITED',
          `rate limit of ${context.max} ${rateClassOf(request) ?? ''} requests per window exceeded; retry in ${context.after}`,
        ),
    });
  },
  {
    name: 'rate-limit',
    fastify: '5.x',
    dependencies: ['redis', 'caller-identity'],
    decorators: { fastify: ['config'] },
  },
);
