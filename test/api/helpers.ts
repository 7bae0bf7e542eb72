import { createServer } from 'node:net';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { ShardSet } from '../../db/shards';
import type { Store } from '../../db/store';
import { isShardSet, walletStore } from '../support/wallets';
import { buildApp } from '../../api/app';
import { authHeaders, type TestCaller } from '../support/auth';
import { ownDatabase, testConfig } from '../support/env';
import { query } from '../support/sql';

/**
 * Component-test helpers: the real app (buildApp) on the run's Postgres, Redis and Temporal,
 * driven through app.inject. Every test creates the records it looks at.
 */

export function startApp(overrides: NodeJS.ProcessEnv = {}): Promise<FastifyInstance> {
  return buildApp({ config: testConfig(overrides), logger: false });
}

/** The callers the helpers act as unless told otherwise: staff that may read everything and deposit. */
export const ADMIN: TestCaller = { sub: 'test-admin', roles: ['admin'] };
export const FINANCE: TestCaller = { sub: 'test-finance', roles: ['finance'] };
export const OPS: TestCaller = { sub: 'test-ops', roles: ['ops'] };
/** A customer caller named `sub` (wallets it creates are owned by `sub`). */
export const customer = (sub: string): TestCaller => ({ sub, roles: ['customer'] });

export interface WalletJson {
  id: string;
  ownerId: string;
  currency: string;
  status: string;
  balance: number;
  held: number;
  available: number;
  createdAt: string;
  updatedAt: string;
}

let seq = 0;
/** A key nobody else in this run uses. */
export function uniqueKey(prefix = 'key'): string {
  seq += 1;
  return `${prefix}-${process.pid}-${Date.now()}-${seq}`;
}

/**
 * A fresh owner id whose wallets the routing puts on wallet database `index` (of app.shards.databases):
 * for a test that must know where its rows are (e.g. the database it takes away).
 */
export function ownerOnDatabase(app: FastifyInstance, index: number, prefix = 'owner'): string {
  const target = app.shards.databases[index];
  if (!target) throw new Error(`no wallet database ${index} (the run has ${app.shards.databases.length})`);
  for (;;) {
    const ownerId = uniqueKey(prefix);
    if (app.shards.forOwner(ownerId) === target) return ownerId;
  }
}

/** A wallet of the customer `ownerId` (a fresh one by default), created by that customer through the API. */
export async function createWallet(
  app: FastifyInstance,
  currency = 'EUR',
  ownerId = uniqueKey('owner'),
): Promise<WalletJson> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/wallets',
    headers: authHeaders(customer(ownerId)),
    payload: { ownerId, currency },
  });
  if (res.statusCode !== 201) throw new Error(`wallet creation failed: ${res.statusCode} ${res.body}`);
  return res.json<WalletJson>();
}

export async function getWallet(app: FastifyInstance, id: string, as: TestCaller = ADMIN): Promise<WalletJson> {
  const res = await app.inject({ method: 'GET', url: `/v1/wallets/${id}`, headers: authHeaders(as) });
  if (res.statusCode !== 200) throw new Error(`wallet read failed: ${res.statusCode} ${res.body}`);
  return res.json<WalletJson>();
}

export function postDeposit(
  app: FastifyInstance,
  walletId: string,
  payload: unknown,
  key: string | undefined = uniqueKey('dep'),
  as: TestCaller = FINANCE,
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: `/v1/wallets/${walletId}/deposits`,
    headers: { ...authHeaders(as), ...(key === undefined ? {} : { 'idempotency-key': key }) },
    payload: payload as object,
  });
}

/** Ledger lines booked on a wallet (on its shard database when given a ShardSet): the "nothing was written" probe. */
export async function lineCount(db: Store | ShardSet, walletId: string): Promise<number> {
  const rows: Array<{ n: number }> = await query(
    walletStore(db, walletId),
    `SELECT count(*)::int AS n FROM ledger_lines WHERE wallet_id = $1`,
    [walletId],
  );
  return rows[0]!.n;
}

/** Idempotency records with this key, on every database of a ShardSet. */
export async function idempotencyRecordCount(db: Store | ShardSet, key: string): Promise<number> {
  let n = 0;
  for (const ds of isShardSet(db) ? db.databases.map((d) => d.store) : [db]) {
    const rows: Array<{ n: number }> = await query(
      ds,
      `SELECT count(*)::int AS n FROM idempotency_records WHERE idempotency_key = $1`,
      [key],
    );
    n += rows[0]!.n;
  }
  return n;
}

/** The rows `sql` returns on every database of a ShardSet (or on the one Store), one list. */
export async function rowsOnEvery<T>(db: Store | ShardSet, sql: string, params: unknown[] = []): Promise<T[]> {
  const parts = await Promise.all(
    (isShardSet(db) ? db.databases.map((d) => d.store) : [db]).map((ds) => query<T>(ds, sql, params)),
  );
  return parts.flat();
}

/** `sql` returning one row `{ n }` on every database, summed: e.g. rows written anywhere. */
export async function countOnEvery(db: Store | ShardSet, sql: string, params: unknown[] = []): Promise<number> {
  const rows = await rowsOnEvery<{ n: number | string }>(db, sql, params);
  return rows.reduce((sum, r) => sum + Number(r.n), 0);
}

/** Asserts an RFC 9457 problem with the given status and stable code; returns its body. */
export function expectProblem(res: LightMyRequestResponse, status: number, code: string) {
  const body = res.json<{
    type: string;
    title: string;
    status: number;
    code: string;
    detail: string;
    errors?: unknown[];
  }>();
  expect({ status: res.statusCode, code: body.code }).toEqual({ status, code });
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(body.status).toBe(status);
  expect(body.type).toBe(`https://errors.wallet.example/${code.toLowerCase().replace(/_/g, '-')}`);
  expect(typeof body.title).toBe('string');
  expect(typeof body.detail).toBe('string');
  return body;
}

/** A TCP port on which nothing listens (bound once by us, then released). */
export function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Wallet databases of a test file's own (created and migrated in beforeAll, dropped in afterAll): an app
 * on `overrides` has exactly these, database 0 first (the accounting book in it), whatever the run's
 * shard count. For a test that must see only its own rows across databases, or take one away.
 */
export function ownDatabases(label: string, count = 2) {
  const databases = Array.from({ length: count }, (_, i) => ownDatabase(`${label}_${i}`));
  return {
    databases,
    overrides: {
      DATABASE_URL: databases[0]!.url,
      SHARD_DATABASE_URLS: databases
        .slice(1)
        .map((d) => d.url)
        .join(','),
      SHARD_MAP: '',
      ACCOUNTING_DATABASE_URL: '',
    } as NodeJS.ProcessEnv,
    /** the Postgres name of database `index` */
    nameOf: (index: number) => new URL(databases[index]!.url).pathname.slice(1),
    create: async () => {
      await Promise.all(databases.map((d) => d.create()));
    },
    drop: async () => {
      await Promise.all(databases.map((d) => d.drop()));
    },
  };
}
