import type { FastifyInstance } from 'fastify';
import { ApiError, problemFromError } from '../../api/errors';
import { StoreUnavailable } from '../../db/shards';
import { DomainError, TransferRefusedEarly } from '../../domain/errors';
import { startApp } from './helpers';
import { query } from '../support/sql';

describe('error mapping (api/errors.ts)', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(async () => {
    await app.close();
  });

  async function pgError(sql: string): Promise<unknown> {
    try {
      await query(app.db, sql);
    } catch (err) {
      return err;
    }
    throw new Error('statement unexpectedly succeeded');
  }

  it('turns Postgres input errors (invalid uuid, out of range, NUL byte) into 400, never 500', async () => {
    for (const sql of [
      `SELECT 'nope'::uuid`,
      `SELECT 9223372036854775808::bigint`,
      `SELECT convert_from('\\x00', 'UTF8')`,
    ]) {
      const { problem, expected } = problemFromError(await pgError(sql), '/x');
      expect({ sql, status: problem.status, code: problem.code, expected }).toEqual({
        sql,
        status: 400,
        code: 'INVALID_INPUT',
        expected: true,
      });
    }
  });

  it('answers anything unexpected with a generic 500 that leaks nothing', async () => {
    const secret = 'password=hunter2 at db.internal:5432';
    const { problem, expected } = problemFromError(new TypeError(secret), '/x');
    expect(problem).toEqual({
      type: 'https://errors.wallet.example/internal',
      title: 'Internal error',
      status: 500,
      code: 'INTERNAL',
      detail: 'an unexpected error occurred',
      instance: '/x',
    });
    expect(expected).toBe(false);
    expect(JSON.stringify(problem)).not.toContain('hunter2');
  });

  it('maps every domain code to its status', () => {
    const expectations: Array<[ConstructorParameters<typeof DomainError>[0], number]> = [
      ['WALLET_NOT_FOUND', 404],
      ['WALLET_NOT_ACTIVE', 409],
      ['INSUFFICIENT_FUNDS', 422],
      ['CURRENCY_MISMATCH', 422],
      ['LIMIT_EXCEEDED', 422],
      ['SAME_WALLET', 422],
      ['TRANSFER_NOT_FOUND', 404],
      ['TRANSFER_NOT_PARKED', 409],
      ['TRANSFER_NOT_CANCELLABLE', 409],
      ['IDEMPOTENCY_KEY_REUSED', 422],
      ['INVALID_AMOUNT', 400],
      ['INVALID_STATE', 409],
    ];
    for (const [code, status] of expectations) {
      const { problem } = problemFromError(new DomainError(code, 'because'));
      expect([code, problem.status, problem.code, problem.detail]).toEqual([code, status, code, 'because']);
    }
  });

  it('maps a lost database connection to 503', () => {
    const { problem } = problemFromError(
      Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:5432'), { code: 'ECONNREFUSED' }),
    );
    expect(problem).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });
    expect(problem.detail).not.toContain('10.0.0.1');
  });

  it('maps a database that is down (or whose breaker is open) to 503 SHARD_UNAVAILABLE naming it, with Retry-After', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:5432'), { code: 'ECONNREFUSED' });
    const classified = problemFromError(new StoreUnavailable('db-1', 5, cause), '/v1/wallets/x');
    expect(classified).toMatchObject({
      problem: {
        status: 503,
        code: 'SHARD_UNAVAILABLE',
        type: 'https://errors.wallet.example/shard-unavailable',
        detail: 'database db-1 is unavailable; retry after 5 s',
      },
      retryAfterSeconds: 5,
      store: 'db-1',
      expected: false,
    });
    expect(JSON.stringify(classified.problem)).not.toContain('10.0.0.7');
  });

  it('answers a receiver refused before anything was written 422 with its code and no transfer id', () => {
    const { problem } = problemFromError(new TransferRefusedEarly('WALLET_NOT_ACTIVE', 'wallet w is frozen', 'w'));
    expect(problem).toMatchObject({
      status: 422,
      code: 'WALLET_NOT_ACTIVE',
      title: 'Transfer refused: wallet is not active',
    });
    expect(problem).not.toHaveProperty('transferId');
  });

  it('keeps HTTP-layer codes', () => {
    expect(problemFromError(new ApiError('INVALID_CURSOR', 'bad')).problem).toMatchObject({
      status: 400,
      code: 'INVALID_CURSOR',
    });
  });

  it('answers an undecodable URL with a problem', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/wallets/%E0%A4%A' });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
  });
});
