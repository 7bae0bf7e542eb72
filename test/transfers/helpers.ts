import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { postDeposit, uniqueKey } from '../api/helpers';

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

export function postTransfer(
  app: FastifyInstance,
  body: { fromWalletId: string; toWalletId: string; amount: number; currency?: string; description?: string },
  opts: { key?: string; waitSeconds?: number } = {},
): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { 'idempotency-key': opts.key ?? uniqueKey('tr') };
  if (opts.waitSeconds !== undefined) headers.prefer = `wait=${opts.waitSeconds}`;
  return app.inject({ method: 'POST', url: '/v1/transfers', headers, payload: { currency: 'EUR', ...body } });
}

export async function getTransfer(app: FastifyInstance, id: string): Promise<TransferJson> {
  const res = await app.inject({ method: 'GET', url: `/v1/transfers/${id}` });
  if (res.statusCode !== 200) throw new Error(`transfer read failed: ${res.statusCode} ${res.body}`);
  return res.json<TransferJson>();
}

/** Polls the transfer until it reaches `status` (the saga runs on a worker, asynchronously). */
export async function waitForStatus(app: FastifyInstance, id: string, status: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const t = await getTransfer(app, id);
    if (t.status === status) return t;
    if (Date.now() > deadline) throw new Error(`transfer ${id} is ${t.status}, still not ${status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function fund(app: FastifyInstance, walletId: string, amount: number): Promise<void> {
  const res = await postDeposit(app, walletId, { amount });
  if (res.statusCode !== 201) throw new Error(`deposit failed: ${res.statusCode} ${res.body}`);
}
