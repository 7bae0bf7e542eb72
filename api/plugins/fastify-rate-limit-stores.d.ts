/**
 * The two counters that ship with @fastify/rate-limit 10 (store/LocalStore.js, store/RedisStore.js),
 * which its own typings do not declare; api/plugins/rate-limit-store.ts composes them. Both count a
 * fixed window per key and answer `current` (hits in the window, this one included) and `ttl` (ms
 * until the window ends).
 */

declare module '@fastify/rate-limit/store/LocalStore' {
  /** In this process: a toad-cache LRU of at most `cache` keys (default 5000). */
  class LocalStore {
    constructor(continueExceeding: boolean, exponentialBackoff: boolean, cache?: number);
    incr(
      key: string,
      cb: (err: Error | null, res?: { current: number; ttl: number }) => void,
      timeWindow: number,
      max: number,
    ): void;
  }
  export = LocalStore;
}

declare module '@fastify/rate-limit/store/RedisStore' {
  import type { Redis } from 'ioredis';

  /** In Redis: INCR + PEXPIRE in one Lua script, at `key` + the limiter's key (default prefix 'fastify-rate-limit-'). */
  class RedisStore {
    constructor(continueExceeding: boolean, exponentialBackoff: boolean, redis: Redis, key?: string);
    incr(
      key: string,
      cb: (err: Error | null, res?: { current: number; ttl: number } | null) => void,
      timeWindow: number,
      max: number,
    ): void;
  }
  export = RedisStore;
}
