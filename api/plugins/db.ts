import fp from 'fastify-plugin';
import { createShardSet, SchemaNotCurrent, type ShardSet } from '../../db/shards';
import type { Store } from '../../db/store';
import { connectWithRetry } from '../../observability/dependency-retry';
import { ApiError } from '../errors';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Every database (db/shards.ts): pick a wallet's, an owner's or a transfer's with forWallet /
     * forOwner / forTransfer and pass its `store` to domain/ functions.
     */
    shards: ShardSet;
    /** Database 0's Store (`shards.home.store`): the service-wide tables only, never a wallet's rows. */
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
    const shards = createShardSet(app.config, { poolMax: app.config.DB_POOL_MAX, applicationName: 'wallet-api' });
    app.decorate('shards', shards);
    app.decorate('db', shards.home.store);

    const closing = new AbortController();
    let firstAttemptFailed!: () => void;
    const firstFailure = new Promise<undefined>((resolve) => (firstAttemptFailed = () => resolve(undefined)));
    const connected = connectWithRetry(
      // an attempt under way when the app closes fails on the ended pool (and the retry loop stops)
      () => shards.connect(),
      {
        dependency: 'postgres',
        // a database that does not exist or lacks migrations: the API refuses to start (one line)
        isFatal: (err) => err instanceof SchemaNotCurrent,
        logger: app.log,
        maxDelayMs: app.config.DEPENDENCY_RETRY_MAX_SECONDS * 1000,
        signal: closing.signal,
        onFailedAttempt: (attempt) => attempt === 1 && firstAttemptFailed(),
      },
    ).then(
      () => undefined,
      // StartupAborted (the app closed while it waited) ends quietly; a schema that is not current is fatal
      (err: unknown) => (err instanceof SchemaNotCurrent ? err : undefined),
    );
    const fatal = await Promise.race([connected, firstFailure]);
    if (fatal) throw fatal;

    app.addHook('preHandler', async (request) => {
      if (!shards.connected && request.url.startsWith('/v1/')) {
        throw new ApiError('SERVICE_UNAVAILABLE', 'a dependency is unavailable; retry later');
      }
    });
    app.addHook('onClose', async () => {
      closing.abort();
      await shards.close();
    });
  },
  { name: 'db', fastify: '5.x', decorators: { fastify: ['config'] } },
);
