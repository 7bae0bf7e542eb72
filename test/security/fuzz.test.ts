import fc from 'fast-check';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { ADMIN, FINANCE, OPS, startApp, uniqueKey } from '../api/helpers';
import { bearer, type TestCaller } from '../support/auth';
import { ownDatabase, testConfig, uniqueTaskQueue } from '../support/env';
import { OpenApiValidator, type OpenApiDoc } from '../support/openapi';
import { buildWorld, type World } from './fixtures';
import { startTransferWorker, type RunningWorker } from '../support/transfer-worker';
import { query as rowsOf } from '../support/sql';

/**
 * Property-based fuzzing of every route: random and near-valid bodies, params, query strings and
 * headers, from every kind of caller. For every request: never a 5xx; the answer (status, media type,
 * body, documented headers) matches the OpenAPI document the app serves; and a refused request (4xx)
 * writes nothing. The app runs on a database of its own, so "nothing" is exact: no other test writes there.
 */

const NUM_RUNS = Number(process.env.FUZZ_RUNS ?? 80);

// ---------------------------------------------------------------- generators

/** Header-safe text (what an HTTP client can send at all): tab, printable ASCII and Latin-1. */
const headerText = (maxLength = 80) =>
  fc.string({
    unit: fc.oneof(
      fc.constantFrom('\t', ' '),
      fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
      fc.integer({ min: 0xa0, max: 0xff }).map((c) => String.fromCharCode(c)),
    ),
    maxLength,
  });

const weirdText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'null',
    '../../etc/passwd',
    "'; DROP TABLE wallets; --",
    '%00',
    '\uffff',
    '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
    'a'.repeat(600),
  ),
);

const bigOrOdd = fc.oneof(
  fc.integer({ min: -1000, max: 1_000_000 }),
  fc.constantFrom(0, -1, 1, 100_000_000_000, 100_000_000_001, Number.MAX_SAFE_INTEGER, 2 ** 63, 1e308, -0),
  fc.double({ noNaN: true }),
  fc.string({ maxLength: 12 }),
  fc.constant(null),
  fc.boolean(),
);

/** A JSON body: near-valid records (every field optional, values often wrong), extra fields, any JSON. */
function jsonBody(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> {
  const nearValid = fc.record(fields, { requiredKeys: [] });
  const withExtra = fc
    .tuple(nearValid, fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }))
    .map(([a, b]) => ({ ...b, ...(a as object) }));
  return fc.oneof(
    { weight: 4, arbitrary: nearValid },
    { weight: 2, arbitrary: withExtra },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  );
}

type Payload = { kind: 'json'; value: unknown } | { kind: 'raw'; value: string; contentType?: string };

/** `valid`: bodies the route accepts (given the right caller), so the fuzzer also gets past validation. */
function payload(fields: Record<string, fc.Arbitrary<unknown>>, valid?: fc.Arbitrary<object>): fc.Arbitrary<Payload> {
  return fc.oneof(
    { weight: valid ? 4 : 0, arbitrary: (valid ?? fc.constant({})).map((value): Payload => ({ kind: 'json', value })) },
    { weight: 8, arbitrary: jsonBody(fields).map((value): Payload => ({ kind: 'json', value })) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.oneof(
            fc.string({ maxLength: 60 }),
            fc.constantFrom('{', '{"amount":', '[]', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}'),
          ),
          fc.option(
            fc.constantFrom(
              'application/json',
              'text/plain',
              'application/x-www-form-urlencoded',
              'application/json; charset=utf-16',
              'application/xml',
              'multipart/form-data; boundary=x',
            ),
            { nil: undefined },
          ),
        )
        .map(([value, contentType]): Payload => ({ kind: 'raw', value, contentType })),
    },
  );
}

// ---------------------------------------------------------------- the world and its callers

interface Ctx {
  world: World;
  staff: { ops: TestCaller; finance: TestCaller; admin: TestCaller };
}

type CallerPick = (ctx: Ctx) => string | undefined;

