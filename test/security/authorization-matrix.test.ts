import type { FastifyInstance, InjectOptions } from 'fastify';
import { ADMIN, FINANCE, OPS, startApp, uniqueKey } from '../api/helpers';
import { bearer, type TestCaller } from '../support/auth';
import { testConfig, uniqueTaskQueue } from '../support/env';
import { buildWorld, type World } from './fixtures';
import { startTransferWorker, type RunningWorker } from '../support/transfer-worker';

/**
 * Every /v1 route × every kind of caller, with the status each cell must answer (OWASP API1/API5).
 * "customer owner" owns the object the request names; "customer non-owner" is a customer with no
 * relation to it (for POST /v1/wallets: a customer naming someone else as owner). Transfers run on a
 * task queue no worker polls, so their state stays where the test puts it.
 */
const KINDS = [
  'no token',
  'malformed',
  'expired',
  'bad signature',
  'role-less',
  'customer owner',
  'customer non-owner',
  'ops',
  'finance',
  'admin',
] as const;
type Kind = (typeof KINDS)[number];

type Row = Record<Kind, number>;
const unauthenticated = { 'no token': 401, malformed: 401, expired: 401, 'bad signature': 401, 'role-less': 401 };
/** Readable by the owner and staff; invisible (404) to other customers. */
const ownedRead: Row = {
  ...unauthenticated,
  'customer owner': 200,
  'customer non-owner': 404,
  ops: 200,
  finance: 200,
  admin: 200,
};
const financeAction = (ok: number): Row => ({
  ...unauthenticated,
  'customer owner': 403,
  'customer non-owner': 403,
  ops: 403,
  finance: ok,
  admin: ok,
});
const adminAction: Row = { ...financeAction(200), finance: 403 };
/** Staff only: ops, finance, admin. */
const staffRead: Row = {
  ...unauthenticated,
  'customer owner': 403,
  'customer non-owner': 403,
  ops: 200,
  finance: 200,
  admin: 200,
};

interface RouteCase {
  name: string;
  expected: Row;
  /** The request; `owner` is the customer owning the object, `other` the unrelated customer. */
  request: (w: MatrixWorld, kind: Kind) => InjectOptions;
  /** sent to an app whose task queue no worker polls */
  unpolled?: boolean;
}

type MatrixWorld = World & { reconciliationRunId: string };

const key = () => ({ 'idempotency-key': uniqueKey('matrix') });

const ROUTES: RouteCase[] = [
  {
    name: 'POST /v1/wallets',
    expected: {
      ...unauthenticated,
      'customer owner': 201,
      'customer non-owner': 403,
      ops: 403,
      finance: 403,
      admin: 403,
    },
    request: (w, kind) => ({
      method: 'POST',
      url: '/v1/wallets',
      // the non-owner cell: a customer opening a wallet in alice's name
      payload: kind === 'customer non-owner' ? { ownerId: w.alice.sub, currency: 'EUR' } : { currency: 'EUR' },
    }),
  },
  {
    name: 'GET /v1/wallets',
    expected: { ...ownedRead, 'customer non-owner': 200 }, // a customer's listing is scoped to its own wallets
    request: () => ({ method: 'GET', url: '/v1/wallets' }),
  },
  {
    name: 'GET /v1/wallets/:id',
    expected: ownedRead,
    request: (w) => ({ method: 'GET', url: `/v1/wallets/${w.A.id}` }),
  },
  {
    name: 'GET /v1/wallets/:id/transactions',
    expected: ownedRead,
    request: (w) => ({ method: 'GET', url: `/v1/wallets/${w.A.id}/transactions` }),
  },
  {
    name: 'POST /v1/wallets/:id/deposits',
    expected: financeAction(201),
    request: (w) => ({
      method: 'POST',
      url: `/v1/wallets/${w.A.id}/deposits`,
      headers: key(),
      payload: { amount: 10 },
    }),
  },
  {
    name: 'POST /v1/wallets/:id/freeze',
    expected: adminAction,
    request: (w) => ({ method: 'POST', url: `/v1/wallets/${w.C.id}/freeze`, payload: { reason: 'matrix' } }),
  },
  {
    name: 'POST /v1/wallets/:id/unfreeze',
    expected: adminAction,
    request: (w) => ({ method: 'POST', url: `/v1/wallets/${w.C.id}/unfreeze`, payload: { reason: 'matrix' } }),
  },
  {
    name: 'POST /v1/transfers',
    expected: {
      ...unauthenticated,
      'customer owner': 202,
      'customer non-owner': 404,
      ops: 403,
      finance: 403,
      admin: 403,
    },
    request: (w) => ({
      method: 'POST',
      url: '/v1/transfers',
      headers: key(),
      payload: { fromWalletId: w.A.id, toWalletId: w.B.id, amount: 1, currency: 'EUR' },
    }),
  },
  {
    name: 'GET /v1/transfers/:id',
    expected: ownedRead,
    request: (w) => ({ method: 'GET', url: `/v1/transfers/${w.transferId}` }),
  },
  {
    name: 'GET /v1/transfers?walletId=',
    expected: ownedRead,
    request: (w) => ({ method: 'GET', url: '/v1/transfers', query: { walletId: w.A.id } }),
  },
  {
    name: 'GET /v1/transfers?status=',
    expected: { ...ownedRead, 'customer non-owner': 200 }, // a customer's listing is scoped to its own wallets
    request: () => ({ method: 'GET', url: '/v1/transfers', query: { status: 'NEEDS_ATTENTION' } }),
  },
  {
    name: 'POST /v1/transfers/:id/retry',
    // allowed for finance and admin, then refused by the saga: the transfer is not parked
    expected: financeAction(409),
    request: (w) => ({
      method: 'POST',
      url: `/v1/transfers/${w.transferId}/retry`,
      headers: key(),
      payload: { reason: 'matrix' },
    }),
  },
  {
    name: 'POST /v1/transfers/:id/cancel',
    expected: financeAction(409),
    request: (w) => ({
      method: 'POST',
      url: `/v1/transfers/${w.transferId}/cancel`,
      headers: key(),
      payload: { reason: 'matrix' },
    }),
  },
  {
    name: 'GET /v1/me',
    // any valid token: who the caller is (the finance console reads it to know what to show)
    expected: {
      ...unauthenticated,
      'customer owner': 200,
      'customer non-owner': 200,
      ops: 200,
      finance: 200,
      admin: 200,
    },
    request: () => ({ method: 'GET', url: '/v1/me' }),
  },
  {
    name: 'GET /v1/audit?target=',
    expected: staffRead,
    request: (w) => ({ method: 'GET', url: '/v1/audit', query: { target: w.A.id } }),
  },
  {
    name: 'POST /v1/reconciliation/runs',
    expected: financeAction(202),
    // on a task queue no worker polls (app `unpolled`): the run is started, never run against the shared database
    unpolled: true,
    request: () => ({ method: 'POST', url: '/v1/reconciliation/runs', payload: { reason: 'matrix' } }),
  },
  {
    name: 'GET /v1/reconciliation/runs',
    expected: staffRead,
    request: () => ({ method: 'GET', url: '/v1/reconciliation/runs' }),
  },
  {
    name: 'GET /v1/reconciliation/runs/:id',
    expected: staffRead,
    request: (w) => ({ method: 'GET', url: `/v1/reconciliation/runs/${w.reconciliationRunId}` }),
  },
];

