import type { FastifyInstance } from 'fastify';
import { closedPort, startApp } from './helpers';

describe('health', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(async () => {
    await app.close();
  });

  it('is live', async () => {
    const res = await app.inject({ method: 'GET', url: '/health/live' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('is ready when Postgres, Redis and Temporal answer, and reports every database', async () => {
    const res = await app.inject({ method: 'GET', url: '/health/ready' });
    const databases = Object.fromEntries(app.shards.all.map((db) => [db.name, 'ok']));
    expect(res.json()).toEqual({ status: 'ok', checks: { postgres: 'ok', redis: 'ok', temporal: 'ok' }, databases });
    expect(Object.keys(databases)).toContain('db-0');
    expect(res.statusCode).toBe(200);
  });

  describe('with Redis unreachable', () => {
    let degraded: FastifyInstance;

    beforeAll(async () => {
      // boots anyway: Redis is optional at start-up
      degraded = await startApp({ REDIS_URL: `redis://127.0.0.1:${await closedPort()}` });
    });
    afterAll(async () => {
      await degraded.close();
    });

    it('answers 503 naming redis, promptly', async () => {
      const started = Date.now();
      const res = await degraded.inject({ method: 'GET', url: '/health/ready' });
      const elapsed = Date.now() - started;

      expect(res.statusCode).toBe(503);
      const body = res.json<{ status: string; checks: Record<string, string> }>();
      expect(body.status).toBe('unavailable');
      expect(body.checks).toEqual({ postgres: 'ok', temporal: 'ok', redis: expect.stringMatching(/^unreachable: .+/) });
      expect(elapsed).toBeLessThan(3000);
    });

    it('stays live', async () => {
      const res = await degraded.inject({ method: 'GET', url: '/health/live' });
      expect(res.statusCode).toBe(200);
    });
  });

  describe('with Temporal unreachable', () => {
    let degraded: FastifyInstance;

    beforeAll(async () => {
      // boots anyway: the Temporal connection is lazy
      degraded = await startApp({ TEMPORAL_ADDRESS: `127.0.0.1:${await closedPort()}` });
    });
    afterAll(async () => {
      await degraded.close();
    });

    it('answers 503 naming temporal, within its check timeout', async () => {
      const started = Date.now();
      const res = await degraded.inject({ method: 'GET', url: '/health/ready' });
      const elapsed = Date.now() - started;

      expect(res.statusCode).toBe(503);
      const body = res.json<{ checks: Record<string, string> }>();
      expect(body.checks).toEqual({ postgres: 'ok', redis: 'ok', temporal: expect.stringMatching(/^unreachable: .+/) });
      expect(elapsed).toBeLessThan(3000);
    });
  });
});
