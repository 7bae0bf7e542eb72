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
 * JSON warn line per failed attempt). While database 0 has never answered, /health/live answers 200,
 * /health/ready 503, and every /v1 route 503 SERVICE_UNAVAILABLE.
 */
export default fp(
  async (app) => {
    const shards = createShardSet(app.config, { poolMax: app.config.DB_POOL_MAX, applicationName: 'wallet-api' });
    app.decorate('shards', shards);
    app.decorate('db', shards.home.store);

    // Every database on its own: the first attempt of each is awaited (a healthy stack is connected
    // when the app is ready); one that fails keeps being tried in the background. Database 0 gates the
    // /v1 routes; a wallet shard down at start-up answers 503 SHARD_UNAVAILABLE for what needs it
    // only (its breaker), like an outage later. A database missing or behind on its migrations stops
    // the API when found at start-up; found later, its statements are refused (ShardDatabase.refusal).
    const closing = new AbortController();
    const firstAttempts = shards.all.map((db) => {
      let firstAttemptFailed!: () => void;
      const firstFailure = new Promise<undefined>((resolve) => (firstAttemptFailed = () => resolve(undefined)));
      const connected = connectWithRetry(
        // an attempt under way when the app closes fails on the ended pool (and the retry loop stops)
        () => shards.connectOne(db),
        {
          dependency: db === shards.home ? 'postgres' : `postgres ${db.name}`,
          isFatal: (err) => err instanceof SchemaNotCurrent,
          logger: app.log,
          maxDelayMs: app.config.DEPENDENCY_RETRY_MAX_SECONDS * 1000,
          signal: closing.signal,
          onFailedAttempt: (attempt) => attempt === 1 && firstAttemptFailed(),
        },
      ).then(
        () => undefined,
        // StartupAborted (the app closed while it waited) ends quietly; a schema that is not current is reported
        (err: unknown) => {
          if (!(err instanceof SchemaNotCurrent)) return undefined;
          app.log.error({ dependency: `postgres ${db.name}` }, err.message);
          return err;
        },
      );
      return Promise.race([connected, firstFailure]);
    });
    const fatal = (await Promise.all(firstAttempts)).find((err) => err !== undefined);
    if (fatal) {
      closing.abort();
      await shards.close();
      throw fatal;
    }

    app.addHook('preHandler', async (request) => {
      if (!shards.home.store.connected && request.url.startsWith('/v1/')) {
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