const favourite = {
  alice: (c: Ctx) => bearer(c.world.alice),
  ops: (c: Ctx) => bearer(c.staff.ops),
  finance: (c: Ctx) => bearer(c.staff.finance),
  admin: (c: Ctx) => bearer(c.staff.admin),
};
type Favourite = keyof typeof favourite;

/** Every kind of caller; those in `favour` (the ones the route admits) come up more often. */
const callersFor = (favour: Favourite[] = []): fc.Arbitrary<CallerPick> =>
  favour.length === 0
    ? callers
    : fc.oneof(
        { weight: 2, arbitrary: callers },
        { weight: 1, arbitrary: fc.constantFrom(...favour.map((f) => favourite[f])) },
      );

const callers: fc.Arbitrary<CallerPick> = fc.oneof(
  fc.constant<CallerPick>(() => undefined),
  headerText(120).map(
    (junk): CallerPick =>
      () =>
        junk,
  ),
  headerText(60).map(
    (junk): CallerPick =>
      () =>
        `Bearer ${junk}`,
  ),
  fc.constant<CallerPick>((c) => bearer({ ...c.world.alice, ttlSeconds: -600 })),
  fc.constant<CallerPick>((c) => bearer({ ...c.world.alice, secret: 'some-other-secret-that-is-long-enough-x' })),
  fc.string({ maxLength: 140 }).map(
    (sub): CallerPick =>
      () =>
        bearer({ sub, roles: ['customer'] }),
  ),
  fc.constant<CallerPick>((c) => bearer(c.world.alice)),
  fc.constant<CallerPick>((c) => bearer(c.world.alice)),
  fc.constant<CallerPick>((c) => bearer(c.world.carol)),
  fc.constant<CallerPick>((c) => bearer(c.staff.ops)),
  fc.constant<CallerPick>((c) => bearer(c.staff.finance)),
  fc.constant<CallerPick>((c) => bearer(c.staff.admin)),
);

type IdPick = (ctx: Ctx) => string;
// A path parameter that is a dot segment ('.', '..') is no value of it: every client removes the segment
// before the request leaves (RFC 3986 §5.2.4), so POST /v1/transfers/./retry is POST /v1/transfers/retry,
// another route (405), not this one.
const segmentText = weirdText.filter((s) => s !== '.' && s !== '..');
const walletIds: fc.Arbitrary<IdPick> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom<IdPick>(
      (c) => c.world.A.id,
      (c) => c.world.B.id,
      (c) => c.world.C.id,
      (c) => c.world.D.id,
    ),
  },
  fc.uuid().map(
    (u): IdPick =>
      () =>
        u,
  ),
  segmentText.map(
    (s): IdPick =>
      () =>
        s,
  ),
);
const transferIds: fc.Arbitrary<IdPick> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<IdPick>((c) => c.world.transferId) },
  fc.uuid().map(
    (u): IdPick =>
      () =>
        u,
  ),
  segmentText.map(
    (s): IdPick =>
      () =>
        s,
  ),
);

const idempotencyKeys = fc.option(
  fc.oneof(
    { weight: 1, arbitrary: fc.constant('fuzz-key') },
    { weight: 3, arbitrary: fc.uuid() },
    { weight: 2, arbitrary: headerText(300) },
  ),
  {
    nil: undefined,
    freq: 4,
  },
);
const currencies = fc.oneof(
  fc.constantFrom('EUR', 'USD', 'JPY', 'eur', 'EURO', 'XXX', ''),
  fc.string({ maxLength: 4 }),
  fc.integer(),
);
const texts = fc.oneof(weirdText, fc.string({ minLength: 130, maxLength: 520 }));

