import type { FastifyInstance } from 'fastify';
import { ADMIN, customer, FINANCE, startApp, uniqueKey } from '../api/helpers';
import { authHeaders } from '../support/auth';
import { createWalletAs } from './fixtures';

/** Transport-level hardening: security headers, request ids, strict input, bounded bodies, quiet 5xx. */
describe('hardening', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(async () => {
    await app.close();
  });

  it('sends the security headers (helmet) on answers and on errors', async () => {
    for (const res of [
      await app.inject({ method: 'GET', url: '/health/live' }),
      await app.inject({ method: 'GET', url: '/v1/wallets/00000000-0000-4000-8000-000000000001' }),
      await app.inject({ method: 'GET', url: '/v1/nothing' }),
    ]) {
      expect(res.headers).toMatchObject({
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'SAMEORIGIN',
        'strict-transport-security': expect.stringContaining('max-age='),
        'content-security-policy': expect.stringContaining("default-src 'self'"),
        'referrer-policy': 'no-referrer',
      });
      expect(res.headers['x-powered-by']).toBeUndefined();
    }
  });

  it('marks every /v1 answer Cache-Control: no-store (balances, transfers, audit rows, problems), not the health checks', async () => {
    const owner = customer(`cache-${uniqueKey('c')}`);
    const wallet = await createWalletAs(app, owner);
    for (const res of [
      await app.inject({ method: 'GET', url: `/v1/wallets/${wallet.id}`, headers: authHeaders(owner) }),
      await app.inject({ method: 'GET', url: '/v1/transfers', headers: authHeaders(ADMIN) }),
      await app.inject({ method: 'GET', url: '/v1/audit', headers: authHeaders(ADMIN) }),
      await app.inject({
        method: 'GET',
        url: '/v1/wallets/00000000-0000-4000-8000-000000000001',
        headers: authHeaders(owner),
      }),
    ]) {
      expect(res.statusCode).toBeLessThan(500);
      expect(res.headers['cache-control']).toBe('no-store');
    }
    expect((await app.inject({ method: 'GET', url: '/health/live' })).headers['cache-control']).toBeUndefined();
  });

  it('takes the bearer scheme case-insensitively (RFC 7235): bearer and BEARER work like Bearer', async () => {
    const owner = customer(`scheme-${uniqueKey('s')}`);
    const wallet = await createWalletAs(app, owner);
    const jwt = authHeaders(owner).authorization.slice('Bearer '.length);
    for (const scheme of ['bearer', 'BEARER', 'bEaReR']) {
      const res = await app.inject({
        method: 'GET',
        url: `/v1/wallets/${wallet.id}`,
        headers: { authorization: `${scheme} ${jwt}` },
      });
      expect(res.statusCode).toBe(200);
    }
    const basic = await app.inject({
      method: 'GET',
      url: `/v1/wallets/${wallet.id}`,
      headers: { authorization: `Basic ${jwt}` },
    });
    expect(basic.statusCode).toBe(401);
  });

  it('still serves the documentation UI under the content security policy', async () => {
    const res = await app.inject({ method: 'GET', url: '/docs/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-security-policy']).toBeDefined();
  });

  it('puts the request id in the X-Request-Id header and in every problem', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/wallets/not-a-uuid', headers: authHeaders(ADMIN) });
    expect(res.statusCode).toBe(400);
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.json<{ requestId: string }>().requestId).toBe(res.headers['x-request-id']);
    const unauthenticated = await app.inject({ method: 'GET', url: '/v1/audit' });
    expect(unauthenticated.json<{ requestId: string }>().requestId).toBe(unauthenticated.headers['x-request-id']);
  });

  it('refuses unknown query parameters and fields, oversized text and amounts', async () => {
    const owner = customer(uniqueKey('strict'));
    const wallet = await createWalletAs(app, owner);
    const cases = [
      await app.inject({ method: 'GET', url: '/v1/transfers', query: { foo: '1' }, headers: authHeaders(ADMIN) }),
      await app.inject({ method: 'GET', url: '/v1/audit', query: { actor: 'x' }, headers: authHeaders(ADMIN) }),
      await app.inject({
        method: 'POST',
        url: '/v1/wallets',
        headers: authHeaders(owner),
        payload: { currency: 'EUR', admin: true },
      }),
      await app.inject({
        method: 'POST',
        url: '/v1/wallets',
        headers: authHeaders(owner),
        payload: { currency: 'XTS' },
      }), // a test code, not active
      await app.inject({
        method: 'POST',
        url: `/v1/wallets/${wallet.id}/deposits`,
        headers: { ...authHeaders(FINANCE), 'idempotency-key': uniqueKey() },
        payload: { amount: 100_000_000_001 },
      }),
      await app.inject({
        method: 'POST',
        url: `/v1/wallets/${wallet.id}/freeze`,
        headers: authHeaders(ADMIN),
        payload: { reason: 'r'.repeat(501) },
      }),
      await app.inject({
        method: 'POST',
        url: '/v1/transfers',
        headers: { ...authHeaders(owner), 'idempotency-key': uniqueKey() },
        payload: {
          fromWalletId: wallet.id,
          toWalletId: wallet.id,
          amount: 1,
          currency: 'EUR',
          description: 'd'.repeat(141),
        },
      }),
    ];
    expect(cases.map((r) => [r.statusCode, r.json<{ code: string }>().code])).toEqual(
      Array(cases.length).fill([400, 'VALIDATION_FAILED']),
    );
  });

  it('refuses two Idempotency-Key headers 400 IDEMPOTENCY_KEY_INVALID (Node joins them into one key "a, b"), and moves nothing', async () => {
    const wallet = await createWalletAs(app, customer(uniqueKey('twokeys')));
    const [a, b] = [uniqueKey('a'), uniqueKey('b')];
    const deposit = (key: string | string[]) =>
      app.inject({
        method: 'POST',
        url: `/v1/wallets/${wallet.id}/deposits`,
        headers: { ...authHeaders(FINANCE), 'idempotency-key': key },
        payload: { amount: 100 },
      });
    const twice = await deposit([a, b]);
    expect([twice.statusCode, twice.json<{ code: string }>().code]).toEqual([400, 'IDEMPOTENCY_KEY_INVALID']);
    expect(twice.json<{ detail: string }>().detail).toBe('send exactly one Idempotency-Key header');
    const sameTwice = await deposit([a, a]);
    expect([sameTwice.statusCode, sameTwice.json<{ code: string }>().code]).toEqual([400, 'IDEMPOTENCY_KEY_INVALID']);
    const balance = await app.inject({ method: 'GET', url: `/v1/wallets/${wallet.id}`, headers: authHeaders(ADMIN) });
    expect(balance.json<{ balance: number }>().balance).toBe(0);
    // one line whose key holds a comma is a key like any other
    expect((await deposit(`${a}, ${b}`)).statusCode).toBe(201);
  });

  it('answers an unexpected failure with a 5xx that leaks nothing', async () => {
    const broken = await startApp();
    try {
      const wallet = await createWalletAs(broken, customer(uniqueKey('broken')));
      // the pool of the wallet's database is gone: every query on it now fails inside the handler
      await broken.shards.forWallet(wallet.id).store.close();
      const res = await broken.inject({ method: 'GET', url: `/v1/wallets/${wallet.id}`, headers: authHeaders(ADMIN) });
      expect(res.statusCode).toBeGreaterThanOrEqual(500);
      const body = res.json<Record<string, unknown>>();
      expect(Object.keys(body).sort()).toEqual(['code', 'detail', 'instance', 'requestId', 'status', 'title', 'type']);
      expect(['an unexpected error occurred', 'a dependency is unavailable; retry later']).toContain(body.detail);
      expect(res.payload).not.toMatch(/postgres|SELECT|at .*\.js|Error:|stack|127\.0\.0\.1/i);
    } finally {
      await broken.close();
    }
  });
});
