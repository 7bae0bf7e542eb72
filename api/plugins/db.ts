import fp from 'fastify-plugin';
import type { DataSource } from 'typeorm';
import { createDataSource } from '../../db/data-source';

declare module 'fastify' {
  interface FastifyInstance {
    /** The ledger's TypeORM DataSource (one pool per process). */
    db: DataSource;
  }
}

/** Postgres is the source of truth: the API does not start without it (unlike Redis and Temporal). */
export default fp(
  async (app) => {
    const ds = createDataSource({
      url: app.config.DATABASE_URL,
      poolMax: app.config.DB_POOL_MAX,
      applicationName: 'wallet-api',
    });
    await ds.initialize();
    app.decorate('db', ds);
    app.addHook('onClose', async () => {
      if (ds.isInitialized) await ds.destroy();
    });
  },
  { name: 'db', fastify: '5.x', decorators: { fastify: ['config'] } },
);
