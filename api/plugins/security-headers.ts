import helmet from '@fastify/helmet';
import fp from 'fastify-plugin';

/**
 * Security headers on every answer, errors included (@fastify/helmet defaults: CSP, HSTS, nosniff,
 * frame options, referrer policy, no X-Powered-By). The CSP admits the Swagger UI at /docs, whose
 * scripts and styles are all served from this origin. `upgrade-insecure-requests` only in production
 * (behind TLS): on a plain-HTTP development server it would send the UI's assets to https.
 * Every /v1 answer is `Cache-Control: no-store`.
 */
export default fp(
  async (app) => {
    const production = app.config.NODE_ENV === 'production';
    await app.register(helmet, {
      contentSecurityPolicy: { directives: { upgradeInsecureRequests: production ? [] : null } },
    });
    // Balances, transfers and audit rows are a caller's own: no shared cache (proxy, CDN, browser
    // history) may keep them. Every /v1 answer, problems included.
    app.addHook('onSend', async (request, reply) => {
      if (request.url.startsWith('/v1/') || request.url === '/v1') reply.header('cache-control', 'no-store');
    });
  },
  { name: 'security-headers', fastify: '5.x', decorators: { fastify: ['config'] } },
);