function authorization(kind: Kind, w: MatrixWorld): string | undefined {
  const alice = w.alice;
  switch (kind) {
    case 'no token':
      return undefined;
    case 'malformed':
      return 'Bearer not-a-jwt';
    case 'expired':
      return bearer({ ...alice, ttlSeconds: -120 });
    case 'bad signature':
      return bearer({ ...alice, secret: 'an-attacker-chosen-secret-of-sufficient-length' });
    case 'role-less':
      return bearer({ sub: alice.sub, roles: [] });
    case 'customer owner':
      return bearer(alice);
    case 'customer non-owner':
      return bearer(w.carol);
    case 'ops':
      return bearer(OPS);
    case 'finance':
      return bearer(FINANCE);
    case 'admin':
      return bearer(ADMIN);
  }
}

describe('authorization matrix: every route × every caller', () => {
  let app: FastifyInstance;
  let unpolled: FastifyInstance;
  let worker: RunningWorker;
  let world: MatrixWorld;

  beforeAll(async () => {
    const env = { TEMPORAL_TASK_QUEUE: uniqueTaskQueue('matrix') };
    worker = await startTransferWorker(testConfig(env));
    app = await startApp(env);
    unpolled = await startApp({ TEMPORAL_TASK_QUEUE: uniqueTaskQueue('matrix-unpolled') });
    const base = await buildWorld(app);
    const run = await unpolled.inject({
      method: 'POST',
      url: '/v1/reconciliation/runs',
      headers: { authorization: bearer(FINANCE) },
      payload: { reason: 'matrix' },
    });
    world = { ...base, reconciliationRunId: run.json<{ id: string }>().id };
  });
  afterAll(async () => {
    await app?.close();
    await unpolled?.close();
    await worker?.stop();
  });

  const cells = ROUTES.flatMap((route) =>
    KINDS.map((kind) => [route.name, kind, route.expected[kind], route] as const),
  );

  it.each(cells)('%s as %s → %i', async (_name, kind, status, route) => {
    const request = route.request(world, kind);
    const auth = authorization(kind, world);
    const res = await (route.unpolled ? unpolled : app).inject({
      ...request,
      headers: { ...(request.headers as Record<string, string>), ...(auth ? { authorization: auth } : {}) },
    });

    expect(res.statusCode).toBe(status);
    if (status >= 400) {
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      const code = res.json<{ code: string }>().code;
      if (status === 401) {
        expect(code).toBe('UNAUTHENTICATED');
        expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="wallet"/);
      }
      if (status === 403) expect(code).toBe('FORBIDDEN');
      if (status === 404) expect(code).toMatch(/^(WALLET|TRANSFER)_NOT_FOUND$/);
      if (status === 409) expect(code).toBe('TRANSFER_NOT_PARKED');
    }
  });

  it('answers a customer exactly the same for a wallet it may not see and one that does not exist', async () => {
    const asCarol = { authorization: bearer(world.carol) };
    const missing = '00000000-0000-4000-8000-0000000000aa';
    const pairs: Array<[string, string]> = [
      [`/v1/wallets/${world.A.id}`, `/v1/wallets/${missing}`],
      [`/v1/wallets/${world.A.id}/transactions`, `/v1/wallets/${missing}/transactions`],
      [`/v1/transfers/${world.transferId}`, `/v1/transfers/${missing}`],
      [`/v1/transfers?walletId=${world.A.id}`, `/v1/transfers?walletId=${missing}`],
    ];
    for (const [hidden, absent] of pairs) {
      const a = await app.inject({ method: 'GET', url: hidden, headers: asCarol });
      const b = await app.inject({ method: 'GET', url: absent, headers: asCarol });
      const strip = (body: Record<string, unknown>, id: string) =>
        JSON.stringify({ ...body, requestId: undefined, instance: undefined }).replaceAll(id, '<id>');
      const idOf = (url: string) => /[0-9a-f-]{36}/.exec(url)![0];
      expect([a.statusCode, strip(a.json(), idOf(hidden))]).toEqual([b.statusCode, strip(b.json(), idOf(absent))]);
    }
  });

  it('lets the payee see a transfer it received, and scopes customer listings to their own wallets', async () => {
    const asBob = { authorization: bearer(world.bob) };
    expect(
      (await app.inject({ method: 'GET', url: `/v1/transfers/${world.transferId}`, headers: asBob })).statusCode,
    ).toBe(200);

    const ids = async (as: TestCaller, query: Record<string, string> = {}) => {
      const res = await app.inject({
        method: 'GET',
        url: '/v1/transfers',
        query,
        headers: { authorization: bearer(as) },
      });
      expect(res.statusCode).toBe(200);
      return res.json<{ items: Array<{ id: string }> }>().items.map((t) => t.id);
    };
    expect(await ids(world.alice)).toContain(world.transferId);
    expect(await ids(world.bob)).toContain(world.transferId);
    expect(await ids(world.bob, { walletId: world.B.id })).toContain(world.transferId);
    expect(await ids(world.carol)).toEqual([]);
    expect(await ids(world.carol, { status: 'COMPLETED' })).toEqual([]);
    expect(await ids(OPS, { status: 'COMPLETED' })).toContain(world.transferId);

    /** The wallets `as` lists, each with its owner (the matrix above opens more of alice's). */
    const wallets = async (as: TestCaller, query: Record<string, string> = {}) => {
      const res = await app.inject({
        method: 'GET',
        url: '/v1/wallets',
        query,
        headers: { authorization: bearer(as) },
      });
      expect(res.statusCode).toBe(200);
      return res.json<{ items: Array<{ id: string; ownerId: string }> }>().items;
    };
    const alices = await wallets(world.alice);
    expect(alices.map((w) => w.id)).toEqual(expect.arrayContaining([world.A.id, world.C.id]));
    expect(new Set(alices.map((w) => w.ownerId))).toEqual(new Set([world.alice.sub]));
    expect((await wallets(world.carol)).map((w) => w.id)).toEqual([world.D.id]);
    expect(await wallets(world.carol, { ownerId: world.alice.sub })).toEqual([]); // not hers to list
    expect(await wallets(OPS, { ownerId: world.alice.sub })).toEqual(alices);
  });

  it('lets a customer pay into anyone’s existing wallet, never out of someone else’s', async () => {
    const asAlice = { authorization: bearer(world.alice) };
    const pay = (from: string, to: string) =>
      app.inject({
        method: 'POST',
        url: '/v1/transfers',
        headers: { ...asAlice, 'idempotency-key': uniqueKey('pay') },
        payload: { fromWalletId: from, toWalletId: to, amount: 5, currency: 'EUR' },
      });
    expect((await pay(world.A.id, world.D.id)).statusCode).toBe(202); // into carol's wallet
    // a receiver that does not exist: refused before anything is written (422, like the saga's refusals)
    const missing = await pay(world.A.id, '00000000-0000-4000-8000-0000000000bb');
    expect([missing.statusCode, missing.json().code]).toEqual([422, 'WALLET_NOT_FOUND']);
    const stolen = await pay(world.D.id, world.A.id); // out of carol's wallet
    expect([stolen.statusCode, stolen.json().code]).toEqual([404, 'WALLET_NOT_FOUND']);
  });

  it('keeps the public routes public, whatever token is sent', async () => {
    for (const url of ['/health/live', '/openapi.json']) {
      for (const authorization of [undefined, 'Bearer not-a-jwt', bearer(world.alice)]) {
        const res = await app.inject({ method: 'GET', url, headers: authorization ? { authorization } : {} });
        expect([url, res.statusCode]).toEqual([url, 200]);
      }
    }
  });
});
