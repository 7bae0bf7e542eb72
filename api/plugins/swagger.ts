import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';

/**
 * OpenAPI 3.1 generated from the route schemas (so it cannot drift from validation), served at
 * /openapi.json, with Swagger UI at /docs. Registered before the routes: it collects them as they are added.
 */
export default fp(
  async (app) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Wallet transfers API',
          version: 'v1',
          description:
            'Wallets on a double-entry ledger. Amounts are JSON integers in minor units. ' +
            'Errors are application/problem+json (RFC 9457) with a stable `code`.',
        },
        tags: [
          { name: 'wallets', description: 'Wallets and their ledger history' },
          { name: 'deposits', description: 'Money entering the system' },
          { name: 'health', description: 'Probes for orchestrators and load balancers' },
        ],
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  },
  { name: 'swagger', fastify: '5.x' },
);
