import { EventEmitter } from 'node:events';
import rateLimit from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import type { RateLimitClass } from '../../config';
import { ApiError } from '../errors';

/**
 * What the limiter reports, for metrics (api/plugins/metrics.ts subscribes when present):
 * - 'limited' { route, rateClass }: a request was refused with 429 (→ rate_limited_total{route})
 * - 'storeError' { err }: Redis could not be asked; the request passed (fail-open)
 *   (→ rate_limit_store_errors_total)
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

// Fixed window: INCR, and on the first hit of a window PEXPIRE; answers the count and the ms left.
const FIXED_WINDOW_LUA = `
local current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {current, ttl}`;

type RedisWithRateLimit = Redis & {
  walletRateLimit(key: string, windowMs: number, cb: (err: Error | null, res?: [number, number]) => void): void;
};

type IncrCallback = (err: Error | null, res?: { current: number; ttl: number }) => void;

/**
 * A store for @fastify/rate-limit on the app's ioredis client (its key prefix applies). Counters are
 * keyed by the key generator alone (`rl:<class>:<caller>`), not per route, so every route of a class
 * draws from one budget. Errors are reported (logged, counted) and passed on: with skipOnError the
 * request then passes.
 */
function redisStore(redis: Redis, windowMs: number, report: { onError: (err: Error) => void; onSuccess: () => void }) {
  const client = redis as RedisWithRateLimit;
  if (typeof client.walletRateLimit !== 'function') {
    redis.defineCommand('walletRateLimit', { numberOfKeys: 1, lua: FIXED_WINDOW_LUA });
  }
  return class WalletRateLimitStore {
    incr(key: string, cb: IncrCallback): void {
      client.walletRateLimit(`rl:${key}`, windowMs, (err, res) => {
        if (err || !res) {
          const error = err ?? new Error('rate-limit script answered nothing');
          report.onError(error);
          cb(error);
        } else {
          report.onSuccess();
          cb(null, { current: Number(res[0]), ttl: Number(res[1]) });
        }
      });
    }
    child() {
      return this;
    }
  };
}

function rateClassOf(request: FastifyRequest): RateLimitClass | undefined {
  return request.routeOptions.config?.access?.rateLimit;
}

/**
 * Rate limits per caller (the token's sub) and per route class (README "Security"), counted in
 * Redis so every API instance shares them. Only /v1 routes (the ones with `config.access`) are
 * limited; authentication runs first, so the key is the verified caller. A refused request gets 429
 * with Retry-After and the RateLimit-Limit/-Remaining/-Reset headers. When Redis is unavailable the
 * limiter fails open: requests pass, and the failure is logged (once per outage) and counted.
 */
export default fp(
  async (app) => {
    const events = new EventEmitter<RateLimitEvents>();
    app.decorate('rateLimitEvents', events);
    const limits = app.config.rateLimits;
    const windowMs = app.config.RATE_LIMIT_WINDOW_SECONDS * 1000;

    // log transitions, not every failing request: an outage is two lines, the counter has the volume
    let failing = false;
    const report = {
      onError: (err: Error) => {
        events.emit('storeError', { err });
        if (!failing) app.log.warn({ err }, 'rate limiting unavailable (redis); letting requests through');
        failing = true;
      },
      onSuccess: () => {
        if (failing) app.log.info('rate limiting available again');
        failing = false;
      },
    };

    await app.register(rateLimit, {
      global: true,
      hook: 'onRequest',
      store: redisStore(app.redis, windowMs, report),
      timeWindow: windowMs,
      max: async (request) => limits[rateClassOf(request) ?? 'read'],
      // public routes (health, metrics, documentation) are not limited
      allowList: async (request) => rateClassOf(request) === undefined,
      keyGenerator: (request) => `${rateClassOf(request)}:${request.callerId || `ip:${request.ip}`}`,
      skipOnError: true,
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
  { name: 'rate-limit', fastify: '5.x', dependencies: ['redis', 'caller-identity'], decorators: { fastify: ['config'] } },
);
