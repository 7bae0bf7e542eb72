import fp from 'fastify-plugin';
import { createStore, type Store } from '../../db/store';
import { connectWithRetry } from '../../observability/dependency-retry';
import { ApiError } from '../errors';

declare module 'fastify' {
  interface FastifyInstance {
    /** The ledger's Store (one pool per process): pass it to domain/ functions; not connected while Postgres has never answered. */
    db: Store;
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
    const store = createStore({
      url: app.config.DATABASE_URL,
      poolMax: app.config.DB_POOL_MAX,
      applicationName: 'wallet-api',
    });
    app.decorate('db', store);

    const closing = new AbortController();
    let firstAttemptFailed!: () => void;
    const firstFailure = new Promise<void>((resolve) => (firstAttemptFailed = resolve));
    const connected = connectWithRetry(
      // an attempt under way when the app closes fails on the ended pool (and the retry loop stops)
      () => store.connect(),
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
      if (!store.connected && request.url.startsWith('/v1/')) {
        throw new ApiError('SERVICE_UNAVAILABLE', 'a dependency is unavailable; retry later');
      }
    });
    app.addHook('onClose', async () => {
      closing.abort();
      await store.close();
    });
  },
  { name: 'db', fastify: '5.x', decorators: { fastify: ['config'] } },
);
