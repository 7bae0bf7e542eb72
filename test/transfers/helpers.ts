import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { ADMIN, createWallet, customer, postDeposit, uniqueKey } from '../api/helpers';
import { authHeaders, type TestCaller } from '../support/auth';
import { query } from '../support/sql';

export interface TransferJson {
  id: string;
  status: string;
  fromWalletId: string;
  toWalletId: string;
  amount: number;
  currency: string;
  description: string | null;
  steps: Record<string, string>;
  failure: { step: string | null; code: string; reason: string } | null;
  workflowId: string;
  runId: string | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

/** The customer owning `walletId` (looked up in the database), as the caller who may move its money. */
export async function ownerOf(app: FastifyInstance, walletId: string): Promise<TestCaller> {
  const rows: Array<{ owner_id: string }> = await query(
    app.shards.forWallet(walletId).store,
    `SELECT owner_id FROM wallets WHERE id = $1`,
    [walletId],
  );
  return customer(rows[0]?.owner_id ?? 'nobody');
}

/** POST /v1/transfers as `opts.as`, by default as the customer owning the source wallet. */
export async function postTransfer(
  app: FastifyInstance,
  body: { fromWalletId: string; toWalletId: string; amount: number; currency?: string; description?: string },
  opts: { key?: string; waitSeconds?: number; as?: TestCaller } = {},
): Promise<LightMyRequestResponse> {
  const as = opts.as ?? (await ownerOf(app, body.fromWalletId));
  const headers: Record<string, string> = { ...authHeaders(as), 'idempotency-key': opts.key ?? uniqueKey('tr') };
  if (opts.waitSeconds !== undefined) headers.prefer = `wait=${opts.waitSeconds}`;
  return app.inject({ method: 'POST', url: '/v1/transfers', headers, payload: { currency: 'EUR', ...body } });
}

export async function getTransfer(app: FastifyInstance, id: string, as: TestCaller = ADMIN): Promise<TransferJson> {
  const res = await app.inject({ method: 'GET', url: `/v1/transfers/${id}`, headers: authHeaders(as) });
  if (res.statusCode !== 200) throw new Error(`transfer read failed: ${res.statusCode} ${res.body}`);
  return res.json<TransferJson>();
}

/** Polls the transfer until it reaches `status` (the saga runs on a worker, asynchronously). */
export async function waitForStatus(app: FastifyInstance, id: string, status: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const t = await getTransfer(app, id);
    if (t.status === status) return t;
    if (Date.now() > deadline)
      throw new Error(`transfer ${id} is ${t.status}, still not ${status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function fund(app: FastifyInstance, walletId: string, amount: number): Promise<void> {
  const res = await postDeposit(app, walletId, { amount });
  if (res.statusCode !== 201) throw new Error(`deposit failed: ${res.statusCode} ${res.body}`);
}

/** A sender's wallet funded with `balance` (none when 0) and an empty receiver's wallet, of two new customers. */
export async function walletPair(app: FastifyInstance, balance: number) {
  const from = await createWallet(app);
  const to = await createWallet(app);
  if (balance > 0) await fund(app, from.id, balance);
  return { from, to };
}
