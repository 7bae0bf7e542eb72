import net, { type AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createStore, type Store } from '../../db/store';
import { workerReadiness } from '../../worker/http-server';
import { testConfig } from '../support/env';
import { startApp } from './helpers';

/**
 * A Postgres that stops answering without closing anything (a network black hole, a frozen server):
 * a TCP proxy that, once frozen, swallows every byte in both directions.
 */
class FreezableProxy {
  frozen = false;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(target: URL) {
    const port = Number(target.port || 5432);
    this.server = net.createServer((client) => {
      const upstream = net.connect(port, target.hostname);
      for (const [from, to] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        this.sockets.add(from);
        from.on('data', (chunk) => this.frozen || to.write(chunk));
        from.on('error', () => to.destroy());
        from.on('close', () => {
          this.sockets.delete(from);
          to.destroy();
        });
      }
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe('readiness checks bounded by the drivers', () => {
  let proxy: FreezableProxy;
  let proxiedUrl: string;

  beforeAll(async () => {
    const url = new URL(testConfig().DATABASE_URL);
    proxy = new FreezableProxy(new URL(url)); // a copy: `url` becomes the proxied one below
    url.hostname = '127.0.0.1';
    url.port = String(await proxy.listen());
    proxiedUrl = url.toString();
  });
  afterEach(() => {
    proxy.frozen = false;
  });
  afterAll(async () => {
    await proxy.stop();
  });

  describe('Store.ping', () => {
    let ds: Store;
    const connections = () => ds.poolStats().total;

    beforeAll(async () => {
      ds = createStore({ url: proxiedUrl, poolMax: 2, applicationName: 'wallet-test-ping' });
      await ds.connect();
    });
    afterAll(async () => {
      await ds.close();
    });

    it('fails after query_timeout on a Postgres that stopped answering, and drops that connection', async () => {
      await ds.ping(1000);
      expect(connections()).toBeGreaterThan(0);
      const open = connections();

      proxy.frozen = true;
      const started = Date.now();
      await expect(ds.ping(300)).rejects.toThrow(/Query read timeout/);
      expect(Date.now() - started).toBeLessThan(2000);
      // released with the error: pg-pool removed the connection instead of reusing a hung one
      expect(connections()).toBe(open - 1);

      proxy.frozen = false;
      await ds.ping(1000); // a fresh connection answers again
    });

    it("answers the worker's readiness with the Postgres check failed, within its budget", async () => {
      await ds.ping(1000);
      proxy.frozen = true;
      const started = Date.now();
      const readiness = await workerReadiness({ worker: () => undefined, connection: () => undefined, db: ds })();
      expect(Date.now() - started).toBeLessThan(3000);
      expect(readiness.status).toBe('unavailable');
      expect(readiness.checks.postgres).toMatch(/^unreachable: Query read timeout/);
    });
  });

  describe('API GET /health/ready', () => {
    let app: FastifyInstance;

    beforeAll(async () => {
      app = await startApp({ DATABASE_URL: proxiedUrl });
    });
    afterAll(async () => {
      proxy.frozen = false;
      await app.close();
    });

    it('answers 503 naming postgres promptly when Postgres stops answering, and 200 once it answers again', async () => {
      expect((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
      proxy.frozen = true;
      const started = Date.now();
      const res = await app.inject({ method: 'GET', url: '/health/ready' });
      expect(Date.now() - started).toBeLessThan(3000);
      expect(res.statusCode).toBe(503);
      expect(res.json<{ checks: Record<string, string> }>().checks).toEqual({
        postgres: expect.stringMatching(/^unreachable: Query read timeout/),
        redis: 'ok',
        temporal: 'ok',
      });
      proxy.frozen = false;
      expect((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
    });
  });
});
