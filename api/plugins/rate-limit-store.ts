import type { FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import LocalStore from '@fastify/rate-limit/store/LocalStore';
import RedisStore from '@fastify/rate-limit/store/RedisStore';
import type { Redis } from 'ioredis';

export interface RateLimitCount {
  current: number;
  /** ms until the window of the key ends */
  ttl: number;
}

type IncrCallback = (err: Error | null, res?: RateLimitCount) => void;

export interface FallbackStoreOptions {
  redis: Redis;
  /** Prefix of the counters in Redis, before the limiter's key (the client's keyPrefix comes first). */
  nameSpace: string;
  /** A Redis answer later than this counts the request in memory instead (the request never waits longer). */
  redisTimeoutMs: number;
  /** Keys counted in memory at most (LRU): callers × route classes active in one window of an outage. */
  localKeys: number;
  /** Each check that Redis did not answer (error or timeout), or that was not put to Redis during an outage. */
  onMiss: (err: Error) => void;
  /** Counting moved to memory (`active`, with the error that started it) or back to Redis. */
  onFallback: (active: boolean, err?: Error) => void;
}

/** What @fastify/rate-limit expects of `store` (its typings omit the `timeWindow` and `max` arguments). */
export interface RateLimitStore {
  incr(key: string, cb: IncrCallback, timeWindow: number, max: number): void;
  child(routeOptions: unknown): RateLimitStore;
}

/**
 * A store for @fastify/rate-limit that counts in Redis (its RedisStore: every API instance shares the
 * count) and, whenever Redis does not answer within `redisTimeoutMs`, in this process (its LocalStore)
 * with the same key, budget and window. An outage therefore loosens a limit to at most one budget per
 * API instance and never lifts it, and the RateLimit-* headers tell the count that applied.
 *
 * Once a check has fallen back, the store is in fallback: checks go straight to memory while the
 * client is not connected, and one check at a time asks Redis again when it is; the first timely
 * answer ends the fallback. Answers that come too late are dropped (that request was counted in
 * memory), as are answers to checks sent before the fallback began, so an outage is one transition
 * each way.
 *
 * Counters are keyed by the limiter's key alone (`child` returns the same store): every route of a
 * class draws from one budget.
 */
export class FallbackRateLimitStore implements RateLimitStore {
  private readonly remote: RedisStore;
  private readonly local: LocalStore;
  private fallback = false;
  private probing = false;
  private lastError: Error = new Error('redis unavailable');

  constructor(private readonly opts: FallbackStoreOptions) {
    // continueExceeding and exponentialBackoff off: plain fixed windows, in Redis and in memory alike
    this.remote = new RedisStore(false, false, opts.redis, opts.nameSpace);
    this.local = new LocalStore(false, false, opts.localKeys);
  }

  /** True while checks are counted in memory. */
  get fallbackActive(): boolean {
    return this.fallback;
  }

  incr(key: string, cb: IncrCallback, timeWindow: number, max: number): void {
    if (!this.fallback) {
      this.viaRedis(key, cb, timeWindow, max, false);
    } else if (!this.probing && this.opts.redis.status === 'ready') {
      this.viaRedis(key, cb, timeWindow, max, true);
    } else {
      this.opts.onMiss(this.lastError);
      this.local.incr(key, cb, timeWindow, max);
    }
  }

  child(): RateLimitStore {
    return this;
  }

  private viaRedis(key: string, cb: IncrCallback, timeWindow: number, max: number, probe: boolean): void {
    if (probe) this.probing = true;
    let settled = false;
    const inMemory = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (probe) this.probing = false;
      this.lastError = err;
      this.opts.onMiss(err);
      if (!this.fallback) {
        this.fallback = true;
        this.opts.onFallback(true, err);
      }
      this.local.incr(key, cb, timeWindow, max);
    };
    const timer = setTimeout(
      () => inMemory(new Error(`redis did not answer the rate-limit check within ${this.opts.redisTimeoutMs} ms`)),
      this.opts.redisTimeoutMs,
    );
    try {
      this.remote.incr(
        key,
        (err, res) => {
          if (err || !res) {
            inMemory(err ?? new Error('the rate-limit script answered nothing'));
            return;
          }
          if (settled) return; // too late: the request was counted in memory
          settled = true;
          clearTimeout(timer);
          if (probe) {
            this.probing = false;
            if (this.fallback) {
              this.fallback = false;
              this.opts.onFallback(false);
            }
          }
          let ttl = Number(res.ttl);
          if (ttl < 0) {
            // a counter without expiry (written by something else) would never reset: give it this window
            this.opts.redis.pexpire(this.opts.nameSpace + key, timeWindow).catch(() => undefined);
            ttl = timeWindow;
          }
          cb(null, { current: Number(res.current), ttl });
        },
        timeWindow,
        max,
      );
    } catch (err) {
      inMemory(err instanceof Error ? err : new Error(String(err)));
    }
  }
}

/**
 * `store` for @fastify/rate-limit, which wants a class and constructs it once with its own options:
 * a constructor that returns an object yields that object, so the limiter uses `store` itself (its
 * typings also omit incr's `timeWindow` and `max`, which it passes).
 */
export function asStoreOption(store: RateLimitStore): FastifyRateLimitStoreCtor {
  return function RateLimitStore() {
    return store;
  } as unknown as FastifyRateLimitStoreCtor;
}
