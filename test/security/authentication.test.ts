import { spawnSync } from 'node:child_process';
import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createSigner } from 'fast-jwt';
import { JwksKeySource, JwksUnavailableError, UnknownSigningKeyError } from '../../api/auth/jwks';
import { buildApp } from '../../api/app';
import {
  assertApiAuthConfig,
  ConfigError,
  DEV_ONLY_JWT_SECRET,
  loadConfig,
  PRODUCTION_RATE_LIMITS,
  RATE_LIMIT_DEV_DEFAULT,
} from '../../config';
import { ADMIN, closedPort, customer, startApp, uniqueKey } from '../api/helpers';
import { bearer, tokenFor } from '../support/auth';
import { testConfig } from '../support/env';
import { createWalletAs } from './fixtures';

const b64url = (value: object | string) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

/** A hand-made HS-signed token, for the shapes a signer library would refuse to produce. */
function craft(header: object, payload: object, secret: string, alg: 'sha256' | 'sha384' = 'sha256'): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${createHmac(alg, secret).update(input).digest('base64url')}`;
}

/** GET /v1/wallets/:id of a wallet the caller may see: 200 when the token is accepted. */
async function statusWith(app: FastifyInstance, walletId: string, authorization: string): Promise<number> {
  return (await app.inject({ method: 'GET', url: `/v1/wallets/${walletId}`, headers: { authorization } })).statusCode;
}

describe('authentication', () => {
  describe('with the HS256 secret', () => {
    let app: FastifyInstance;
    let walletId: string;
    const secret = testConfig().JWT_SECRET!; // JWT_SECRET of the run, else the development default
    const claims = () => ({ sub: ADMIN.sub, roles: ['admin'], iat: now(), exp: now() + 60 });

    beforeAll(async () => {
      app = await startApp();
      walletId = (await createWalletAs(app, customer(uniqueKey('auth')))).id;
      expect(app.config.JWT_SECRET).toBe(process.env.JWT_SECRET ?? DEV_ONLY_JWT_SECRET);
    });
    afterAll(async () => {
      await app.close();
    });

    const cases: Array<[string, () => string, number]> = [
      ['a valid token', () => `Bearer ${craft({ alg: 'HS256', typ: 'JWT' }, claims(), secret)}`, 200],
      ['the scheme in lower case (case-insensitive, RFC 7235)', () => `bearer ${tokenFor(ADMIN)}`, 200],
      ['a token without the Bearer scheme', () => tokenFor(ADMIN), 401],
      ['Basic credentials', () => `Basic ${Buffer.from('admin:admin').toString('base64')}`, 401],
      ['alg none', () => `Bearer ${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims())}.`, 401],
      [
        'HS384 with the right secret',
        () => `Bearer ${craft({ alg: 'HS384', typ: 'JWT' }, claims(), secret, 'sha384')}`,
        401,
      ],
      ['no exp', () => `Bearer ${craft({ alg: 'HS256' }, { sub: ADMIN.sub, roles: ['admin'] }, secret)}`, 401],
      ['no sub', () => `Bearer ${craft({ alg: 'HS256' }, { ...claims(), sub: undefined }, secret)}`, 401],
      ['an empty sub', () => `Bearer ${craft({ alg: 'HS256' }, { ...claims(), sub: '' }, secret)}`, 401],
      ['a numeric sub', () => `Bearer ${craft({ alg: 'HS256' }, { ...claims(), sub: 42 }, secret)}`, 401],
      [
        'a sub with a control character',
        () => `Bearer ${craft({ alg: 'HS256' }, { ...claims(), sub: 'a\u0000b' }, secret)}`,
        401,
      ],
      [
        'a sub of 129 characters',
        () => `Bearer ${craft({ alg: 'HS256' }, { ...claims(), sub: 's'.repeat(129) }, secret)}`,
        401,
      ],
      ['roles as a string', () => `Bearer ${craft({ alg: 'HS256' }, { ...claims(), roles: 'admin' }, secret)}`, 401],
      [
        'only unknown roles',
        () => `Bearer ${craft({ alg: 'HS256' }, { ...claims(), roles: ['root', 'superuser'] }, secret)}`,
        401,
      ],
      [
        'a known role among unknown ones',
        () => `Bearer ${craft({ alg: 'HS256' }, { ...claims(), roles: ['root', 'ops'] }, secret)}`,
        200,
      ],
      [
        'a token not yet valid (nbf in 10 minutes)',
        () => `Bearer ${craft({ alg: 'HS256' }, { ...claims(), nbf: now() + 600 }, secret)}`,
        401,
      ],
      [
        'an expired token within the clock tolerance',
        () => `Bearer ${craft({ alg: 'HS256' }, { ...claims(), exp: now() - 1 }, secret)}`,
        200,
      ],
      [
        'a tampered payload',
        () => {
          const [h, , s] = tokenFor(customer('mallory')).split('.');
          return `Bearer ${h}.${b64url({ ...claims(), sub: 'mallory' })}.${s}`;
        },
        401,
      ],
    ];

    it.each(cases.map(([name, token, status]) => [`${name} → ${status}`, token, status] as const))(
      '%s',
      async (_name, authorization, status) => {
        expect(await statusWith(app, walletId, authorization())).toBe(status);
      },
    );

    it('says why, without details of the verification', async () => {
      const expired = await app.inject({
        method: 'GET',
        url: `/v1/wallets/${walletId}`,
        headers: { authorization: bearer({ ...ADMIN, ttlSeconds: -60 }) },
      });
      expect(expired.json()).toMatchObject({ code: 'UNAUTHENTICATED', detail: 'the token has expired' });
      expect(expired.headers['www-authenticate']).toBe('Bearer realm="wallet", error="invalid_token"');
      const missing = await app.inject({ method: 'GET', url: `/v1/wallets/${walletId}` });
      expect(missing.headers['www-authenticate']).toBe('Bearer realm="wallet"');
    });
  });

  describe('with issuer and audience configured', () => {
    let app: FastifyInstance;
    let walletId: string;

    beforeAll(async () => {
      app = await startApp({ JWT_ISSUER: 'https://id.wallet.example', JWT_AUDIENCE: 'wallet-api' });
      const token = craft(
        { alg: 'HS256' },
        { sub: 'iss-owner', roles: ['customer'], iss: 'https://id.wallet.example', aud: 'wallet-api', exp: now() + 60 },
        app.config.JWT_SECRET!,
      );
      const res = await app.inject({
        method: 'POST',
        url: '/v1/wallets',
        headers: { authorization: `Bearer ${token}` },
        payload: { currency: 'EUR' },
      });
      expect(res.statusCode).toBe(201);
      walletId = res.json<{ id: string }>().id;
    });
    afterAll(async () => {
      await app.close();
    });

    it('accepts only tokens naming them', async () => {
      const secret = app.config.JWT_SECRET!;
      const base = { sub: ADMIN.sub, roles: ['admin'], iat: now(), exp: now() + 60 };
      const withClaims = (extra: object) => `Bearer ${craft({ alg: 'HS256' }, { ...base, ...extra }, secret)}`;
      expect(await statusWith(app, walletId, bearer(ADMIN))).toBe(401); // no iss/aud (this run's testConfig() has none)
      expect(await statusWith(app, walletId, withClaims({ iss: 'https://id.wallet.example', aud: 'wallet-api' }))).toBe(
        200,
      );
      expect(await statusWith(app, walletId, withClaims({}))).toBe(401);
      expect(await statusWith(app, walletId, withClaims({ iss: 'https://evil.example', aud: 'wallet-api' }))).toBe(401);
      expect(await statusWith(app, walletId, withClaims({ iss: 'https://id.wallet.example', aud: 'other-api' }))).toBe(
        401,
      );
    });
  });

  describe('with a public key (RS256)', () => {
    let app: FastifyInstance;
    let walletId: string;
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const sign = (key: KeyObject, claims = { sub: ADMIN.sub, roles: ['admin'] }) =>
      createSigner({
        key: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
        algorithm: 'RS256',
        expiresIn: 60_000,
      })(claims);

    beforeAll(async () => {
      app = await startApp({ JWT_PUBLIC_KEY: publicPem });
      const res = await app.inject({
        method: 'POST',
        url: '/v1/wallets',
        headers: { authorization: `Bearer ${sign(privateKey, { sub: 'rs-owner', roles: ['customer'] })}` },
        payload: { currency: 'EUR' },
      });
      expect(res.statusCode).toBe(201);
      walletId = res.json<{ id: string }>().id;
    });
    afterAll(async () => {
      await app.close();
    });

    it('accepts tokens signed by the matching private key only', async () => {
      const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
      expect(await statusWith(app, walletId, `Bearer ${sign(privateKey)}`)).toBe(200);
      expect(await statusWith(app, walletId, `Bearer ${sign(other)}`)).toBe(401);
      expect(await statusWith(app, walletId, bearer(ADMIN))).toBe(401); // the HS256 development secret means nothing here
      // algorithm confusion: an HS256 token "signed" with the public key as the HMAC secret
      const confused = craft({ alg: 'HS256' }, { sub: ADMIN.sub, roles: ['admin'], exp: now() + 60 }, publicPem);
      expect(await statusWith(app, walletId, `Bearer ${confused}`)).toBe(401);
    });
  });

  describe('with a JWKS endpoint (ES256)', () => {
    let app: FastifyInstance;
    let server: Server;
    let jwksUrl: string;
    let walletId: string;
    let keys: object[] = [];
    let served = 0;
    const current = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const sign = (kid: string, key: KeyObject, claims: object = { sub: ADMIN.sub, roles: ['admin'] }) =>
      createSigner({
        key: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
        algorithm: 'ES256',
        kid,
        expiresIn: 60_000,
      })(claims);
    const jwk = (kid: string, key: KeyObject) => ({ ...key.export({ format: 'jwk' }), kid, use: 'sig', alg: 'ES256' });

    beforeAll(async () => {
      keys = [jwk('k1', current.publicKey)];
      server = createServer((_req, res) => {
        served += 1;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys }));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
      app = await startApp({ JWT_JWKS_URL: jwksUrl });
      const res = await app.inject({
        method: 'POST',
        url: '/v1/wallets',
        headers: {
          authorization: `Bearer ${sign('k1', current.privateKey, { sub: 'es-owner', roles: ['customer'] })}`,
        },
        payload: { currency: 'EUR' },
      });
      expect(res.statusCode).toBe(201);
      walletId = res.json<{ id: string }>().id;
    });
    afterAll(async () => {
      await app.close();
      await new Promise((r) => server.close(r));
    });

    it('verifies with the key the token names, fetching the key set once', async () => {
      const before = served;
      expect(await statusWith(app, walletId, `Bearer ${sign('k1', current.privateKey)}`)).toBe(200);
      expect(await statusWith(app, walletId, `Bearer ${sign('k1', current.privateKey)}`)).toBe(200);
      expect(served).toBe(before); // cached
      const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      expect(await statusWith(app, walletId, `Bearer ${sign('k1', stranger)}`)).toBe(401);
      expect(await statusWith(app, walletId, `Bearer ${sign('unknown-kid', current.privateKey)}`)).toBe(401);
      expect(await statusWith(app, walletId, bearer(ADMIN))).toBe(401);
    });

    it('picks up a rotated key', async () => {
      const source = new JwksKeySource(jwksUrl, { minRefetchSeconds: 0 });
      expect(await source.keyFor({ kid: 'k1', alg: 'ES256' })).toMatch(/BEGIN PUBLIC KEY/);
      const next = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      keys = [jwk('k1', current.publicKey), jwk('k2', next.publicKey)];
      expect(await source.keyFor({ kid: 'k2', alg: 'ES256' })).toBe(
        next.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      );
      await expect(source.keyFor({ kid: 'k3', alg: 'ES256' })).rejects.toBeInstanceOf(UnknownSigningKeyError);
      // the key named, but for another algorithm (e.g. HS256 "signed" with the public key): no key
      await expect(source.keyFor({ kid: 'k1', alg: 'HS256' })).rejects.toBeInstanceOf(UnknownSigningKeyError);
      await expect(source.keyFor({ kid: 'k1', alg: 'none' })).rejects.toBeInstanceOf(UnknownSigningKeyError);
      keys = [jwk('k1', current.publicKey)];
    });

    it('refetches for unknown kids at most once per minRefetchSeconds, and caches the key set', async () => {
      const source = new JwksKeySource(jwksUrl, { minRefetchSeconds: 60 });
      const before = served;
      await source.keyFor({ kid: 'k1', alg: 'ES256' });
      for (let i = 0; i < 5; i += 1) {
        await expect(source.keyFor({ kid: `forged-${i}`, alg: 'ES256' })).rejects.toBeInstanceOf(
          UnknownSigningKeyError,
        );
      }
      await source.keyFor({ kid: 'k1', alg: 'ES256' });
      expect(served - before).toBe(1);
    });

    it('gives up on a key set endpoint that does not answer within timeoutMs', async () => {
      const silent = createServer(() => undefined); // accepts, never answers
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/jwks.json`;
        const started = Date.now();
        await expect(
          new JwksKeySource(url, { timeoutMs: 200 }).keyFor({ kid: 'k1', alg: 'ES256' }),
        ).rejects.toBeInstanceOf(JwksUnavailableError);
        expect(Date.now() - started).toBeLessThan(2000);
      } finally {
        silent.closeAllConnections();
        await new Promise((r) => silent.close(r));
      }
    });

    it('treats an endpoint answering an error or no key set as unavailable (503), not as a bad token', async () => {
      const broken = createServer((req, res) => {
        if (req.url === '/500') res.writeHead(500).end('oops');
        else res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>');
      });
      await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', resolve));
      try {
        const base = `http://127.0.0.1:${(broken.address() as AddressInfo).port}`;
        for (const url of [`${base}/500`, `${base}/html`]) {
          await expect(new JwksKeySource(url).keyFor({ kid: 'k1', alg: 'ES256' })).rejects.toBeInstanceOf(
            JwksUnavailableError,
          );
        }
      } finally {
        await new Promise((r) => broken.close(r));
      }
    });

    it('answers 503, not 401, when the key set cannot be fetched', async () => {
      const down = await startApp({ JWT_JWKS_URL: `http://127.0.0.1:${await closedPort()}/jwks.json` });
      try {
        const res = await down.inject({
          method: 'GET',
          url: `/v1/wallets/${walletId}`,
          headers: { authorization: `Bearer ${sign('k1', current.privateKey)}` },
        });
        expect([res.statusCode, res.json().code]).toEqual([503, 'SERVICE_UNAVAILABLE']);
      } finally {
        await down.close();
      }
    });
  });

  describe('GET /metrics', () => {
    it('is public by default', async () => {
      const app = await startApp();
      try {
        expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
      } finally {
        await app.close();
      }
    });

    it('needs a staff token with METRICS_PUBLIC=false', async () => {
      const app = await startApp({ METRICS_PUBLIC: 'false' });
      try {
        const get = (authorization?: string) =>
          app.inject({ method: 'GET', url: '/metrics', headers: authorization ? { authorization } : {} });
        expect((await get()).statusCode).toBe(401);
        expect((await get(bearer({ ...ADMIN, ttlSeconds: -60 }))).statusCode).toBe(401);
        expect((await get(bearer(customer('c')))).statusCode).toBe(403);
        expect((await get(bearer({ sub: 'prometheus', roles: ['ops'] }))).statusCode).toBe(200);
      } finally {
        await app.close();
      }
    });
  });

  describe('configuration', () => {
    const prod = { NODE_ENV: 'production' };

    it('refuses a production API without a secret or key, and any production process with the development secret', async () => {
      const noAuth = loadConfig(prod); // fine for workers and the migration job: they never see a token
      expect(noAuth.JWT_SECRET).toBeUndefined();
      expect(() => assertApiAuthConfig(noAuth)).toThrow(ConfigError);
      await expect(
        buildApp({ config: { ...testConfig(), NODE_ENV: 'production', JWT_SECRET: undefined }, logger: false }),
      ).rejects.toThrow(/needs JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL/);
      expect(() => loadConfig({ ...prod, JWT_SECRET: DEV_ONLY_JWT_SECRET })).toThrow(/development secret/);
      expect(() => loadConfig({ ...prod, JWT_SECRET: 'too-short' })).toThrow(/JWT_SECRET/);
      expect(loadConfig({ ...prod, JWT_SECRET: 'x'.repeat(32) }).JWT_SECRET).toBe('x'.repeat(32));
      const jwks = loadConfig({ ...prod, JWT_JWKS_URL: 'https://id.example/jwks.json' });
      expect(jwks.JWT_SECRET).toBeUndefined();
      expect(() => assertApiAuthConfig(jwks)).not.toThrow();
    });

    it('takes an unset NODE_ENV as production: no development secret, production limits, and an API without a secret refuses to start with one line', async () => {
      const unset = loadConfig({});
      expect(unset.NODE_ENV).toBe('production');
      expect(unset.JWT_SECRET).toBeUndefined();
      expect(unset.rateLimits).toEqual(PRODUCTION_RATE_LIMITS);
      expect(() => assertApiAuthConfig(unset)).toThrow(ConfigError);

      // the built API, started with nothing configured: exit 1, one JSON line that says why
      const env = Object.fromEntries(
        Object.entries(process.env).filter(([k]) => !k.startsWith('JWT_') && k !== 'NODE_ENV'),
      );
      const api = spawnSync(process.execPath, [path.resolve(__dirname, '../../dist/api/main.js')], {
        encoding: 'utf8',
        env: { ...env, PORT: '0', LOG_LEVEL: 'info' },
        timeout: 20_000,
      });
      expect(api.status).toBe(1);
      const lines = `${api.stdout}${api.stderr}`.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({
        level: 60,
        msg: expect.stringContaining('needs JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL'),
      });
    });

    it('defaults the development secret and high rate limits outside production, the seed limits in production', () => {
      const dev = loadConfig({ NODE_ENV: 'development' });
      expect(dev.JWT_SECRET).toBe(DEV_ONLY_JWT_SECRET);
      expect(new Set(Object.values(dev.rateLimits))).toEqual(new Set([RATE_LIMIT_DEV_DEFAULT]));
      const production = loadConfig({ ...prod, JWT_SECRET: 'x'.repeat(32) });
      expect(production.rateLimits).toEqual({
        createWallet: 10,
        deposit: 50,
        transfer: 100,
        privileged: 100,
        read: 1000,
      });
      expect(production.rateLimits).toEqual(PRODUCTION_RATE_LIMITS);
      expect(production.RATE_LIMIT_WINDOW_SECONDS).toBe(3600);
      expect(loadConfig({ ...prod, JWT_SECRET: 'x'.repeat(32), RATE_LIMIT_TRANSFER: '7' }).rateLimits.transfer).toBe(7);
      expect(production.METRICS_PUBLIC).toBe(true);
      expect(loadConfig({ METRICS_PUBLIC: 'false' }).METRICS_PUBLIC).toBe(false);
    });
  });

  describe('npm run token', () => {
    const script = path.resolve(__dirname, '../../dist/scripts/token.js');
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [script, ...args], {
        encoding: 'utf8',
        env: { ...process.env, NODE_ENV: 'development' },
      });

    it('prints a token the API accepts, with the roles asked for', async () => {
      const out = run('--sub', 'alice', '--role', 'customer', '--role', 'ops,finance', '--ttl', '120');
      expect(out.status).toBe(0);
      const token = out.stdout.trim();
      const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
      expect(payload).toMatchObject({ sub: 'alice', roles: ['customer', 'ops', 'finance'] });
      expect(payload.exp - payload.iat).toBe(120);

      const app = await startApp();
      try {
        const res = await app.inject({
          method: 'GET',
          url: '/v1/audit',
          headers: { authorization: `Bearer ${token}` },
        });
        expect(res.statusCode).toBe(200);
      } finally {
        await app.close();
      }
    });

    it('says what is missing when production has no secret, and names the key it verifies with when it has one', () => {
      const env = { ...process.env, NODE_ENV: 'production', JWT_SECRET: '', JWT_PUBLIC_KEY: '', JWT_JWKS_URL: '' };
      const bare = spawnSync(process.execPath, [script, '--sub', 'a', '--role', 'admin'], { encoding: 'utf8', env });
      expect(bare.status).toBe(2);
      expect(bare.stderr).toContain('no JWT_SECRET is set (NODE_ENV=production)');
      expect(bare.stderr).not.toContain('public key or JWKS');
      const jwks = spawnSync(process.execPath, [script, '--sub', 'a', '--role', 'admin'], {
        encoding: 'utf8',
        env: { ...env, JWT_JWKS_URL: 'https://idp.example/.well-known/jwks.json' },
      });
      expect(jwks.status).toBe(2);
      expect(jwks.stderr).toContain('verifies tokens with JWT_JWKS_URL');
    });

    it('refuses unknown roles and a missing subject', () => {
      expect(run('--sub', 'alice', '--role', 'root').status).toBe(2);
      expect(run('--role', 'customer').status).toBe(2);
    });
  });
});
