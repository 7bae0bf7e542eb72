import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import Fastify from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The headers helmet puts on every answer (name → value), for the answers written without a
     * Fastify reply (api/plugins/errors.ts: Node's parser refusing a request, routing failures).
     */
    securityHeaders: Readonly<Record<string, string>>;
  }
}

/**
 * The @fastify/helmet options of the API (defaults: CSP, HSTS, nosniff, frame options, referrer policy,
 * no X-Powered-By). The CSP admits the Swagger UI at /docs, whose scripts and styles are all served
 * from this origin. `upgrade-insecure-requests` only in production (behind TLS): on a plain-HTTP
 * development server it would send the UI's assets to https.
 */
export function helmetOptions(production: boolean): FastifyHelmetOptions {
  return { contentSecurityPolicy: { directives: { upgradeInsecureRequests: production ? [] : null } } };
}

/**
 * The exact headers @fastify/helmet sends with `options`, asked of helmet itself once at startup (a bare
 * Fastify instance with only helmet, one injected request): no second copy of the list to drift from it.
 */
export async function securityHeaderSet(options: FastifyHelmetOptions): Promise<Readonly<Record<string, string>>> {
  const probe = Fastify({ logger: false });
  let headers: Record<string, string> = {};
  try {
    await probe.register(helmet, options);
    probe.addHook('onRequest', async (_request, reply) => {
      // runs after helmet's own onRequest hooks: what is set now is helmet's, nothing else
      headers = Object.fromEntries(Object.entries(reply.getHeaders()).map(([name, value]) => [name, String(value)]));
    });
    probe.get('/', async () => '');
    await probe.inject({ method: 'GET', url: '/' });
  } finally {
    await probe.close();
  }
  if (Object.keys(headers).length === 0) throw new Error('could not read the security headers of @fastify/helmet');
  return Object.freeze(headers);
}

/**
 * Security headers on every answer, errors included (helmetOptions above). The same set is
 * `app.securityHeaders`, for the answers written without a Fastify reply.
 * Every /v1 answer is `Cache-Control: no-store`.
 */
export default fp(
  async (app) => {
    const options = helmetOptions(app.config.NODE_ENV === 'production');
    app.decorate('securityHeaders', await securityHeaderSet(options));
    await app.register(helmet, options);
    // Balances, transfers and audit rows are a caller's own: no shared cache (proxy, CDN, browser
    // history) may keep them. Every /v1 answer, problems included.
    app.addHook('onSend', async (request, reply) => {
      if (request.url.startsWith('/v1/') || request.url === '/v1') reply.header('cache-control', 'no-store');
    });
  },
  { name: 'security-headers', fastify: '5.x', decorators: { fastify: ['config'] } },
);
