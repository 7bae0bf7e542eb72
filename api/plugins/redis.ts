import fp from 'fastify-plugin';
import { Redis } from 'ioredis';

declare module 'fastify' {
  interface FastifyInstance {
    /** Cache and fast paths only: every caller must survive it failing (Postgres is the truth). */
    redis: Redis;
  }
}

/**
 * A Redis client that fails fast instead of queueing: with the offline queue off and one retry per
 * command, a dead Redis costs a request milliseconds, not a hang. The client keeps reconnecting in
 * the background, so the API boots and serves while Redis is down and recovers when it returns.
 */
export default fp(
  async (app) => {
    const redis = new Redis(app.config.REDIS_URL, {
      keyPrefix: app.config.REDIS_KEY_PREFIX,
      lazyConnect: true, // we call connect() ourselves, so a failure at boot is caught, not fatal
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 1000,
      commandTimeout: 1000,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    });

    // Log transitions, not every reconnect attempt, so an outage is a few lines, not a flood.
    let up = true;
    redis.on('error', (err: Error) => {
      if (up) app.log.warn({ dependency: 'redis', err }, 'redis unavailable; continuing without it');
      up = false;
    });
    redis.on('ready', () => {
      if (!up) app.log.info({ dependency: 'redis' }, 'redis available again');
      up = true;
    });
    // Wait for the first attempt (bounded by connectTimeout) so a healthy Redis is ready when the app
    // is; a failure is already reported by the 'error' listener and ioredis keeps retrying.
    await redis.connect().catch(() => undefined);

    app.decorate('redis', redis);
    app.addHook('onClose', async () => {
      if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
      else redis.disconnect();
    });
  },
  { name: 'redis', fastify: '5.x', decorators: { fastify: ['config'] } },
);
