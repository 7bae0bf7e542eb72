import { Client, Connection } from '@temporalio/client';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** Temporal client for starting and querying transfer workflows. */
    temporal: Client;
  }
}

/**
 * A lazy connection: nothing is dialled until the first call, so the API boots (and answers
 * everything but transfers) while Temporal is down; gRPC reconnects by itself once it is back.
 * Callers should bound their calls with `connection.withDeadline` (see the readiness check).
 */
export default fp(
  async (app) => {
    const connection = Connection.lazy({ address: app.config.TEMPORAL_ADDRESS, connectTimeout: '2s' });
    const client = new Client({ connection, namespace: app.config.TEMPORAL_NAMESPACE });
    app.decorate('temporal', client);
    app.addHook('onClose', async () => {
      await connection.close();
    });
  },
  { name: 'temporal', fastify: '5.x', decorators: { fastify: ['config'] } },
);
