import fp from 'fastify-plugin';
import type { DataSource } from 'typeorm';
import { createDataSource, initializeDataSource } from '../../db/data-source';
import { connectWithRetry } from '../../observability/dependency-retry';
import { ApiError } from '../errors';

declare module 'fastify' {
  interface FastifyInstance {
    /** The ledger's TypeORM DataSource (one pool per process); not initialized while Postgres has never answered. */
    db: DataSource;
  }
}

/**
 * Postgres is the source of truth, but its absence at start-up does not stop the API: the first
 * attempt is awaited (a healthy Postgres is connected when the app is ready); if it fails, the API
 * starts anyway and keeps trying in the background (backoff up to DEPENDENCY_RETRY_MAX_SECONDS, one
 * JSON warn line per failed attempt). Meanwhile /health/live answers 200, /health/ready 503, and
 * every /v1 route 503 SERVICE_UNAVAILABLE.
 */
export default fp(
  async (app) => {
    const ds = createDataSource({
      url: app.config.DATABASE_URL,
      poolMax: app.config.DB_POOL_MAX,
      applicationName: 'wallet-api',
    });
    app.decorate('db', ds);

    const closing = new AbortController();
    let firstAttemptFailed!: () => void;
    const firstFailure = new Promise<void>((resolve) => (firstAttemptFailed = resolve));
    const connected = connectWithRetry(
      async () => {
        await initializeDataSource(ds);
        // the app closed while this attempt was under way: nobody will destroy the pool but us
        if (closing.signal.aborted) await ds.destroy();
      },
      {
        dependency: 'postgres',
        logger: app.log,
        maxDelayMs: app.config.DEPENDENCY_RETRY_MAX_SECONDS * 1000,
        signal: closing.signal,
        onFailedAttempt: (attempt) => attempt === 1 && firstAttemptFailed(),
      },
    ).catch(() => undefined); // it only ever rejects with StartupAborted: the app closed while it waited
    await Promise.race([connected, firstFailure]);

    app.addHook('preHandler', async (request) => {
      if (!ds.isInitialized && request.url.startsWith('/v1/')) {
        throw new ApiError('SERVICE_UNAVAILABLE', 'a dependency is unavailable; retry later');
      }
    });
    app.addHook('onClose', async () => {
      closing.abort();
      if (ds.isInitialized) await ds.destroy();
    });
  },
  { name: 'db', fastify: '5.x', decorators: { fastify: ['config'] } },
);
