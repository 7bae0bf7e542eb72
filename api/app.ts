import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from '../config';
import { loggerOptions } from '../observability/logger';
import type { Tracing } from '../observability/tracing';
import caller from './plugins/caller';
import config from './plugins/config';
import db from './plugins/db';
import errors, { clientErrorHandler, replyToFrameworkError } from './plugins/errors';
import hostHeader from './plugins/host-header';
import idempotency from './plugins/idempotency';
import metrics from './plugins/metrics';
import rateLimit from './plugins/rate-limit';
import securityHeaders from './plugins/security-headers';
import redis from './plugins/redis';
import swagger from './plugins/swagger';
import temporal from './plugins/temporal';
import tracing from './plugins/tracing';
import underPressure from './plugins/under-pressure';
import auditRoutes from './routes/audit';
import consoleRoutes from './routes/console';
import depositRoutes from './routes/deposits';
import healthRoutes from './routes/health';
import meRoutes from './routes/me';
import reconciliationRoutes from './routes/reconciliation';
import transferRoutes from './routes/transfers';
import walletStatusRoutes from './routes/wallet-status';
import walletRoutes from './routes/wallets';
import { validatorCompiler } from './validation';

export interface BuildAppOptions {
  config: Config;
  /** Fastify `logger` option: false in tests; defaults to pino at LOG_LEVEL (observability/logger.ts). */
  logger?: boolean | object;
  /** OpenTelemetry (observability/tracing.ts startTracing); off when omitted. */
  tracing?: Tracing;
}

/** The API's bodies are a few fields; anything bigger is refused before parsing (413). */
const BODY_LIMIT_BYTES = 16 * 1024;

/** Every request's id: its X-Request-Id header, its problems' requestId, every log line of it. */
const newRequestId = (): string => randomUUID();

/**
 * Node's HTTP server settings. A request must arrive whole within HTTP_REQUEST_TIMEOUT_MS (headers
 * included: Node's headersTimeout, 60 s by default, gets the same bound), else Node raises
 * ERR_HTTP_REQUEST_TIMEOUT and clientErrorHandler answers 408. Node looks for such requests every
 * connectionsCheckingInterval (30 s by default, which could double a 30 s timeout): here a quarter
 * of the timeout, at most a second. Node's own Host check is off: the host-header plugin answers a
 * request without Host with a problem document instead of Node's bare 400.
 */
function httpServerOptions(config: Config) {
  const timeout = config.HTTP_REQUEST_TIMEOUT_MS;
  return {
    requestTimeout: timeout,
    http: {
      requestTimeout: timeout,
      headersTimeout: timeout,
      connectionsCheckingInterval: Math.min(1000, Math.ceil(timeout / 4)),
      requireHostHeader: false,
    },
  };
}

/**
 * Builds the API, ready to serve (plugins loaded, routes compiled). Infrastructure plugins are
 * registered before the routes that use their decorators; errors first so it covers everything.
 */
export async function buildApp(opts: BuildAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? loggerOptions(opts.config, 'wallet-api'),
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: newRequestId,
    frameworkErrors: replyToFrameworkError, // e.g. an undecodable URL: a problem like every other error
    // what Node's HTTP parser refuses (URL or headers too large, unknown method): a problem too, same id and headers
    clientErrorHandler: clientErrorHandler(newRequestId),
    ...httpServerOptions(opts.config), // keepAliveTimeout stays Fastify's 72 s: longer than a load balancer's idle 60 s
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler); // strict bodies, coerced params/querystring/headers

  // Only JSON bodies: without this, text/plain would be parsed as a string and reach validation.
  app.removeContentTypeParser('text/plain');

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id); // the id every log line of this request carries
  });

  await app.register(errors);
  await app.register(config, { config: opts.config });
  await app.register(securityHeaders); // helmet: on every answer, errors included
  await app.register(hostHeader); // RFC 9112 §3.2: exactly one valid Host (HTTP/1.1), before any other work
  await app.register(underPressure); // load shedding: a 503 before authentication or any I/O
  await app.register(tracing, { tracing: opts.tracing }); // before temporal (its client interceptor)
  await app.register(caller);
  await app.register(db);
  await app.register(metrics); // GET /metrics; per-request metrics for every route
  await app.register(redis);
  await app.register(temporal);
  await app.register(rateLimit); // after caller (key = the verified caller) and redis (its store)
  await app.register(idempotency);
  await app.register(swagger);

  await app.register(healthRoutes);
  await app.register(walletRoutes);
  await app.register(depositRoutes);
  await app.register(walletStatusRoutes);
  await app.register(transferRoutes);
  await app.register(auditRoutes);
  await app.register(reconciliationRoutes);
  await app.register(meRoutes);
  await app.register(consoleRoutes); // GET /console: the finance console (static files)

  try {
    await app.ready();
  } catch (err) {
    await app.close().catch(() => undefined); // release whatever did start (pools, sockets)
    throw err;
  }
  return app;
}
