import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { FastifyInstance } from 'fastify';
import { WAITING_ON_STORE_ATTRIBUTE } from '../../observability/store-metrics';
import { authHeaders, type TestCaller } from '../support/auth';

/**
 * The API calls the observability tests make, through app.inject or over HTTP (`baseUrl`): a
 * customer opens wallets and transfers, finance funds a wallet. Each test uses callers of its own.
 */
export interface ApiDriver {
  request(
    method: string,
    url: string,
    opts?: { caller?: TestCaller; body?: unknown; headers?: Record<string, string> },
  ): Promise<{
    status: number;
    headers: Record<string, string>;
    json: () => unknown;
  }>;
}

export function injectDriver(app: FastifyInstance): ApiDriver {
  return {
    async request(method, url, opts = {}) {
      const res = await app.inject({
        method: method as 'GET',
        url,
        headers: { ...(opts.caller ? authHeaders(opts.caller) : {}), ...opts.headers },
        ...(opts.body === undefined ? {} : { payload: opts.body as object }),
      });
      return {
        status: res.statusCode,
        headers: Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, String(v)])),
        json: () => res.json(),
      };
    },
  };
}

export function httpDriver(baseUrl: string): ApiDriver {
  return {
    async request(method, url, opts = {}) {
      const res = await fetch(`${baseUrl}${url}`, {
        method,
        headers: {
          ...(opts.caller ? authHeaders(opts.caller) : {}),
          ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...opts.headers,
        },
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      });
      const text = await res.text();
      return {
        status: res.status,
        headers: Object.fromEntries(res.headers.entries()),
        json: () => JSON.parse(text) as unknown,
      };
    },
  };
}

export interface TransferJson {
  id: string;
  status: string;
  workflowId: string;
}

export function customer(): TestCaller {
  return { sub: `customer-${randomUUID()}`, roles: ['customer'] };
}
export const FINANCE: TestCaller = { sub: 'finance-observability', roles: ['finance'] };

async function expectStatus<T>(
  res: Awaited<ReturnType<ApiDriver['request']>>,
  expected: number[],
  what: string,
): Promise<T> {
  if (!expected.includes(res.status)) throw new Error(`${what}: HTTP ${res.status} ${JSON.stringify(res.json())}`);
  return res.json() as T;
}

export async function openWallet(api: ApiDriver, owner: TestCaller, currency = 'EUR'): Promise<string> {
  const res = await api.request('POST', '/v1/wallets', { caller: owner, body: { currency } });
  return (await expectStatus<{ id: string }>(res, [201], 'opening a wallet')).id;
}

export async function fund(api: ApiDriver, walletId: string, amount: number): Promise<void> {
  const res = await api.request('POST', `/v1/wallets/${walletId}/deposits`, {
    caller: FINANCE,
    body: { amount },
    headers: { 'idempotency-key': `fund-${randomUUID()}` },
  });
  await expectStatus(res, [201], 'funding a wallet');
}

/** POST /v1/transfers with `Prefer: wait=N`; answers the transfer and whether the answer was a replay. */
export async function transfer(
  api: ApiDriver,
  sender: TestCaller,
  body: { fromWalletId: string; toWalletId: string; amount: number; currency?: string },
  opts: { key?: string; waitSeconds?: number } = {},
): Promise<TransferJson & { replayed: boolean; requestId: string }> {
  const res = await api.request('POST', '/v1/transfers', {
    caller: sender,
    body: { currency: 'EUR', ...body },
    headers: { 'idempotency-key': opts.key ?? `tr-${randomUUID()}`, prefer: `wait=${opts.waitSeconds ?? 10}` },
  });
  const json = await expectStatus<TransferJson>(res, [200, 201, 202], 'transfer');
  return {
    ...json,
    replayed: res.headers['idempotent-replayed'] === 'true',
    requestId: res.headers['x-request-id'] ?? '',
  };
}

/** One sample of the Prometheus text format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition: the samples and the metric families (# TYPE lines). */
export function parseMetrics(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`unparseable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

/** The sum of the samples named `name` whose labels include `labels`. */
export function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const matching = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return matching.length === 0 ? undefined : matching.reduce((sum, s) => sum + s.value, 0);
}

/**
 * Registers the keyword search attribute WaitingOnStore on the run's Temporal namespace, unless it is
 * there already (test/global-setup.ts registers the saga's attributes once workflows/contract.ts lists
 * it): wallet_sagas_waiting_for_store counts the workflows by it, and a query naming an unknown
 * attribute is refused.
 */
export async function ensureWaitingOnStoreAttribute(client: Client): Promise<void> {
  const { namespace } = client.options;
  const { customAttributes } = await client.connection.operatorService.listSearchAttributes({ namespace });
  if (customAttributes[WAITING_ON_STORE_ATTRIBUTE] !== undefined) return;
  try {
    await client.connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: {
        [WAITING_ON_STORE_ATTRIBUTE]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
      },
    });
  } catch (err) {
    // another test file added it meanwhile
    if (!/already exists/i.test((err as Error).message)) throw err;
  }
}
