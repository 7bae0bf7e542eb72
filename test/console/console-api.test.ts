import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { transferIdFor, workflowIdFor } from '../../domain/ids';
import { applyStateChange, recordTransfer } from '../../domain/transfers/records';
import { consoleAssetsDir } from '../../api/routes/console';
import { ADMIN, customer, FINANCE, OPS, startApp, uniqueKey } from '../api/helpers';
import { authHeaders } from '../support/auth';
import { ownDatabase } from '../support/env';
import { createWalletAs } from '../security/fixtures';

interface TransferJson {
  id: string;
  status: string;
  currency: string;
  failure: { step: string | null; code: string; reason: string } | null;
  parked: { step: string | null; since: string; deadline: string } | null;
  updatedAt: string;
}

/**
 * What the finance console needs from the API (the browser tests are test/console/console.test.ts):
 * its static files under a strict CSP, GET /v1/me, the currency and failed-step filters of the
 * transfer list and the `parked` facts of a parked transfer. The parked rows are written directly
 * (no saga runs), in a database of its own so that no other suite sees a parked row without its hold.
 */
describe('finance console: the API side', () => {
  const database = ownDatabase('console_api');
  const PARK_DEADLINE_SECONDS = 7200;
  let app: FastifyInstance;

  beforeAll(async () => {
    await database.create();
    app = await startApp({
      ...database.overrides,
      TEMPORAL_UI_URL: 'http://temporal-ui.example:8233/',
      TRANSFER_PARK_DEADLINE_SECONDS: String(PARK_DEADLINE_SECONDS),
    });
  });
  afterAll(async () => {
    await app?.close();
    await database.drop();
  });

  describe('GET /console', () => {
    it('redirects /console to /console/ and serves the page under a strict Content-Security-Policy', async () => {
      const bare = await app.inject({ method: 'GET', url: '/console' });
      expect(bare.statusCode).toBeGreaterThanOrEqual(301);
      expect(bare.statusCode).toBeLessThanOrEqual(308);
      expect(bare.headers.location).toBe('/console/');

      const page = await app.inject({ method: 'GET', url: '/console/' });
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      const csp = String(page.headers['content-security-policy']);
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(page.headers['x-content-type-options']).toBe('nosniff');
      expect(page.headers['cache-control']).toBe('no-cache');
      expect(page.payload).toContain('<script type="module" src="app.mjs"></script>');

      const script = await app.inject({ method: 'GET', url: '/console/app.mjs' });
      expect(script.statusCode).toBe(200);
      expect(script.headers['content-type']).toMatch(/^(text|application)\/javascript/);
      expect(script.headers['content-security-policy']).toBe(csp);
    });

    it('serves only the console’s own files: nothing else, no directory listing, no way out of the folder', async () => {
      for (const url of [
        '/console/nope.mjs',
        '/console/%2e%2e/package.json',
        '/console/..%2fpackage.json',
        '/console/.env',
        '/console/public/',
      ]) {
        const res = await app.inject({ method: 'GET', url });
        expect([url, res.statusCode >= 400 && res.statusCode < 500, res.payload.includes('"dependencies"')]).toEqual([
          url,
          true,
          false,
        ]);
      }
    });

    it('holds no inline script or style, no event-handler attribute, and no third-party asset', () => {
      const dir = consoleAssetsDir();
      const files = fs.readdirSync(dir);
      expect(files).toEqual(
        expect.arrayContaining(['index.html', 'app.mjs', 'api.mjs', 'dom.mjs', 'format.mjs', 'console.css']),
      );
      const html = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // every script is a file
      expect(html).not.toMatch(/<style\b/);
      expect(html).not.toMatch(/\sstyle=/);
      expect(html).not.toMatch(/\son[a-z]+=/i);
      for (const file of files) {
        const text = fs.readFileSync(path.join(dir, file), 'utf8');
        // the only absolute URL allowed is the SVG namespace; everything loads from this origin
        const urls = (text.match(/https?:\/\/[^\s"')]+/g) ?? []).filter((u) => u !== 'http://www.w3.org/2000/svg');
        expect([file, urls]).toEqual([file, []]);
        if (file.endsWith('.mjs')) {
          expect([file, /\.innerHTML\s*=|insertAdjacentHTML|document\.write|localStorage\./.test(text)]).toEqual([
            file,
            false,
          ]);
        }
      }
    });
  });

  describe('signing in and shipping', () => {
    const script = path.resolve(__dirname, '../../dist/scripts/token.js');
    // run asynchronously: a synchronous spawn would stall this process's event loop (and the app's)
    const token = async (...args: string[]) => {
      const env = { ...process.env, NODE_ENV: 'development' as const, HOST: '0.0.0.0', PORT: '3000' };
      try {
        const { stdout, stderr } = await promisify(execFile)(process.execPath, [script, ...args], {
          encoding: 'utf8',
          env,
        });
        return { status: 0, stdout, stderr };
      } catch (err) {
        const e = err as { code?: number; stdout?: string; stderr?: string };
        return { status: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
      }
    };

    it('npm run token -- --console prints a sign-in URL whose #fragment carries a token the API accepts', async () => {
      const out = await token('--sub', 'fiona', '--role', 'finance', '--console');
      expect([out.status, out.stderr]).toEqual([0, '']);
      const match = /^http:\/\/127\.0\.0\.1:3000\/console\/#token=([A-Za-z0-9._-]+)\n$/.exec(out.stdout);
      expect(match).not.toBeNull();
      const me = await app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${match![1]}` } });
      expect(me.json()).toMatchObject({ sub: 'fiona', roles: ['finance'] });

      const elsewhere = await token(
        '--sub',
        'carla',
        '--role',
        'customer',
        '--console',
        '--url',
        'https://wallet.example/',
      );
      expect(elsewhere.stdout).toMatch(/^https:\/\/wallet\.example\/console\/#token=/);
      expect(elsewhere.stderr).toContain('the console is for ops, finance and admin');
      expect((await token('--sub', 'fiona', '--role', 'finance', '--url', 'https://wallet.example')).status).toBe(2);
    });

    it('ships the console’s files in the Docker image, beside dist/ where the API looks for them', () => {
      const dockerfile = fs.readFileSync(path.resolve(__dirname, '../../Dockerfile'), 'utf8');
      const runtime = dockerfile.split(/^FROM /m).pop()!;
      expect(runtime).toMatch(/^COPY --from=build \/app\/api\/console\/public \.\/api\/console\/public$/m);
      // the API finds the folder from the build's location as well as from the sources'
      const fromDist = path.resolve(__dirname, '../../dist/api/routes');
      expect(consoleAssetsDir(fromDist)).toBe(consoleAssetsDir());
    });
  });

  describe('GET /v1/me', () => {
    it('tells staff who they are and where the Temporal UI shows their workflows', async () => {
      const res = await app.inject({ method: 'GET', url: '/v1/me', headers: authHeaders(FINANCE) });
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.json()).toEqual({
        sub: FINANCE.sub,
        roles: ['finance'],
        temporalUiWorkflowsUrl: 'http://temporal-ui.example:8233/namespaces/default/workflows',
      });
      const several = await app.inject({
        method: 'GET',
        url: '/v1/me',
        headers: authHeaders({ sub: 'ops-and-admin', roles: ['ops', 'admin'] }),
      });
      expect(several.json()).toMatchObject({ sub: 'ops-and-admin', roles: ['ops', 'admin'] });
    });

    it('answers a customer with its roles and no Temporal link, and refuses a caller without a valid token', async () => {
      const res = await app.inject({ method: 'GET', url: '/v1/me', headers: authHeaders(customer('carla')) });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ sub: 'carla', roles: ['customer'], temporalUiWorkflowsUrl: null });
      const anonymous = await app.inject({ method: 'GET', url: '/v1/me' });
      expect([anonymous.statusCode, anonymous.json<{ code: string }>().code]).toEqual([401, 'UNAUTHENTICATED']);
    });
  });

  describe('GET /v1/transfers for the parked list', () => {
    const ids: Record<string, string> = {};

    /** A transfer row as the saga leaves it when `step` spent its budget (no saga: only the row). */
    async function parkedRow(
      from: string,
      to: string,
      currency: string,
      step: 'reserve' | 'accounting' | 'ledger',
      reason: string,
    ) {
      const key = uniqueKey('parked');
      const id = transferIdFor('console-test', key);
      await recordTransfer(app.db, {
        id,
        callerId: 'console-test',
        idempotencyKey: key,
        requestHash: key,
        fromWalletId: from,
        toWalletId: to,
        amount: 1234n,
        currency,
        workflowId: workflowIdFor(id),
      });
      await applyStateChange(app.db.sql, {
        transferId: id,
        status: 'NEEDS_ATTENTION',
        step,
        stepState: 'failed',
        failure: { step, code: 'STEP_RETRIES_EXHAUSTED', reason },
      });
      return id;
    }

    beforeAll(async () => {
      const alice = customer(uniqueKey('alice'));
      const bob = customer(uniqueKey('bob'));
      const [ea, eb, ua, ub] = [
        await createWalletAs(app, alice, 'EUR'),
        await createWalletAs(app, bob, 'EUR'),
        await createWalletAs(app, alice, 'USD'),
        await createWalletAs(app, bob, 'USD'),
      ];
      ids.eurAccounting = await parkedRow(ea.id, eb.id, 'EUR', 'accounting', 'accounting system unavailable');
      ids.eurLedger = await parkedRow(ea.id, eb.id, 'EUR', 'ledger', 'ledger timeout');
      ids.usdAccounting = await parkedRow(ua.id, ub.id, 'USD', 'accounting', 'accounting system unavailable');
    });

    const list = async (query: Record<string, string>) => {
      const res = await app.inject({
        method: 'GET',
        url: '/v1/transfers',
        query: { status: 'NEEDS_ATTENTION', ...query },
        headers: authHeaders(OPS),
      });
      expect(res.statusCode).toBe(200);
      return res.json<{ items: TransferJson[] }>().items.map((t) => t.id);
    };

    it('filters by currency and by failed step, newest first', async () => {
      expect(await list({})).toEqual([ids.usdAccounting, ids.eurLedger, ids.eurAccounting]);
      expect(await list({ currency: 'EUR' })).toEqual([ids.eurLedger, ids.eurAccounting]);
      expect(await list({ failedStep: 'accounting' })).toEqual([ids.usdAccounting, ids.eurAccounting]);
      expect(await list({ currency: 'EUR', failedStep: 'accounting' })).toEqual([ids.eurAccounting]);
      expect(await list({ currency: 'JPY' })).toEqual([]);
    });

    it('refuses a malformed filter (400) instead of ignoring it', async () => {
      for (const query of [{ currency: 'eur' }, { currency: 'EURO' }, { failedStep: 'nope' }] as Array<
        Record<string, string>
      >) {
        const res = await app.inject({ method: 'GET', url: '/v1/transfers', query, headers: authHeaders(OPS) });
        expect([query, res.statusCode]).toEqual([query, 400]);
      }
    });

    it('says what is parked, since when and until when (the deadline: since + TRANSFER_PARK_DEADLINE_SECONDS)', async () => {
      const res = await app.inject({
        method: 'GET',
        url: `/v1/transfers/${ids.eurAccounting}`,
        headers: authHeaders(ADMIN),
      });
      expect(res.statusCode).toBe(200);
      const t = res.json<TransferJson>();
      expect(t).toMatchObject({
        status: 'NEEDS_ATTENTION',
        failure: { step: 'accounting', code: 'STEP_RETRIES_EXHAUSTED', reason: 'accounting system unavailable' },
        parked: { step: 'accounting', since: t.updatedAt },
      });
      expect(Date.parse(t.parked!.deadline) - Date.parse(t.parked!.since)).toBe(PARK_DEADLINE_SECONDS * 1000);
    });

    it('shows `parked: null` once the transfer is no longer parked', async () => {
      await applyStateChange(app.db.sql, { transferId: ids.usdAccounting!, status: 'COMPENSATING' });
      const res = await app.inject({
        method: 'GET',
        url: `/v1/transfers/${ids.usdAccounting}`,
        headers: authHeaders(ADMIN),
      });
      expect(res.json<TransferJson>()).toMatchObject({ status: 'COMPENSATING', parked: null });
      expect(await list({ currency: 'USD' })).toEqual([]);
    });
  });
});
