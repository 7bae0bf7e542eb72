import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { authHeaders, type TestCaller } from '../support/auth';
import { customer, FINANCE, uniqueKey, type WalletJson } from '../api/helpers';

/**
 * A small world for the authorization tests, built through the API: customers alice (wallets A and C,
 * A funded), bob (wallet B, the payee) and carol (wallet D, unrelated to everything else), and a
 * completed transfer T from A to B started by alice (so finance's decisions on it are refused by the
 * saga with 409: past authorization, and nothing changes).
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
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: '/v1/transfers',
    headers: { ...authHeaders(as), 'idempotency-key': key, ...headers },
    payload: { currency: 'EUR', ...body },
  });
}

export async function buildWorld(app: FastifyInstance): Promise<World> {
  const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((n) => customer(uniqueKey(n))) as [
    TestCaller,
    TestCaller,
    TestCaller,
  ];
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
  // finished before the tests look at it (a worker on the app's task queue runs the saga)
  const t = await transferAs(app, alice, { fromWalletId: A.id, toWalletId: B.id, amount: 100 }, uniqueKey('tr'), {
    prefer: 'wait=30',
  });
  if (t.statusCode !== 200) throw new Error(`transfer failed: ${t.statusCode} ${t.body}`);
  return { alice, bob, carol, A, B, C, D, transferId: t.json<{ id: string }>().id };
}
