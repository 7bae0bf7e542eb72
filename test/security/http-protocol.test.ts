import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { ADMIN, expectProblem, startApp } from '../api/helpers';
import { authHeaders } from '../support/auth';
import { portOf, rawRequest, type RawAnswer } from '../support/raw-http';

/**
 * The HTTP protocol edges (issue 11, items 4 and 6): a known path asked with a method it does not
 * serve is 405 with Allow; what Node's parser refuses (URL or headers too large, unknown methods) and
 * what Fastify refuses while routing are problem documents with a request id and the security headers,
 * like every other answer. The parser's refusals only happen on a real socket (inject() skips it).
 */

const WALLET = '/v1/wallets/00000000-0000-4000-8000-000000000001';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const get = (target: string, headers = '') => `GET ${target} HTTP/1.1\r\nHost: localhost\r\n${headers}\r\n`;

describe('HTTP protocol edges', () => {
  let app: FastifyInstance;
  let port: number;

  beforeAll(async () => {
    app = await startApp();
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = portOf(app);
  });
  afterAll(async () => {
    await app.close();
  });

  /** What every answer carries: the request id (header = body) and helmet's security headers. */
  function expectRequestIdAndSecurityHeaders(
    headers: Record<string, string | string[] | number | undefined>,
    body: { requestId?: string },
  ) {
    expect(headers['x-request-id']).toMatch(UUID);
    expect(body.requestId).toBe(headers['x-request-id']);
    expect(headers).toMatchObject({
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'SAMEORIGIN',
      'strict-transport-security': expect.stringContaining('max-age='),
      'content-security-policy': expect.stringContaining("default-src 'self'"),
      'referrer-policy': 'no-referrer',
    });
    for (const [name, value] of Object.entries(app.securityHeaders))
      expect([name, headers[name]]).toEqual([name, value]);
    expect(headers['cache-control']).toBe('no-store');
  }

  function expect405(res: LightMyRequestResponse, allow: string) {
    const body = expectProblem(res, 405, 'METHOD_NOT_ALLOWED');
    expect(res.headers.allow).toBe(allow);
    return body;
  }

  describe('405 Method Not Allowed', () => {
    it('answers a known path asked with a method it does not serve 405 with Allow, as a problem document', async () => {
      for (const method of ['TRACE', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'POST'] as const) {
        const res = await app.inject({ method, url: WALLET, headers: authHeaders(ADMIN) });
        const body = expect405(res, 'GET, HEAD');
        expect(body).toMatchObject({ instance: WALLET, detail: expect.stringContaining(method) });
        expectRequestIdAndSecurityHeaders(res.headers, res.json());
      }
    });

    it('lists exactly the methods each path serves (HEAD where Fastify serves it for a GET route), parameters included', async () => {
      const cases: Array<[string, string]> = [
        ['/v1/wallets', 'GET, HEAD, POST'],
        [`${WALLET}/transactions`, 'GET, HEAD'],
        ['/v1/transfers', 'GET, HEAD, POST'],
        ['/v1/transfers/00000000-0000-4000-8000-000000000002', 'GET, HEAD'],
        ['/v1/transfers/00000000-0000-4000-8000-000000000002/retry', 'POST'],
        ['/v1/transfers/not-even-a-uuid/cancel', 'POST'],
        ['/health/live', 'GET, HEAD'],
        ['/v1/transfers?limit=5', 'GET, HEAD, POST'],
      ];
      for (const [url, allow] of cases) {
        expect405(await app.inject({ method: 'DELETE', url }), allow);
      }
    });

    it('does serve each method it lists in Allow (HEAD of a GET route is answered, not refused)', async () => {
      const head = await app.inject({ method: 'HEAD', url: '/health/live' });
      expect(head.statusCode).toBe(200);
      const headWallet = await app.inject({ method: 'HEAD', url: WALLET, headers: authHeaders(ADMIN) });
      expect(headWallet.statusCode).toBe(404); // served: that wallet does not exist (a HEAD answer has no body)
      expect(headWallet.headers.allow).toBeUndefined();
    });

    it('answers QUERY on a known path 405 too, with or without a body (not a 400 about its Content-Type)', async () => {
      expect405(
        await app.inject({ method: 'QUERY', url: '/v1/transfers', headers: authHeaders(ADMIN) }),
        'GET, HEAD, POST',
      );
      const withBody = await app.inject({
        method: 'QUERY',
        url: '/v1/transfers',
        headers: { ...authHeaders(ADMIN), 'content-type': 'application/json' },
        payload: { status: 'completed' },
      });
      expect405(withBody, 'GET, HEAD, POST');
      const textBody = await app.inject({
        method: 'QUERY',
        url: WALLET,
        headers: { 'content-type': 'text/plain' },
        payload: 'x',
      });
      expect405(textBody, 'GET, HEAD');
    });

    it('never looks at the body of a request no route serves: an oversized PUT body is 405, not 413', async () => {
      const res = await app.inject({
        method: 'PUT',
        url: WALLET,
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ note: 'x'.repeat(64 * 1024) }),
      });
      expect405(res, 'GET, HEAD');
    });

    it('answers a method Fastify has no route table for (PROPFIND) 405 on a known path', async () => {
      const res = await rawRequest(port, `PROPFIND ${WALLET} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('GET, HEAD');
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(res.body)).toMatchObject({ code: 'METHOD_NOT_ALLOWED', status: 405 });
    });

    it('keeps unknown paths 404 ROUTE_NOT_FOUND, whatever the method, without Allow', async () => {
      for (const method of ['GET', 'TRACE', 'DELETE', 'QUERY'] as const) {
        const res = await app.inject({ method, url: '/v1/nothing/here' });
        expectProblem(res, 404, 'ROUTE_NOT_FOUND');
        expect(res.headers.allow).toBeUndefined();
      }
      // a parameter longer than any id matches no route: no Allow made up from the router's 414 stand-in
      const longParam = await app.inject({ method: 'TRACE', url: `/v1/wallets/${'a'.repeat(300)}/nothing` });
      expectProblem(longParam, 404, 'ROUTE_NOT_FOUND');
    });
  });

  describe("Node's parser refusals (real socket)", () => {
    function expectRawProblem(res: RawAnswer, status: number, code: string) {
      expect({ status: res.status, code: (JSON.parse(res.body) as { code: string }).code }).toEqual({ status, code });
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.body));
      expect(res.headers.connection).toBe('close');
      const body = JSON.parse(res.body) as {
        type: string;
        title: string;
        status: number;
        detail: string;
        requestId?: string;
      };
      expect(body).toMatchObject({
        status,
        type: `https://errors.wallet.example/${code.toLowerCase().replace(/_/g, '-')}`,
      });
      expect(typeof body.title).toBe('string');
      expect(typeof body.detail).toBe('string');
      expectRequestIdAndSecurityHeaders(res.headers, body);
      return body;
    }

    it('answers a URL of 20 KB and of 100 KB 414 URI_TOO_LONG as a problem document', async () => {
      for (const size of [20_000, 100_000]) {
        const res = await rawRequest(port, get(`/v1/transfers?cursor=${'a'.repeat(size)}`));
        const body = expectRawProblem(res, 414, 'URI_TOO_LONG');
        expect(res.body.length).toBeLessThan(1000); // the URL is not echoed back
        expect(body.detail).not.toContain('aaaa');
      }
    });

    it('answers a 20 KB header, and many headers past the limit together, 431 HEADERS_TOO_LARGE', async () => {
      expectRawProblem(
        await rawRequest(port, get('/v1/transfers', `X-Big: ${'b'.repeat(20_000)}\r\n`)),
        431,
        'HEADERS_TOO_LARGE',
      );
      const many = Array.from({ length: 400 }, (_, i) => `X-H${i}: ${'c'.repeat(50)}\r\n`).join('');
      expectRawProblem(await rawRequest(port, get('/v1/transfers', many)), 431, 'HEADERS_TOO_LARGE');
    });

    it('gives every refused request its own id', async () => {
      const [a, b] = await Promise.all([
        rawRequest(port, get('/v1/transfers', `X-Big: ${'b'.repeat(20_000)}\r\n`)),
        rawRequest(port, get('/v1/transfers', `X-Big: ${'b'.repeat(20_000)}\r\n`)),
      ]);
      expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
    });

    it("answers a method Node's parser does not know like any unserved method: 405 on a known path, 404 elsewhere", async () => {
      const known = await rawRequest(port, `FOO ${WALLET} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
      expectRawProblem(known, 405, 'METHOD_NOT_ALLOWED');
      expect(known.headers.allow).toBe('GET, HEAD');
      expectRawProblem(
        await rawRequest(port, 'FOO /v1/nothing HTTP/1.1\r\nHost: localhost\r\n\r\n'),
        404,
        'ROUTE_NOT_FOUND',
      );
    });

    it('answers a request that is not HTTP at all 400 BAD_REQUEST as a problem document, not plain text', async () => {
      expectRawProblem(
        await rawRequest(port, 'GET /health/live HTTP/1.1\r\nHost: localhost\r\nBad Header: y\r\n\r\n'),
        400,
        'BAD_REQUEST',
      );
      expectRawProblem(await rawRequest(port, '\x01\x02\x03 garbage\r\n\r\n'), 400, 'BAD_REQUEST');
    });
  });

  describe('Host (RFC 9112 §3.2: exactly one, valid, on every HTTP/1.1 request)', () => {
    /** /v1 answers carry no-store, problems included; /health/live serves anyone (no token). */
    const request = (headers: string, version = '1.1', target = '/v1/transfers') =>
      `GET ${target} HTTP/${version}\r\n${headers}Connection: close\r\n\r\n`;

    it('answers two Host lines 400 BAD_REQUEST as a problem document (Node would keep the first)', async () => {
      const res = await rawRequest(port, request('Host: localhost\r\nHost: evil.example\r\n'));
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      const body = JSON.parse(res.body) as { code: string; detail: string; requestId: string };
      expect(body).toMatchObject({ code: 'BAD_REQUEST', detail: 'send exactly one Host header' });
      expectRequestIdAndSecurityHeaders(res.headers, body);
    });

    it("answers an HTTP/1.1 request without Host 400 as a problem document with the security headers, not Node's bare 400", async () => {
      const res = await rawRequest(port, request(''));
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      const body = JSON.parse(res.body) as { code: string; detail: string; requestId: string };
      expect(body).toMatchObject({ code: 'BAD_REQUEST', detail: 'an HTTP/1.1 request needs a Host header' });
      expectRequestIdAndSecurityHeaders(res.headers, body);
    });

    it('answers a Host that is not host[:port] 400, and serves a valid one, an empty one and HTTP/1.0 without one', async () => {
      const invalid = await rawRequest(port, request('Host: local host/x\r\n'));
      expect([invalid.status, (JSON.parse(invalid.body) as { code: string }).code]).toEqual([400, 'BAD_REQUEST']);
      for (const ok of [
        request('Host: localhost:3000\r\n', '1.1', '/health/live'),
        request('Host: [::1]:3000\r\n', '1.1', '/health/live'),
        request('Host: 127.0.0.1\r\n', '1.1', '/health/live'),
        request('Host:\r\n', '1.1', '/health/live'), // RFC 9110 §7.2: empty when the target URI has no authority
        request('', '1.0', '/health/live'), // HTTP/1.0 requires no Host
      ]) {
        const res = await rawRequest(port, ok);
        expect([ok, res.status]).toEqual([ok, 200]);
      }
    });
  });

  describe('a route that finds nothing at its URL', () => {
    it('answers a missing file under /docs/static/ 404 NOT_FOUND, not 405 (its GET route exists)', async () => {
      const present = await app.inject({ method: 'GET', url: '/docs/static/swagger-ui.css' });
      expect(present.statusCode).toBe(200);
      for (const method of ['GET', 'HEAD'] as const) {
        const res = await app.inject({ method, url: '/docs/static/no-such-file.js' });
        expect([method, res.statusCode, res.headers.allow]).toEqual([method, 404, undefined]);
      }
      const missing = await app.inject({ method: 'GET', url: '/docs/static/no-such-file.js' });
      const body = expectProblem(missing, 404, 'NOT_FOUND');
      expect(body).toMatchObject({ instance: '/docs/static/no-such-file.js' });
      // a method the route does not serve is still 405 there
      expect405(await app.inject({ method: 'DELETE', url: '/docs/static/no-such-file.js' }), 'GET, HEAD');
    });
  });

  describe("Fastify's routing refusals (frameworkErrors)", () => {
    it('answers an over-long path parameter 414 with the request id and security headers', async () => {
      const res = await app.inject({ method: 'GET', url: `/v1/wallets/${'a'.repeat(300)}` });
      expectProblem(res, 414, 'URI_TOO_LONG');
      expectRequestIdAndSecurityHeaders(res.headers, res.json());
    });

    it('answers an undecodable URL 400 with the request id and security headers', async () => {
      const res = await app.inject({ method: 'GET', url: '/v1/wallets/%zz' });
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expectRequestIdAndSecurityHeaders(res.headers, res.json());
    });
  });
});
