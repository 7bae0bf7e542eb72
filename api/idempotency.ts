import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import type { ShardSet } from '../db/shards';
import { DomainError } from '../domain/errors';
import {
  claimIdempotencyRecord,
  releaseIdempotencyRecord,
  type IdempotencyRecord,
  type IdempotencyScope,
} from '../domain/idempotency';
import { ApiError } from './errors';

/**
 * HTTP idempotency (docs/architecture.md §5): the record that binds (caller, Idempotency-Key) to one request hash
 * and one resource. Postgres holds it (source of truth); Redis caches it (fast path, losable).
 * No response bodies are stored: replays re-render the resource, so they cannot drift from it.
 */

// Printable ASCII, 1..255 characters: safe in logs, Redis keys and headers alike.
const KEY_PATTERN = /^[\x20-\x7E]{1,255}$/;

/** Validates the raw `Idempotency-Key` header value; returns the key. */
export function parseIdempotencyKey(raw: string | string[] | undefined): string {
  if (raw === undefined)
    throw new ApiError('IDEMPOTENCY_KEY_MISSING', 'this request requires an Idempotency-Key header');
  if (Array.isArray(raw)) throw new ApiError('IDEMPOTENCY_KEY_INVALID', 'send exactly one Idempotency-Key header');
  if (!KEY_PATTERN.test(raw) || raw.trim() === '') {
    throw new ApiError('IDEMPOTENCY_KEY_INVALID', 'Idempotency-Key must be 1 to 255 printable ASCII characters');
  }
  return raw;
}

/**
 * RFC 8785 (JCS) canonical JSON, so {a,b} and {b,a} hash alike. For the bodies the API parses it
 * writes the same bytes as the hand-written function it replaced, so stored hashes still match
 * (test/api/request-hash.test.ts); an absent body counts as null, as it did.
 */
export function canonicalJson(value: unknown): string {
  return canonicalize(value === undefined ? null : value)!;
}

/** sha-256 over method, route URL with its params, and the canonical body. */
export function requestHash(req: { method: string; url: string; body: unknown }): string {
  return createHash('sha256')
    .update(`${req.method}\n${req.url}\n${canonicalJson(req.body)}`)
    .digest('hex');
}

function redisKey({ callerId, key }: IdempotencyScope): string {
  // the caller id is URI-encoded so a ':' in it cannot make two scopes collide
  return `idem:${encodeURIComponent(callerId)}:${key}`;
}

function assertSameRequest(stored: Pick<IdempotencyRecord, 'requestHash'>, wanted: IdempotencyRecord): void {
  if (stored.requestHash !== wanted.requestHash) {
    throw new DomainError(
      'IDEMPOTENCY_KEY_REUSED',
      'this Idempotency-Key was already used for a different request; use a new key for a new request',
    );
  }
}

/**
 * The records of a caller live on its own shard's database (`forOwner(callerId)`, the function that places
 * an owner's wallets): a customer's sit beside its wallets, and a key a finance user reuses for deposits
 * into wallets on two databases is still one record, refused the second time. The Redis key is the same
 * for every shard.
 */
export class IdempotencyStore {
  constructor(
    private readonly shards: ShardSet,
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
    private readonly log: FastifyBaseLogger,
  ) {}

  /**
   * Claims the key for this request. Returns `existed: true` when the key had been claimed before by
   * the same request (a replay or a concurrent twin), and `cached: true` when Redis answered that.
   * Throws IDEMPOTENCY_KEY_REUSED, writing nothing, when it had been claimed by a different request.
   */
  async claim(scope: IdempotencyScope, wanted: IdempotencyRecord): Promise<{ existed: boolean; cached: boolean }> {
    const cached = await this.fromCache(scope);
    if (cached) {
      assertSameRequest(cached, wanted);
      return { existed: true, cached: true };
    }
    const claimed = await claimIdempotencyRecord(this.storeOf(scope), scope, wanted, this.ttlSeconds);
    if (claimed.inserted) return { existed: false, cached: false };
    assertSameRequest(claimed.stored, wanted);
    return { existed: true, cached: false };
  }

  /** Forgets a claim whose operation failed before creating anything, so the key can be retried. */
  async release(scope: IdempotencyScope, wanted: IdempotencyRecord): Promise<void> {
    await releaseIdempotencyRecord(this.storeOf(scope), scope, wanted.requestHash);
    await this.quietly('del', () => this.redis.del(redisKey(scope)));
  }

  /** Caches a record whose resource exists, for the TTL of the record. */
  async remember(scope: IdempotencyScope, record: IdempotencyRecord): Promise<void> {
    await this.quietly('set', () => this.redis.set(redisKey(scope), JSON.stringify(record), 'EX', this.ttlSeconds));
  }

  private storeOf(scope: IdempotencyScope) {
    return this.shards.forOwner(scope.callerId).store;
  }

  private async fromCache(scope: IdempotencyScope): Promise<IdempotencyRecord | null> {
    const raw = await this.quietly('get', () => this.redis.get(redisKey(scope)));
    if (!raw) return null;
    try {
      const parsed = JSON.parse(raw) as Partial<IdempotencyRecord>;
      return typeof parsed.requestHash === 'string' ? (parsed as IdempotencyRecord) : null;
    } catch {
      return null; // unreadable cache entry: fall through to Postgres
    }
  }

  /** Redis is an optimisation: its failures are logged and treated as a cache miss. */
  private async quietly<T>(op: string, fn: () => Promise<T>): Promise<T | null> {
    try {
      return await fn();
    } catch (err) {
      this.log.warn({ err, op }, 'idempotency cache unavailable; using Postgres only');
      return null;
    }
  }
}
