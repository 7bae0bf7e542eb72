import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling; idempotency keys and (later) permissions are scoped to it. */
    callerId: string;
  }
}

/** Every request's caller until authentication exists. */
export const ANONYMOUS_CALLER = 'anonymous';

/**
 * Placeholder identity. There is NO authentication yet: every request is the caller `anonymous`.
 * Bearer-JWT authentication (DESIGN §6) arrives in a later issue and replaces this plugin; it must keep
 * the `request.callerId` contract, which idempotency already scopes its keys to.
 */
export default fp(
  async (app) => {
    app.decorateRequest('callerId', '');
    app.addHook('onRequest', async (request) => {
      request.callerId = ANONYMOUS_CALLER;
    });
  },
  { name: 'caller-identity', fastify: '5.x' },
);
