import type { FastifyInstance, InjectOptions } from 'fastify';
import { setWalletStatus } from '../../domain/wallets';
import { authHeaders } from '../support/auth';
import {
  ADMIN,
  createWallet,
  customer,
  FINANCE,
  expectProblem,
  getWallet,
  idempotencyRecordCount,
  lineCount,
  postDeposit,
  startApp,
  uniqueKey,
  type WalletJson,
} from './helpers';
import { query } from '../support/sql';

/**
 * Every route refuses bad input with a 4xx problem carrying a stable code, never a 5xx,
 * and writes nothing.
 */
describe('bad input', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(async () => {
    await app.close();
  });

  describe('POST /v1/wallets/:id/deposits', () => {
    let wallet: WalletJson;

    beforeAll(async () => {
      wallet = await createWallet(app);
      // one real deposit, so "nothing written" is checked against a non-empty history
      const res = await app.inject({
        method: 'POST',
        url: `/v1/wallets/${wallet.id}/deposits`,
        headers: { ...authHeaders(FINANCE), 'idempotency-key': uniqueKey() },
        payload: { amount: 1000 },
      });
      expect(res.statusCode).toBe(201);
    });

    const json = (payload: string) => ({ payload, headers: { 'content-type': 'application/json' } });
    const cases: Array<[string, Partial<InjectOptions> & { key?: string | null; walletId?: string }, number, string]> =
      [
        ['a float amount', { payload: { amount: 12.5 } }, 400, 'VALIDATION_FAILED'],
        ['a negative amount', { payload: { amount: -5 } }, 400, 'VALIDATION_FAILED'],
        ['a zero amount', { payload: { amount: 0 } }, 400, 'VALIDATION_FAILED'],
        ['a string amount', { payload: { amount: '100' } }, 400, 'VALIDATION_FAILED'],
        ['a null amount', { payload: { amount: null } }, 400, 'VALIDATION_FAILED'],
        ['an amount of 2^63', json('{"amount":9223372036854775808}'), 400, 'VALIDATION_FAILED'],
        ['an amount above MAX_AMOUNT_MINOR', { payload: { amount: 100000000001 } }, 400, 'VALIDATION_FAILED'],
        ['no amount', { payload: { reference: 'x' } }, 400, 'VALIDATION_FAILED'],
        ['an extra field', { payload: { amount: 100, currency: 'EUR' } }, 400, 'VALIDATION_FAILED'],
        [
          'a reference of 141 characters',
          { payload: { amount: 100, reference: 'r'.repeat(141) } },
          400,
          'VALIDATION_FAILED',
        ],
        [
          'a reference with a NUL character',
          { payload: { amount: 100, reference: 'a\u0000b' } },
          400,
          'VALIDATION_FAILED',
        ],
        ['a JSON array body', json('[{"amount":100}]'), 400, 'VALIDATION_FAILED'],
        ['an empty JSON body', json(''), 400, 'MALFORMED_JSON'],
        ['malformed JSON', json('{"amount": 100'), 400, 'MALFORMED_JSON'],
        ['a __proto__ key', json('{"amount":100,"__proto__":{"x":1}}'), 400, 'MALFORMED_JSON'],
        ['no body at all', {}, 400, 'VALIDATION_FAILED'],
        [
          'a text/plain body',
          { payload: '{"amount":100}', headers: { 'content-type': 'text/plain' } },
          415,
          'UNSUPPORTED_MEDIA_TYPE',
        ],
        [
          'a body over the size limit',
          { payload: { amount: 100, reference: 'x'.repeat(20_000) } },
          413,
          'PAYLOAD_TOO_LARGE',
        ],
        ['no Idempotency-Key', { payload: { amount: 100 }, key: null }, 400, 'IDEMPOTENCY_KEY_MISSING'],
        ['an empty Idempotency-Key', { payload: { amount: 100 }, key: '' }, 400, 'IDEMPOTENCY_KEY_INVALID'],
        ['a blank Idempotency-Key', { payload: { amount: 100 }, key: '   ' }, 400, 'IDEMPOTENCY_KEY_INVALID'],
        [
          'an Idempotency-Key of 256 characters',
          { payload: { amount: 100 }, key: 'k'.repeat(256) },
          400,
          'IDEMPOTENCY_KEY_INVALID',
        ],
        ['a non-ASCII Idempotency-Key', { payload: { amount: 100 }, key: 'caf\u00e9' }, 400, 'IDEMPOTENCY_KEY_INVALID'],
        ['an Idempotency-Key with a tab', { payload: { amount: 100 }, key: 'a\tb' }, 400, 'IDEMPOTENCY_KEY_INVALID'],
        ['a malformed wallet id', { payload: { amount: 100 }, walletId: 'not-a-uuid' }, 400, 'VALIDATION_FAILED'],
        [
          'a urn: wallet id',
          { payload: { amount: 100 }, walletId: `urn:uuid:00000000-0000-4000-8000-000000000000` },
          400,
          'VALIDATION_FAILED',
        ],
        [
          'an unknown wallet',
          { payload: { amount: 100 }, walletId: '00000000-0000-4000-8000-00000000abcd' },
          404,
          'WALLET_NOT_FOUND',
        ],
      ];

    it.each(cases)('refuses %s', async (_name, { key, walletId, ...request }, status, code) => {
      const before = await getWallet(app, wallet.id);
      const linesBefore = await lineCount(app.shards, wallet.id);
      const idempotencyKey = key === undefined ? uniqueKey() : key;

      const res = await app.inject({
        method: 'POST',
        url: `/v1/wallets/${walletId ?? wallet.id}/deposits`,
        ...request,
        headers: {
          ...authHeaders(FINANCE),
          ...request.headers,
          ...(idempotencyKey === null ? {} : { 'idempotency-key': idempotencyKey }),
        },
      } as InjectOptions);

      expectProblem(res, status, code);
      expect(await getWallet(app, wallet.id)).toEqual(before);
      expect(await lineCount(app.shards, wallet.id)).toBe(linesBefore);
      if (idempotencyKey) expect(await idempotencyRecordCount(app.shards, idempotencyKey)).toBe(0);
    });

    it('lists every failing field of a body', async () => {
      const res = await app.inject({
        method: 'POST',
        url: `/v1/wallets/${wallet.id}/deposits`,
        headers: { ...authHeaders(FINANCE), 'idempotency-key': uniqueKey() },
        payload: { amount: 1.5, reference: 7, extra: true },
      });
      const problem = expectProblem(res, 400, 'VALIDATION_FAILED');
      expect(problem.errors).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ in: 'body', path: '/amount' }),
          expect.objectContaining({ in: 'body', path: '/reference' }),
          expect.objectContaining({ in: 'body', path: '/extra' }),
        ]),
      );
    });

    it('refuses a deposit into a frozen wallet with 409 and releases the key', async () => {
      const frozen = await createWallet(app);
      await setWalletStatus(app.shards.forWallet(frozen.id).store, frozen.id, 'frozen');
      const key = uniqueKey();

      const res = await app.inject({
        method: 'POST',
        url: `/v1/wallets/${frozen.id}/deposits`,
        headers: { ...authHeaders(FINANCE), 'idempotency-key': key },
        payload: { amount: 100 },
      });

      expectProblem(res, 409, 'WALLET_NOT_ACTIVE');
      expect(await lineCount(app.shards, frozen.id)).toBe(0);
      expect(await idempotencyRecordCount(app.shards, key)).toBe(0);
    });
  });

  describe('POST /v1/wallets', () => {
    /** The owner's wallets on every wallet database (a refused creation writes on none). */
    async function walletsOf(ownerId: string): Promise<number> {
      let n = 0;
      for (const db of app.shards.databases) {
        const rows: Array<{ n: number }> = await query(
          db.store,
          `SELECT count(*)::int AS n FROM wallets WHERE owner_id = $1`,
          [ownerId],
        );
        n += rows[0]!.n;
      }
      return n;
    }

    const cases: Array<[string, (ownerId: string) => Partial<InjectOptions>, number, string]> = [
      ['an unknown currency', (ownerId) => ({ payload: { ownerId, currency: 'ABC' } }), 400, 'VALIDATION_FAILED'],
      ['a lowercase currency', (ownerId) => ({ payload: { ownerId, currency: 'eur' } }), 400, 'VALIDATION_FAILED'],
      ['a numeric currency', (ownerId) => ({ payload: { ownerId, currency: 978 } }), 400, 'VALIDATION_FAILED'],
      ['no currency', (ownerId) => ({ payload: { ownerId } }), 400, 'VALIDATION_FAILED'],
      ['an empty owner', () => ({ payload: { ownerId: '', currency: 'EUR' } }), 400, 'VALIDATION_FAILED'],
      [
        'an owner with a NUL character',
        (ownerId) => ({ payload: { ownerId: `${ownerId}\u0000`, currency: 'EUR' } }),
        400,
        'VALIDATION_FAILED',
      ],
      ['a numeric owner', () => ({ payload: { ownerId: 42, currency: 'EUR' } }), 400, 'VALIDATION_FAILED'],
      [
        'an extra field',
        (ownerId) => ({ payload: { ownerId, currency: 'EUR', balance: 100 } }),
        400,
        'VALIDATION_FAILED',
      ],
      ['an empty object', () => ({ payload: {} }), 400, 'VALIDATION_FAILED'],
      [
        'an empty JSON body',
        () => ({ payload: '', headers: { 'content-type': 'application/json' } }),
        400,
        'MALFORMED_JSON',
      ],
      [
        'malformed JSON',
        (ownerId) => ({ payload: `{"ownerId":"${ownerId}",`, headers: { 'content-type': 'application/json' } }),
        400,
        'MALFORMED_JSON',
      ],
      [
        'a text/plain body',
        (ownerId) => ({
          payload: JSON.stringify({ ownerId, currency: 'EUR' }),
          headers: { 'content-type': 'text/plain' },
        }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      ],
    ];

    it.each(cases)('refuses %s', async (_name, build, status, code) => {
      const ownerId = uniqueKey('owner');
      const request = build(ownerId);
      const res = await app.inject({
        method: 'POST',
        url: '/v1/wallets',
        ...request,
        headers: { ...authHeaders(customer(ownerId)), ...request.headers },
      } as InjectOptions);
      expectProblem(res, status, code);
      expect(await walletsOf(ownerId)).toBe(0);
    });
  });

  describe('GET /v1/wallets/:id', () => {
    it.each([['not-a-uuid'], ['123'], ['00000000-0000-4000-8000-00000000000g'], ["'; DROP TABLE wallets; --"]])(
      'refuses the malformed id %p',
      async (id) => {
        const res = await app.inject({
          method: 'GET',
          url: `/v1/wallets/${encodeURIComponent(id)}`,
          headers: authHeaders(ADMIN),
        });
        expectProblem(res, 400, 'VALIDATION_FAILED');
      },
    );
  });

  describe('GET /v1/wallets/:id/transactions', () => {
    let wallet: WalletJson;
    beforeAll(async () => {
      wallet = await createWallet(app);
    });

    const cases: Array<[string, Record<string, string>, string]> = [
      ['limit=0', { limit: '0' }, 'VALIDATION_FAILED'],
      ['limit=101', { limit: '101' }, 'VALIDATION_FAILED'],
      ['limit=-1', { limit: '-1' }, 'VALIDATION_FAILED'],
      ['limit=1.5', { limit: '1.5' }, 'VALIDATION_FAILED'],
      ['limit=abc', { limit: 'abc' }, 'VALIDATION_FAILED'],
      ['a cursor that is not a number', { cursor: '!!!' }, 'VALIDATION_FAILED'],
      ['a cursor of the old base64 form', { cursor: Buffer.from('12').toString('base64url') }, 'VALIDATION_FAILED'],
      ['cursor=0', { cursor: '0' }, 'VALIDATION_FAILED'],
      ['a negative cursor', { cursor: '-1' }, 'VALIDATION_FAILED'],
      ['a cursor with a leading zero', { cursor: '012' }, 'VALIDATION_FAILED'],
      ['a cursor of 20 digits', { cursor: '12345678901234567890' }, 'VALIDATION_FAILED'],
    ];

    it.each(cases)('refuses %s', async (_name, query, code) => {
      const res = await app.inject({
        method: 'GET',
        url: `/v1/wallets/${wallet.id}/transactions`,
        query,
        headers: authHeaders(ADMIN),
      });
      expectProblem(res, 400, code);
    });

    // the OpenAPI document admits any 1-19 digit key, so the API must accept every one (schemathesis'
    // positive-data check): a key past int8 is newer than every line, so its page is the first page
    it('accepts a cursor beyond int8 as newer than every line', async () => {
      expect((await postDeposit(app, wallet.id, { amount: 5, reference: 'cursor beyond int8' })).statusCode).toBe(201);
      const page = (query: Record<string, string>) =>
        app.inject({ method: 'GET', url: `/v1/wallets/${wallet.id}/transactions`, query, headers: authHeaders(ADMIN) });
      const beyond = await page({ cursor: '9999999999999999999' });
      expect(beyond.statusCode).toBe(200);
      expect(beyond.json().items).toHaveLength(1);
      expect(beyond.json()).toEqual((await page({})).json());
    });

    it('refuses a malformed wallet id', async () => {
      const res = await app.inject({
        method: 'GET',
        url: '/v1/wallets/nope/transactions',
        headers: authHeaders(ADMIN),
      });
      expectProblem(res, 400, 'VALIDATION_FAILED');
    });
  });
});
