import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../config';
import { testConfig } from '../support/env';
import { bearer } from '../support/auth';
import { ADMIN, expectProblem, startApp } from './helpers';

/** Waits (10 s at most) until the app's load sampler says what we want. */
async function until(app: FastifyInstance, underPressure: boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (app.isUnderPressure() !== underPressure) {
    if (Date.now() > deadline) throw new Error(`isUnderPressure() stayed ${String(!underPressure)}`);
    await sleep(5);
  }
}

describe('load shedding (@fastify/under-pressure)', () => {
  it('has generous defaults: event-loop delay 1 s in production, off in development and test; no memory limits', async () => {
    const production = loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'a-production-secret-of-at-least-32-chars' });
    expect(production.UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY_MS).toBe(1000);
    expect(production.UNDER_PRESSURE_MAX_HEAP_USED_BYTES).toBe(0);
    expect(production.UNDER_PRESSURE_MAX_RSS_BYTES).toBe(0);
    expect(loadConfig({ NODE_ENV: 'development' }).UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY_MS).toBe(0);
    expect(
      loadConfig({ NODE_ENV: 'development', UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '250' })
        .UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY_MS,
    ).toBe(250);
    expect(testConfig().UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY_MS).toBe(0);
  });

  describe('past a memory limit', () => {
    let app: FastifyInstance;

    beforeAll(async () => {
      // any heap is too much: under pressure from the first sample on
      app = await startApp({
        UNDER_PRESSURE_MAX_HEAP_USED_BYTES: '1',
        UNDER_PRESSURE_SAMPLE_INTERVAL_MS: '10',
        UNDER_PRESSURE_RETRY_AFTER_SECONDS: '7',
      });
      await until(app, true);
    });
    afterAll(async () => {
      await app.close();
    });

    it('answers every API route 503 SERVICE_UNAVAILABLE as a problem, with Retry-After', async () => {
      const res = await app.inject({
        method: 'GET',
        url: '/v1/wallets?limit=1',
        headers: { authorization: bearer(ADMIN) },
      });
      const body = expectProblem(res, 503, 'SERVICE_UNAVAILABLE') as {
        detail: string;
        instance?: string;
        requestId?: string;
      };
      expect(res.headers['retry-after']).toBe('7');
      expect(body.detail).toMatch(/overloaded/);
      expect(body.instance).toBe('/v1/wallets');
      expect(body.requestId).toBe(res.headers['x-request-id']);
      expect(res.headers['x-content-type-options']).toBe('nosniff'); // security headers still on it
    });

    it('sheds before authentication: no token verification, no 401', async () => {
      const res = await app.inject({ method: 'POST', url: '/v1/wallets', payload: { currency: 'EUR' } });
      expectProblem(res, 503, 'SERVICE_UNAVAILABLE');
    });

    it('takes the pod out of the load balancer: /health/ready is 503 too', async () => {
      const res = await app.inject({ method: 'GET', url: '/health/ready' });
      expectProblem(res, 503, 'SERVICE_UNAVAILABLE');
      expect(res.headers['retry-after']).toBe('7');
    });

    it('stays live and keeps its metrics visible', async () => {
      const live = await app.inject({ method: 'GET', url: '/health/live' });
      expect([live.statusCode, live.json()]).toEqual([200, { status: 'ok' }]);
      expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
    });
  });

  it('sheds while the event loop lags and serves again once it catches up', async () => {
    // The sampler compares the mean event-loop delay since its last sample with the limit; one long
    // block is one long delay among the short ones before it. So: block for a second, let the overdue
    // sampler run, ask; again until the answer is the 503 (a few rounds at most), on any machine.
    const app = await startApp({
      UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '300',
      UNDER_PRESSURE_SAMPLE_INTERVAL_MS: '100',
    });
    const ready = () => app.inject({ method: 'GET', url: '/health/ready' });
    try {
      await until(app, false);
      let shed: Awaited<ReturnType<typeof ready>> | undefined;
      for (let round = 0; round < 10 && !shed; round++) {
        const blockedUntil = Date.now() + 1000;
        while (Date.now() < blockedUntil) {
          // a handler hogging the CPU: every timer of the process is late
        }
        await new Promise((resolve) => setImmediate(resolve)); // the timers (the sampler) run first
        const res = await ready();
        if (res.statusCode === 503) shed = res;
      }
      expect(shed).toBeDefined();
      expectProblem(shed!, 503, 'SERVICE_UNAVAILABLE');
      expect(shed!.headers['retry-after']).toBeDefined();
      // once it catches up, the same route is served again
      await until(app, false);
      let served = 0;
      for (let round = 0; round < 50 && served !== 200; round++) {
        served = (await ready()).statusCode;
        if (served !== 200) await sleep(200);
      }
      expect(served).toBe(200);
    } finally {
      await app.close();
    }
  });
});
