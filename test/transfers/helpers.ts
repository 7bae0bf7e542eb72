import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { shardOfOwner } from '../../domain/shards';
import { ADMIN, createWallet, customer, postDeposit, uniqueKey } from '../api/helpers';
import { testConfig } from '../support/env';
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

/**
 * The prefix of the replay fixtures of the saga's cross-shard path (the cross-shard patch), recorded by
 * cross-shard.test.ts and replayed by replay.test.ts.
 */
export const CROSS_SHARD_FIXTURES = 'v2.2-cross-shard';

/** How many wallet shard databases this run has (TEST_WALLET_SHARDS). */
export function databaseCount(): number {
  return testConfig().shardDatabaseUrls.length;
}

/**
 * A new owner id whose logical shard lives on database `index` (by SHARD_MAP; the last database when the run
 * has fewer), and not on any of the logical shards in `avoid`: e.g. two owners on two logical shards of
 * two databases for a cross-database transfer.
 */
export function ownerOnShardDatabase(index: number, prefix = 'owner', avoid: number[] = []): string {
  const { shardMap } = testConfig();
  const wanted = Math.min(index, databaseCount() - 1);
  for (;;) {
    const owner = uniqueKey(prefix);
    const shard = shardOfOwner(owner);
    if (shardMap[shard] === wanted && !avoid.includes(shard)) return owner;
  }
}

/**
 * A new owner id on logical shard `shard`: with shard 0 a transfer id is the same whether or not the
 * caller's API mints it with the sender's shard (domain/ids.ts transferIdFor keeps shard 0's plain id).
 */
export function ownerOnShard(shard: number, prefix = 'owner'): string {
  for (;;) {
    const owner = uniqueKey(prefix);
    if (shardOfOwner(owner) === shard) return owner;
  }
}

/**
 * A sender's wallet funded with `balance` (none when 0) and an empty receiver's wallet. By default both of
 * one new customer: one logical shard, so the transfer is SAME-SHARD (one journal entry). `crossShard`:
 * two new customers on two logical shards, a transfer through the clearing accounts. Either way on
 * database 0, so the rows the API writes and those the saga writes are on one database whether or not
 * the API routes by shard yet (the cross-database legs are proved in cross-shard.test.ts).
 */
export async function walletPair(app: FastifyInstance, balance: number, opts: { crossShard?: boolean } = {}) {
  const owner = ownerOnShardDatabase(0);
  const receiver = opts.crossShard ? ownerOnShardDatabase(0, 'owner', [shardOfOwner(owner)]) : owner;
  const from = await createWallet(app, 'EUR', owner);
  const to = await createWallet(app, 'EUR', receiver);
  if (balance > 0) await fund(app, from.id, balance);
  return { from, to };
}
