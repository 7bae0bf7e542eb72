import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest, preValidationAsyncHookHandler } from 'fastify';
import { Type } from '@sinclair/typebox';
import { DomainError } from '../../domain/errors';
import type { IdempotencyRecord, IdempotentResourceType } from '../../domain/idempotency';
import { IdempotencyStore, parseIdempotencyKey, requestHash } from '../idempotency';
import { rawHeaderValues } from '../raw-headers';

export interface IdempotentOperation<T> {
  resourceType: IdempotentResourceType;
  /** Derived from (callerId, key), e.g. depositIdFor / transferIdFor: the key always names one resource. */
  resourceId: string;
  /**
   * Creates the resource or finds it (it MUST be idempotent by resourceId: it also runs on replays,
   * which covers a crash between claiming the key and creating the resource) and renders the response
   * from it. `created: false` means it existed already. Throw a DomainError only when nothing was
   * created: a fresh claim is then released, so the caller can fix the cause and retry with the same key.
   */
  run: (ctx: { requestHash: string }) => Promise<{ created: boolean; result: T }>;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The validated Idempotency-Key ('' on routes without requireIdempotencyKey). */
    idempotencyKey: string;
  }
  interface FastifyInstance {
    /** preValidation hook for money-moving routes: 400 IDEMPOTENCY_KEY_MISSING / _INVALID before anything else. */
    requireIdempotencyKey: preValidationAsyncHookHandler;
    /** Runs `op` at most once per (caller, Idempotency-Key); replays get `Idempotent-Replayed: true`. */
    idempotent<T>(request: FastifyRequest, reply: FastifyReply, op: IdempotentOperation<T>): Promise<T>;
  }
}

/** Documents the header in a route's schema (the hook above has already enforced it). */
export const IdempotencyKeyHeaders = Type.Object({
  'idempotency-key': Type.String({
    minLength: 1,
    maxLength: 255,
    pattern: '^[\\x20-\\x7E]+$',
    description:
      'client-chosen key, scoped to the caller; the same key and body replay the original result, another body is refused (422)',
    examples: ['order-4711-payment'],
  }),
});

export const REPLAYED_HEADER = 'Idempotent-Replayed';

/** Documents the response header sent on replays. */
export const ReplayedHeader = {
  type: 'string',
  enum: ['true'],
  description: 'present on a replay: this answer is the result of an earlier request with the same Idempotency-Key',
};

/** Idempotent POSTs (docs/architecture.md §5); used by deposits now and transfers later. */
export default fp(
  async (app) => {
    const store = new IdempotencyStore(app.shards, app.redis, app.config.IDEMPOTENCY_TTL_SECONDS, app.log);

    app.decorateRequest('idempotencyKey', '');

    // preValidation runs before schema validation, so these codes win over a generic VALIDATION_FAILED.
    // The lines as sent: Node joins two Idempotency-Key lines into one value "a, b", which is a valid key.
    const requireIdempotencyKey: preValidationAsyncHookHandler = async (request) => {
      const sent = rawHeaderValues(request.raw.rawHeaders, 'idempotency-key');
      request.idempotencyKey = parseIdempotencyKey(sent.length > 1 ? sent : request.headers['idempotency-key']);
    };
    app.decorate('requireIdempotencyKey', requireIdempotencyKey);

    app.decorate('idempotent', async function idempotent<
      T,
    >(request: FastifyRequest, reply: FastifyReply, op: IdempotentOperation<T>): Promise<T> {
      if (!request.idempotencyKey) throw new Error(`route ${request.routeOptions.url} lacks requireIdempotencyKey`);
      const scope = { callerId: request.callerId, key: request.idempotencyKey };
      const record: IdempotencyRecord = {
        // the URL with its params filled in, without the query string
        requestHash: requestHash({ method: request.method, url: request.url.split('?')[0]!, body: request.body }),
        resourceType: op.resourceType,
        resourceId: op.resourceId,
      };

      const { existed, cached } = await store.claim(scope, record);
      let outcome: { created: boolean; result: T };
      try {
        outcome = await op.run({ requestHash: record.requestHash });
      } catch (err) {
        // Only the request that made the claim releases it: a replay failing must never drop the
        // record of a resource that an earlier (or concurrent) request did create.
        if (err instanceof DomainError && !existed) await store.release(scope, record);
        throw err;
      }
      if (existed || !outcome.created) reply.header(REPLAYED_HEADER, 'true');
      if (!cached) await store.remember(scope, record);
      return outcome.result;
    });
  },
  {
    name: 'idempotency',
    fastify: '5.x',
    dependencies: ['db', 'redis', 'caller-identity'],
    decorators: { fastify: ['config'] },
  },
);
