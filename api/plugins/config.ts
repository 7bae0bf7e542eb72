import fp from 'fastify-plugin';
import type { Config } from '../../config';

declare module 'fastify' {
  interface FastifyInstance {
    /** The validated configuration (config/index.ts), loaded once at boot. */
    config: Config;
  }
}

/** Makes the boot-time config available to every plugin and route as `app.config`. */
export default fp<{ config: Config }>(
  async (app, opts) => {
    app.decorate('config', opts.config);
  },
  { name: 'config', fastify: '5.x' },
);
