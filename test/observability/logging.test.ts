import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app';
import { loggerOptions, prettyLogs, REDACTED } from '../../observability/logger';
import { bearer } from '../support/auth';
import { testConfig, uniqueTaskQueue } from '../support/env';
import { customer, fund, injectDriver, openWallet, transfer } from './helpers';

/**
 * The API's logs: one JSON object per line, every line of a request carrying its id (the same id
 * echoed as x-request-id), a transfer's lines naming the transfer and its workflow, and secrets
 * censored wherever they appear. (The worker's lines: test/observability/metrics.test.ts.)
 */
describe('API logs', () => {
  let app: FastifyInstance;
  const lines: Array<Record<string, unknown>> = [];
  let raw = '';

  beforeAll(async () => {
    const config = testConfig({ TEMPORAL_TASK_QUEUE: uniqueTaskQueue('logs'), LOG_LEVEL: 'info', LOG_FORMAT: 'json' });
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        raw += chunk.toString();
        for (const line of chunk.toString().split('\n').filter(Boolean))
          lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    app = await buildApp({ config, logger: { ...loggerOptions(config, 'wallet-api'), stream } });
  });

  afterAll(async () => {
    await app.close();
  });

  it('puts the request id on every line of a request, and the transfer and workflow ids on a transfer’s', async () => {
    const api = injectDriver(app);
    const alice = customer();
    const from = await openWallet(api, alice);
    const to = await openWallet(api, customer());
    await fund(api, from, 1_000);
    const t = await transfer(api, alice, { fromWalletId: from, toWalletId: to, amount: 10 }, { waitSeconds: 0 });

    const ofRequest = lines.filter((l) => l.reqId === t.requestId);
    expect(ofRequest.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['incoming request', 'transfer answered', 'request completed']),
    );
    for (const line of ofRequest) expect(line.service).toBe('wallet-api');
    const accepted = ofRequest.find((l) => l.msg === 'transfer answered');
    expect(accepted).toMatchObject({ transferId: t.id, workflowId: t.workflowId });
    expect(ofRequest.find((l) => l.msg === 'request completed')).toMatchObject({
      transferId: t.id,
      workflowId: t.workflowId,
    });
    // lines with a request carry its id, always
    for (const line of lines.filter((l) => l.req !== undefined || l.res !== undefined))
      expect(line.reqId).toEqual(expect.any(String));
  });

  it('never writes a token or a secret', async () => {
    const token = bearer(customer());
    await app.inject({ method: 'GET', url: '/v1/wallets', headers: { authorization: token, cookie: 'session=abc' } });
    app.log.info(
      {
        headers: { authorization: token, cookie: 'session=abc' },
        password: 'hunter2',
        user: { password: 'hunter2', token: 'tok-123', apiKey: 'k-1' },
        config: { DATABASE_URL: 'postgres://wallet:s3cret@db/wallet', JWT_SECRET: 'x'.repeat(40) },
      },
      'a careless line',
    );
    const careless = lines.find((l) => l.msg === 'a careless line')!;
    expect(careless).toMatchObject({
      headers: { authorization: REDACTED, cookie: REDACTED },
      password: REDACTED,
      user: { password: REDACTED, token: REDACTED, apiKey: REDACTED },
      config: { DATABASE_URL: REDACTED, JWT_SECRET: REDACTED },
    });
    for (const secret of [token.slice(7), 'hunter2', 'tok-123', 's3cret', 'session=abc'])
      expect(raw).not.toContain(secret);
  });

  it('is pretty only for a terminal, unless told', () => {
    expect(prettyLogs('auto', { isTTY: true })).toBe(true);
    expect(prettyLogs('auto', { isTTY: false })).toBe(false);
    expect(prettyLogs('auto', {})).toBe(false);
    expect(prettyLogs('json', { isTTY: true })).toBe(false);
    expect(prettyLogs('pretty', { isTTY: false })).toBe(true);
    expect(loggerOptions({ LOG_LEVEL: 'info', LOG_FORMAT: 'json' }, 'x').transport).toBeUndefined();
    expect(loggerOptions({ LOG_LEVEL: 'info', LOG_FORMAT: 'pretty' }, 'x').transport).toMatchObject({
      target: require.resolve('pino-pretty'),
    });
  });
});
