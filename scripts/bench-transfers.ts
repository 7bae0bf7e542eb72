import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import type { Role } from '../api/auth/roles';
import { signToken } from '../api/auth/tokens';
import { loadConfig } from '../config';

/**
 * Transfer throughput and latency against a running stack (`npm start` in another terminal):
 *   npm run bench -- [--transfers 400] [--concurrency 40] [--senders 40] [--wait 30] [--api http://127.0.0.1:3000]
 * Each request is a POST /v1/transfers with its own Idempotency-Key and `Prefer: wait=N`, so its
 * latency is the whole saga (reserve → accounting → ledger → notify), not just the 202.
 * `--senders 1` measures one hot wallet (every transfer contends for the same row).
 * Prints numbers only; it asserts nothing (speed goals live here, not in the test suite).
 */

interface Options {
  api: string;
  transfers: number;
  concurrency: number;
  senders: number;
  waitSeconds: number;
  authorization: (role: Role, sub: string) => string;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer`);
  return value;
}

async function call(opts: Options, method: string, path: string, auth: string, body?: unknown, key?: string) {
  const res = await fetch(`${opts.api}${path}`, {
    method,
    headers: {
      authorization: auth,
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...(key ? { 'idempotency-key': key } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

async function metric(api: string, name: string): Promise<number | undefined> {
  const res = await fetch(`${api}/metrics`).catch(() => undefined);
  if (!res?.ok) return undefined;
  const line = (await res.text()).split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : undefined;
}

export async function runBenchmark(opts: Options) {
  const finance = opts.authorization('finance', 'bench-finance');
  const run = randomUUID().slice(0, 8);
  const senders: Array<{ id: string; auth: string }> = [];
  for (let i = 0; i < opts.senders; i++) {
    const sub = `bench-${run}-${i}`;
    const auth = opts.authorization('customer', sub);
    const wallet = await call(opts, 'POST', '/v1/wallets', auth, { ownerId: sub, currency: 'EUR' });
    await call(opts, 'POST', `/v1/wallets/${wallet.id}/deposits`, finance, { amount: 1_000_000_000 }, randomUUID());
    senders.push({ id: String(wallet.id), auth });
  }
  const receiverOwner = `bench-${run}-receiver`;
  const receiver = await call(opts, 'POST', '/v1/wallets', opts.authorization('customer', receiverOwner), {
    ownerId: receiverOwner,
    currency: 'EUR',
  });

  const statuses = new Map<string, number>();
  let n = 0;
  const started = Date.now();
  const result = await autocannon({
    url: `${opts.api}/v1/transfers`,
    connections: opts.concurrency,
    amount: opts.transfers,
    timeout: opts.waitSeconds + 10,
    requests: [
      {
        method: 'POST',
        setupRequest: (req) => {
          const sender = senders[n++ % senders.length]!;
          return {
            ...req,
            headers: {
              'content-type': 'application/json',
              authorization: sender.auth,
              'idempotency-key': randomUUID(),
              prefer: `wait=${opts.waitSeconds}`,
            },
            body: JSON.stringify({ fromWalletId: sender.id, toWalletId: receiver.id, amount: 100, currency: 'EUR' }),
          };
        },
        onResponse: (status, body) => {
          const s = status < 300 ? String((JSON.parse(body) as { status: string }).status) : `HTTP ${status}`;
          statuses.set(s, (statuses.get(s) ?? 0) + 1);
        },
      },
    ],
  });
  const seconds = (Date.now() - started) / 1000;
  const completed = statuses.get('COMPLETED') ?? 0;
  return {
    transfers: opts.transfers,
    concurrency: opts.concurrency,
    senders: opts.senders,
    seconds: Number(seconds.toFixed(2)),
    completedPerSecond: Number((completed / seconds).toFixed(1)),
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    statuses: Object.fromEntries(statuses),
    errors: result.errors,
    timeouts: result.timeouts,
    apiResidentMemoryMiB: ((await metric(opts.api, 'process_resident_memory_bytes')) ?? 0) / 2 ** 20,
  };
}

async function main() {
  const config = loadConfig();
  if (!config.JWT_SECRET) throw new Error('the benchmark signs development tokens: set JWT_SECRET like the API');
  const secret = config.JWT_SECRET;
  const apiIndex = process.argv.indexOf('--api');
  const report = await runBenchmark({
    api: apiIndex >= 0 ? process.argv[apiIndex + 1]! : `http://127.0.0.1:${config.PORT}`,
    transfers: arg('transfers', 400),
    concurrency: arg('concurrency', 40),
    senders: arg('senders', 40),
    waitSeconds: arg('wait', 30),
    authorization: (role: Role, sub: string) =>
      `Bearer ${signToken({ sub, roles: [role] }, { secret, ttlSeconds: 3600, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE })}`,
  });
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
