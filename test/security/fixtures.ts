import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { authHeaders, type TestCaller } from '../support/auth';
import { customer, FINANCE, uniqueKey, type WalletJson } from '../api/helpers';

/**
 * A small world for the authorization tests, built through the API: customers alice (wallets A and C,
 * A funded), bob (wallet B, the payee) and carol (wallet D, unrelated to everything else), and a
 * transfer T from A to B started by alice.
 */
export interface World {
  alice: TestCaller;
  bob: TestCaller;
  carol: TestCaller;
  A: WalletJson;
  B: WalletJson;
  C: WalletJson;
  D: WalletJson;
  transferId: string;
}

export async function createWalletAs(app: FastifyInstance, as: TestCaller, currency = 'EUR'): Promise<WalletJson> {
  const res = await app.inject({ method: 'POST', url: '/v1/wallets', headers: authHeaders(as), payload: { currency } });
  if (res.statusCode !== 201) throw new Error(`wallet creation failed: ${res.statusCode} ${res.body}`);
  return res.json<WalletJson>();
}

export function transferAs(
  app: FastifyInstance,
  as: TestCaller,
  body: { fromWalletId: string; toWalletId: string; amount: number },
  key = uniqueKey('tr'),
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: '/v1/transfers',
    headers: { ...authHeaders(as), 'idempotency-key': key },
    payload: { currency: 'EUR', ...body },
  });
}

export async function buildWorld(app: FastifyInstance): Promise<World> {
  const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((n) => customer(uniqueKey(n))) as [TestCaller, TestCaller, TestCaller];
  const A = await createWalletAs(app, alice);
  const C = await createWalletAs(app, alice);
  const B = await createWalletAs(app, bob);
  const D = await createWalletAs(app, carol);
  const funded = await app.inject({
    method: 'POST',
    url: `/v1/wallets/${A.id}/deposits`,
    headers: { ...authHeaders(FINANCE), 'idempotency-key': uniqueKey('fund') },
    payload: { amount: 100_000 },
  });
  if (funded.statusCode !== 201) throw new Error(`funding failed: ${funded.statusCode} ${funded.body}`);
  const t = await transferAs(app, alice, { fromWalletId: A.id, toWalletId: B.id, amount: 100 });
  if (t.statusCode !== 202) throw new Error(`transfer failed: ${t.statusCode} ${t.body}`);
  return { alice, bob, carol, A, B, C, D, transferId: t.json<{ id: string }>().id };
}

/**
 * Puts a transfer into NEEDS_ATTENTION in the database only. Used where no worker runs the saga (its
 * workflow stays open on the dev server and takes signals), so finance's decisions can be exercised
 * without waiting for a step to exhaust its budget; test/security/audit.test.ts parks transfers for real.
 */
export async function markParked(app: FastifyInstance, transferId: string): Promise<void> {
  await app.db.query(
    `UPDATE transfers SET status = 'NEEDS_ATTENTION', failed_step = 'accounting', failure_code = 'STEP_RETRIES_EXHAUSTED',
            failure_reason = 'accounting system unavailable (test)' WHERE id = $1`,
    [transferId],
  );
}
