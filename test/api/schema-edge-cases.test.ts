import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { authHeaders } from '../support/auth';
import { query } from '../support/sql';
import { ADMIN, FINANCE, createWallet, customer, expectProblem, getWallet, startApp, uniqueKey } from './helpers';

/**
 * Edge cases an outside fuzz found in the request schemas (issue 17 §7): a query string where a route
 * takes none, a reason that says nothing or hides a line break, a long Prefer header.
 */
describe('request schema edge cases', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(async () => {
    await app.close();
  });

  const auditRows = async (targetId: string): Promise<number> => {
    // a wallet's audit rows are on its own database
    const rows: Array<{ n: number }> = await query(
      app.shards.forWallet(targetId).store,
      `SELECT count(*)::int AS n FROM audit_log WHERE target_id = $1`,
      [targetId],
    );
    return rows[0]!.n;
  };

  describe('a query parameter on a route that takes none', () => {
    it.each([
      ['GET /v1/wallets/{id}', 'wallet'],
      ['GET /v1/transfers/{id}', 'transfer'],
      ['GET /v1/me', 'me'],
      ['GET /v1/reconciliation/runs/{id}', 'run'],
    ])('is refused on %s (400, like an unknown one elsewhere)', async (_name, what) => {
      const wallet = await createWallet(app);
      const url = {
        wallet: `/v1/wallets/${wallet.id}`,
        transfer: `/v1/transfers/${randomUUID()}`,
        me: '/v1/me',
        run: `/v1/reconciliation/runs/${randomUUID()}`,
      }[what]!;
      const res = await app.inject({ method: 'GET', url: `${url}?verbose=1`, headers: authHeaders(ADMIN) });
      const problem = expectProblem(res, 400, 'VALIDATION_FAILED');
      expect(problem.errors).toEqual([expect.objectContaining({ in: 'querystring' })]);
    });

    it('is refused on a POST too, before anything is done', async () => {
      const wallet = await createWallet(app);
      const res = await app.inject({
        method: 'POST',
        url: `/v1/wallets/${wallet.id}/freeze?force=true`,
        headers: authHeaders(ADMIN),
        payload: { reason: 'suspected takeover' },
      });
      expectProblem(res, 400, 'VALIDATION_FAILED');
      expect((await getWallet(app, wallet.id)).status).toBe('active');
    });

    it('leaves the same routes working without one', async () => {
      const wallet = await createWallet(app);
      expect(
        (await app.inject({ method: 'GET', url: `/v1/wallets/${wallet.id}`, headers: authHeaders(ADMIN) })).statusCode,
      ).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/v1/me', headers: authHeaders(ADMIN) })).statusCode).toBe(200);
    });
  });

  describe('a reason', () => {
    const blankOrHidden: Array<[string, string]> = [
      ['only spaces', '   '],
      ['only an ideographic space and a no-break space', '\u3000\u00a0'],
      ['a NEL (U+0085)', 'fraud\u0085suspected'],
      ['a line separator (U+2028)', 'fraud\u2028suspected'],
      ['a paragraph separator (U+2029)', 'fraud\u2029suspected'],
      ['a C1 control (U+009B)', 'fraud\u009b2J'],
    ];

    it.each(blankOrHidden)('of %s is refused for a freeze, and nothing is audited', async (_name, reason) => {
      const wallet = await createWallet(app);
      const res = await app.inject({
        method: 'POST',
        url: `/v1/wallets/${wallet.id}/freeze`,
        headers: authHeaders(ADMIN),
        payload: { reason },
      });
      expectProblem(res, 400, 'VALIDATION_FAILED');
      expect((await getWallet(app, wallet.id)).status).toBe('active');
      expect(await auditRows(wallet.id)).toBe(0);
    });

    it.each(blankOrHidden)(
      'of %s is refused for a reconciliation run and a finance decision',
      async (_name, reason) => {
        const run = await app.inject({
          method: 'POST',
          url: '/v1/reconciliation/runs',
          headers: authHeaders(FINANCE),
          payload: { reason },
        });
        expectProblem(run, 400, 'VALIDATION_FAILED');
        for (const action of ['retry', 'cancel']) {
          const id = randomUUID(); // validation comes first: an unknown transfer would be a 404
          const res = await app.inject({
            method: 'POST',
            url: `/v1/transfers/${id}/${action}`,
            headers: { ...authHeaders(FINANCE), 'idempotency-key': uniqueKey() },
            payload: { reason },
          });
          expectProblem(res, 400, 'VALIDATION_FAILED');
        }
      },
    );

    it('with spaces around its words is accepted and audited as given', async () => {
      const wallet = await createWallet(app);
      const reason = '  identity re-verified (CASE-311) ';
      const res = await app.inject({
        method: 'POST',
        url: `/v1/wallets/${wallet.id}/freeze`,
        headers: authHeaders(ADMIN),
        payload: { reason },
      });
      expect(res.statusCode).toBe(200);
      const rows: Array<{ reason: string }> = await query(
        app.shards.forWallet(wallet.id).store,
        `SELECT reason FROM audit_log WHERE target_id = $1`,
        [wallet.id],
      );
      expect(rows).toEqual([{ reason }]);
    });
  });

  describe('a Prefer header', () => {
    it('longer than 200 characters is not refused: the preferences not understood are ignored (RFC 7240)', async () => {
      const owner = uniqueKey('prefer-owner');
      // a source wallet that is not the caller's: answered 404 after validation, before any saga starts
      const from = await createWallet(app, 'EUR', uniqueKey('someone-else'));
      const to = await createWallet(app, 'EUR', owner);
      const res = await app.inject({
        method: 'POST',
        url: '/v1/transfers',
        headers: {
          ...authHeaders(customer(owner)),
          'idempotency-key': uniqueKey(),
          prefer: `respond-async, x-trace="${'a'.repeat(3000)}", wait=1`,
        },
        payload: { fromWalletId: from.id, toWalletId: to.id, amount: 100, currency: 'EUR' },
      });
      expectProblem(res, 404, 'WALLET_NOT_FOUND');
    });
  });
});