/** Query strings: known keys with odd values, sometimes unknown keys; `valid` ones as well. */
function query(
  fields: Record<string, fc.Arbitrary<string>>,
  valid: fc.Arbitrary<Record<string, unknown>> = fc.constant({}),
): fc.Arbitrary<Record<string, unknown>> {
  const odd = fc
    .tuple(
      fc.record(fields, { requiredKeys: [] }),
      fc.option(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 10 }), { maxKeys: 2 }),
        { nil: {}, freq: 3 },
      ),
    )
    .map(([known, extra]) => ({ ...extra, ...(known as Record<string, string>) }));
  return fc.oneof(odd, valid);
}
const validLimit = fc.integer({ min: 1, max: 100 }).map(String);
const limits = fc.oneof(
  fc.constantFrom('1', '20', '100', '0', '101', '-1', '1.5', 'abc', ''),
  fc.string({ maxLength: 5 }),
);
const cursors = fc.oneof(
  fc.base64String({ maxLength: 40 }),
  weirdText,
  fc.bigInt({ min: 0n, max: 10n ** 20n }).map((n) => Buffer.from(n.toString()).toString('base64url')),
);

// ---------------------------------------------------------------- the routes

interface FuzzCase {
  method: 'GET' | 'POST';
  route: string;
  /** callers the route admits, drawn more often so that runs get past authorization */
  favour?: Favourite[];
  id?: fc.Arbitrary<IdPick>;
  body?: fc.Arbitrary<Payload>;
  /** values may be id picks, resolved against the world */
  query?: fc.Arbitrary<Record<string, unknown>>;
  headers?: fc.Arbitrary<Record<string, string | undefined>>;
  runs?: number;
}

const moneyHeaders = fc.record({ 'idempotency-key': idempotencyKeys }, { requiredKeys: [] }) as fc.Arbitrary<
  Record<string, string | undefined>
>;
const shortText = fc.string({
  minLength: 1,
  maxLength: 40,
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
});
const reasonBody = payload({ reason: texts }, fc.record({ reason: shortText }));
const pick = (f: IdPick) => f as unknown;

