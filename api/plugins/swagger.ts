import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';
import { openApiDocument } from '../openapi';
import {
  shareExamples,
  shareHeaders,
  shareParameters,
  shareProblemResponses,
  shareSchemas,
} from '../openapi-components';
import { SHARED_EXAMPLES } from '../schemas/examples';
import { addComponentSchemas } from '../schemas/components';

/**
 * OpenAPI 3.1 generated from the route schemas (so it cannot drift from validation), served at
 * /openapi.json in canonical form (sorted keys; `npm run openapi` commits the same text as openapi.json),
 * with Swagger UI at /docs. Registered before the routes: it collects them as they are added.
 * Both stay public (no token), like the health probes.
 */
export default fp(
  async (app) => {
    addComponentSchemas(app); // Wallet, Transfer, …: what the routes' responses refer to
    await app.register(swagger, {
      // shared schemas (app.addSchema: Problem, Wallet, …) appear under components.schemas by their $id
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
      },
      // the problem answers (the same for a status on every route), and the parameters and example answers
      // several routes declare alike: once each, under components.responses, .parameters and .examples
      transformObject: (doc) =>
        'openapiObject' in doc
          ? shareExamples(
              shareHeaders(shareParameters(shareSchemas(shareProblemResponses(doc.openapiObject)))),
              SHARED_EXAMPLES,
            )
          : doc.swaggerObject,
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Wallet transfers API',
          version: 'v1',
          description:
            'Wallets on a double-entry ledger. Amounts are JSON integers in minor units. ' +
            'Errors are application/problem+json (RFC 9457) with a stable `code` and the request id. ' +
            'Every /v1 route needs a bearer JWT whose `roles` claim names customer, ops, finance or admin; ' +
            'a customer sees and moves only its own wallets, and whatever it may not see answers 404. ' +
            'Requests are rate-limited per caller and route class (429 with Retry-After and RateLimit-* headers). ' +
            'POSTs that move money require an Idempotency-Key, scoped to the caller.',
        },
        components: {
          securitySchemes: {
            bearerAuth: {
              type: 'http',
              scheme: 'bearer',
              bearerFormat: 'JWT',
              description:
                'A JWT with `sub` (the caller) and `roles` (customer, ops, finance, admin), signed with the ' +
                "service's HS256 secret or by the identity provider (JWKS); `exp` is required.",
            },
          },
        },
        tags: [
          { name: 'wallets', description: 'Wallets and their ledger history' },
          { name: 'deposits', description: 'Money entering the system (finance)' },
          { name: 'transfers', description: 'Transfers between wallets, run as sagas' },
          { name: 'finance', description: 'Decisions on parked transfers (finance)' },
          { name: 'audit', description: 'The audit trail of privileged actions (ops)' },
          { name: 'health', description: 'Probes for orchestrators and load balancers (public)' },
        ],
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
    app.get('/openapi.json', { schema: { hide: true } }, async () => openApiDocument(app));
  },
  { name: 'swagger', fastify: '5.x' },
);
