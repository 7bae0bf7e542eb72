import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app';
import { ConfigError } from '../../config';
import { customer, uniqueKey } from '../api/helpers';
import { authHeaders } from '../support/auth';
import { testConfig } from '../support/env';
import { portOf, rawRequest, type RawAnswer } from '../support/raw-http';

/**
 * Slow and vanishing clients (issue 17 §7): a request must arrive whole within HTTP_REQUEST_TIMEOUT_MS
 * (a slowloris holding a connection open with half a request is answered 408 and cut off), and a
 * client hanging up mid-body is logged as what it is, at info, never as an unavailable dependency at
 * error level, which anyone could flood.
 */

const TIMEOUT_MS = 1000;

interface LogLine {
  level: number;
  msg: string;
  reqId?: string;
  code?: string;
  req?: { method?: string; url?: string };
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('slow and vanishing clients', () => {
  let app: FastifyInstance;
  let port: number;
  const logs: LogLine[] = [];
  const alice = customer(uniqueKey('slow'));

  beforeAll(async () => {
    const stream = { write: (line: string) => logs.push(JSON.parse(line) as LogLine) };
    app = await buildApp({
      config: testConfig({ HTTP_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS) }),
      logger: { level: 'info', stream },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = portOf(app);
  });
  afterAll(async () => {
    await app?.close();
  });

  /** POST /v1/wallets as alice, with a Content-Length of `declared` bytes. */
  const postHead = (declared: number) =>
    'POST /v1/wallets HTTP/1.1\r\nHost: localhost\r\n' +
    `Authorization: ${authHeaders(alice).authorization}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n`;

  function expectTimeoutProblem(res: RawAnswer) {
    expect(res.status).toBe(408);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.headers.connection).toBe('close');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    const body = JSON.parse(res.body) as { code: string; requestId: string };
    expect(body).toMatchObject({ code: 'REQUEST_TIMEOUT', status: 408 });
    expect(body.requestId).toBe(res.headers['x-request-id']);
    // not before the timeout; at most Node's check interval (a quarter of it here) plus a busy machine after it
    expect(res.elapsedMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(res.elapsedMs).toBeLessThan(TIMEOUT_MS + 4000);
  }

  it('answers a request whose headers never end 408 REQUEST_TIMEOUT once the timeout is up, and closes it', async () => {
    const headersNeverEnd = 'GET /health/live HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1\r\n';
    expectTimeoutProblem(await rawRequest(port, headersNeverEnd, { timeoutMs: 8000 }));
  });

  it('answers a request whose body stops coming 408 as well, and logs the cut request at info, not as an error', async () => {
    const res = await rawRequest(port, `${postHead(100)}{"curr`, { timeoutMs: 8000 });
    expectTimeoutProblem(res);
    const aborted = await until('the cut request to be logged', () =>
      logs.find((l) => l.msg === 'client aborted the request'),
    );
    expect(aborted).toMatchObject({ level: 30, code: 'CLIENT_ABORTED' });
    expect(logs.filter((l) => l.level >= 50)).toEqual([]);
  });

  it('serves a request that arrives in pieces within the timeout', async () => {
    const res = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      socket.on('error', reject);
      socket.on('close', () => resolve(text));
      socket.write('GET /health/live HTTP/1.1\r\n');
      setTimeout(() => socket.write('Host: localhost\r\nConnection: close\r\n\r\n'), TIMEOUT_MS / 4);
    });
    expect(res).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('logs a client that hangs up mid-body at info as CLIENT_ABORTED, never at error level as SERVICE_UNAVAILABLE', async () => {
    const before = logs.length;
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(postHead(1000));
    // once Fastify has taken the request (authenticated it, started reading the body), part of the body, then gone
    const incoming = await until('the request to come in', () =>
      logs.slice(before).find((l) => l.msg === 'incoming request' && l.req?.method === 'POST'),
    );
    await new Promise((r) => setTimeout(r, 200));
    socket.write('{"currency":');
    await new Promise((r) => setTimeout(r, 100));
    socket.destroy();

    const mine = () => logs.filter((l) => l.reqId === incoming.reqId);
    await until('the aborted request to be logged', () => mine().find((l) => l.code !== undefined));
    await new Promise((r) => setTimeout(r, 300)); // whatever else this request would log
    expect(mine().filter((l) => l.level >= 40)).toEqual([]);
    expect(mine().filter((l) => l.code !== undefined)).toEqual([
      expect.objectContaining({ level: 30, code: 'CLIENT_ABORTED', msg: 'client aborted the request' }),
    ]);
  });

  it('takes the timeout from HTTP_REQUEST_TIMEOUT_MS: 30 s unless set, never below 100 ms', () => {
    expect(testConfig().HTTP_REQUEST_TIMEOUT_MS).toBe(30_000);
    expect(() => testConfig({ HTTP_REQUEST_TIMEOUT_MS: '50' })).toThrow(ConfigError);
    expect(() => testConfig({ HTTP_REQUEST_TIMEOUT_MS: 'soon' })).toThrow(ConfigError);
  });
});