const CASES: FuzzCase[] = [
  {
    method: 'POST',
    route: '/v1/wallets',
    favour: ['alice'],
    body: payload(
      { ownerId: fc.oneof(texts, fc.constantFrom('alice')), currency: currencies },
      fc.record({ currency: fc.constantFrom('EUR', 'USD', 'JPY') }),
    ),
  },
  { method: 'GET', route: '/v1/wallets/:id', id: walletIds, favour: ['alice', 'ops'] },
  {
    method: 'GET',
    route: '/v1/wallets/:id/transactions',
    id: walletIds,
    favour: ['alice', 'ops'],
    query: query({ limit: limits, cursor: cursors }, fc.record({ limit: validLimit }, { requiredKeys: [] })),
  },
  {
    method: 'POST',
    route: '/v1/wallets/:id/deposits',
    id: walletIds,
    favour: ['finance', 'admin'],
    body: payload(
      { amount: bigOrOdd, reference: texts },
      fc.record({ amount: fc.integer({ min: 1, max: 1_000_000 }), reference: shortText }, { requiredKeys: ['amount'] }),
    ),
    headers: moneyHeaders,
  },
  { method: 'POST', route: '/v1/wallets/:id/freeze', id: walletIds, body: reasonBody, favour: ['admin'] },
  { method: 'POST', route: '/v1/wallets/:id/unfreeze', id: walletIds, body: reasonBody, favour: ['admin'] },
  {
    method: 'POST',
    route: '/v1/transfers',
    favour: ['alice'],
    body: payload(
      {
        fromWalletId: walletIds.map(pick),
        toWalletId: walletIds.map(pick),
        amount: bigOrOdd,
        currency: currencies,
        description: texts,
      },
      fc.record(
        {
          fromWalletId: fc.constantFrom(
            pick((c) => c.world.A.id),
            pick((c) => c.world.D.id),
          ),
          toWalletId: fc.constantFrom(
            pick((c) => c.world.B.id),
            pick((c) => c.world.D.id),
            pick((c) => c.world.A.id),
          ),
          amount: fc.integer({ min: 1, max: 500 }),
          currency: fc.constant('EUR'),
          description: shortText,
        },
        { requiredKeys: ['fromWalletId', 'toWalletId', 'amount', 'currency'] },
      ),
    ),
    headers: fc.record(
      {
        'idempotency-key': idempotencyKeys,
        prefer: fc.option(fc.oneof(fc.constantFrom('wait=0', 'wait=31', 'wait=-1', 'wait=1.5'), headerText(20)), {
          nil: undefined,
        }),
      },
      { requiredKeys: [] },
    ),
  },
  { method: 'GET', route: '/v1/transfers/:id', id: transferIds, favour: ['alice', 'ops'] },
  {
    method: 'GET',
    route: '/v1/transfers',
    query: query(
      {
        status: fc.oneof(
          fc.constantFrom('PENDING', 'COMPLETED', 'NEEDS_ATTENTION', 'completed', 'FOO'),
          fc.string({ maxLength: 8 }),
        ),
        walletId: fc.oneof(fc.uuid(), weirdText),
        currency: fc.oneof(fc.constantFrom('EUR', 'USD', 'eur', 'EURO', ''), weirdText),
        failedStep: fc.oneof(fc.constantFrom('reserve', 'accounting', 'ledger', 'notify', 'Accounting'), weirdText),
        limit: limits,
        cursor: cursors,
      },
      fc.record(
        {
          status: fc.constantFrom('PENDING', 'NEEDS_ATTENTION', 'COMPLETED'),
          walletId: fc.constantFrom(
            pick((c) => c.world.A.id),
            pick((c) => c.world.B.id),
          ),
          currency: fc.constantFrom('EUR', 'USD'),
          failedStep: fc.constantFrom('accounting', 'ledger'),
          limit: validLimit,
        },
        { requiredKeys: [] },
      ),
    ),
    favour: ['alice', 'ops'],
  },
  {
    method: 'POST',
    route: '/v1/transfers/:id/retry',
    id: transferIds,
    body: reasonBody,
    headers: moneyHeaders,
    favour: ['finance', 'admin'],
  },
  {
    method: 'POST',
    route: '/v1/transfers/:id/cancel',
    id: transferIds,
    body: reasonBody,
    headers: moneyHeaders,
    favour: ['finance', 'admin'],
  },
  { method: 'GET', route: '/v1/me', favour: ['alice', 'ops'] },
  {
    method: 'GET',
    route: '/v1/audit',
    favour: ['ops'],
    query: query(
      { target: fc.oneof(fc.uuid(), weirdText), limit: limits, cursor: cursors },
      fc.record(
        {
          target: fc.constantFrom(
            pick((c) => c.world.A.id),
            pick((c) => c.world.transferId),
          ),
          limit: validLimit,
        },
        { requiredKeys: [] },
      ),
    ),
  },
  // a valid start runs a reconciliation on this suite's own database and worker: fewer runs
  { method: 'POST', route: '/v1/reconciliation/runs', body: reasonBody, favour: ['finance', 'admin'], runs: 12 },
  {
    method: 'GET',
    route: '/v1/reconciliation/runs',
    favour: ['ops', 'finance'],
    query: query({ limit: limits, cursor: cursors }, fc.record({ limit: validLimit }, { requiredKeys: [] })),
  },
  { method: 'GET', route: '/v1/reconciliation/runs/:id', id: transferIds, favour: ['ops', 'finance'] },
  { method: 'GET', route: '/health/live', runs: 15 },
  { method: 'GET', route: '/health/ready', runs: 10 },
];

/** Ids inside bodies are picks too: resolve them against the world. */
function resolveBody(value: unknown, ctx: Ctx): unknown {
  if (typeof value === 'function') return (value as IdPick)(ctx);
  if (Array.isArray(value)) return value;
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveBody(v, ctx)]));
  return value;
}

// ---------------------------------------------------------------- the property

const TABLES = ['wallets', 'journal_entries', 'ledger_lines', 'holds', 'transfers', 'audit_log', 'idempotency_records'];

describe('fuzzing every route', () => {
  const database = ownDatabase('fuzz');
  let app: FastifyInstance;
  let worker: RunningWorker;
  let validator: OpenApiValidator;
  let ctx: Ctx;
  const seen = new Map<string, Map<number, number>>();

  async function rowCounts(): Promise<Record<string, number>> {
    const [row] = await rowsOf(
      app.db,
      `SELECT ${TABLES.map((t) => `(SELECT count(*)::int FROM ${t}) AS ${t}`).join(', ')}`,
    );
    return row as Record<string, number>;
  }

  beforeAll(async () => {
    await database.create();
    const env = { ...database.overrides, TEMPORAL_TASK_QUEUE: uniqueTaskQueue('fuzz') };
    worker = await startTransferWorker(testConfig(env));
    app = await startApp(env);
    const world = await buildWorld(app);
    ctx = {
      world,
      staff: {
        ops: { ...OPS, sub: uniqueKey('fuzz-ops') },
        finance: { ...FINANCE, sub: uniqueKey('fuzz-finance') },
        admin: { ...ADMIN, sub: uniqueKey('fuzz-admin') },
      },
    };
    validator = new OpenApiValidator((await app.inject({ method: 'GET', url: '/openapi.json' })).json<OpenApiDoc>());
  });
  afterAll(async () => {
    await app?.close();
    await worker?.stop();
    await database.drop();
    // which statuses the runs reached, per route: a fuzzer that only ever sees 401 proves little
    const summary = [...seen].map(
      ([route, statuses]) => `${route}: ${[...statuses].map(([s, n]) => `${s}×${n}`).join(' ')}`,
    );
    process.stdout.write(`[fuzz] ${NUM_RUNS} runs per route\n${summary.join('\n')}\n`);
  });

  it.each(CASES.map((c) => [`${c.method} ${c.route}`, c] as const))('%s', async (name, c) => {
    const statuses = new Map<number, number>();
    seen.set(name, statuses);
    const arbitrary = fc.record({
      caller: callersFor(c.favour),
      id: c.id ?? fc.constant(undefined),
      body: c.body ?? fc.constant(undefined),
      query: c.query ?? fc.constant(undefined),
      headers: c.headers ?? fc.constant({}),
    });

    await fc.assert(
      fc.asyncProperty(arbitrary, async ({ caller, id, body, query: q, headers }) => {
        const url = c.route.replace(':id', encodeURIComponent(id ? id(ctx) : ''));
        const authorization = caller(ctx);
        const request: InjectOptions = {
          method: c.method,
          url,
          query: q ? (resolveBody(q, ctx) as Record<string, string>) : undefined,
          headers: {
            ...Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)),
            ...(authorization === undefined ? {} : { authorization }),
          },
        };
        if (body?.kind === 'json') {
          request.payload = JSON.stringify(resolveBody(body.value, ctx)) ?? 'null';
          (request.headers as Record<string, string>)['content-type'] = 'application/json';
        } else if (body?.kind === 'raw') {
          request.payload = body.value;
          if (body.contentType) (request.headers as Record<string, string>)['content-type'] = body.contentType;
        }

        const before = await rowCounts();
        const res: LightMyRequestResponse = await app.inject(request);
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        const context = `${c.method} ${url} → ${res.statusCode} ${res.payload.slice(0, 300)}`;

        expect([context, res.statusCode < 500]).toEqual([context, true]);
        expect([context, validator.responseErrors(c.method, c.route, res)]).toEqual([context, []]);
        // A refused transfer (422 with its transferId) is an outcome the saga recorded, not bad input:
        // its row and the reserve's tombstone exist by design. Every other error writes nothing.
        const refusedTransfer =
          res.statusCode === 422 && typeof res.json<{ transferId?: unknown }>().transferId === 'string';
        if (res.statusCode >= 400 && !refusedTransfer) expect([context, await rowCounts()]).toEqual([context, before]);
      }),
      { numRuns: c.runs ?? NUM_RUNS },
    );
  });

  it('reached beyond authentication on every /v1 route (sanity of the generators)', () => {
    for (const [name, statuses] of seen) {
      if (!name.includes('/v1/')) continue;
      const beyondAuth = [...statuses.keys()].filter((s) => s !== 401);
      expect([name, beyondAuth.length > 0]).toEqual([name, true]);
    }
  });
});
