import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { LOGICAL_SHARDS } from '../domain/shards';

/**
 * Every setting comes from the environment and is validated once, at start-up:
 * a process with a bad setting refuses to start instead of failing on the first request.
 */
const ConfigSchema = Type.Object({
  /**
   * Unset means production: the safe default. The public development secret and the high development
   * rate limits apply only where the environment says `development` or `test` explicitly (`npm start`,
   * `npm run token`, the tests and the chaos run set it).
   */
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('test'), Type.Literal('production')], {
    default: 'production',
  }),
  HOST: Type.String({ default: '127.0.0.1' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  DATABASE_URL: Type.String({ pattern: '^postgres(ql)?://', default: 'postgres://postgres@127.0.0.1:5432/wallet' }),
  DB_POOL_MAX: Type.Integer({ minimum: 1, maximum: 500, default: 20 }),
  /**
   * The wallet shard databases after the first, comma-separated (DATABASE_URL is shard database 0, which
   * also holds the service-wide tables). Unset: one database holds every logical shard.
   */
  SHARD_DATABASE_URLS: Type.Optional(Type.String({ pattern: '^postgres(ql)?://[^,]+(,postgres(ql)?://[^,]+)*$' })),
  /**
   * Which database holds which logical shards (0–1023), as `first-last:database` ranges, e.g.
   * `0-511:0,512-1023:1`; every logical shard exactly once. Unset: contiguous equal ranges over the
   * databases. Pin it before adding a database: a changed map must follow a move of the shards' rows.
   */
  SHARD_MAP: Type.Optional(Type.String({ pattern: '^[0-9]+-[0-9]+:[0-9]+(,[0-9]+-[0-9]+:[0-9]+)*$' })),
  /** The accounting book's own database (the saga's accounting step). Unset: DATABASE_URL. */
  ACCOUNTING_DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  /**
   * How long a database that stopped answering is given before it is tried again: requests that need it
   * meanwhile answer 503 SHARD_UNAVAILABLE with this Retry-After at once, sagas wait on a durable timer.
   */
  SHARD_BREAKER_COOLDOWN_SECONDS: Type.Integer({ minimum: 1, maximum: 300, default: 5 }),
  REDIS_URL: Type.String({ pattern: '^rediss?://', default: 'redis://127.0.0.1:6379' }),
  /** Prefix of every Redis key this service writes, so environments (and test runs) sharing a Redis never collide. */
  REDIS_KEY_PREFIX: Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$', default: 'wallet:' }),
  TEMPORAL_ADDRESS: Type.String({ minLength: 1, default: '127.0.0.1:7233' }),
  TEMPORAL_NAMESPACE: Type.String({ minLength: 1, default: 'default' }),
  TEMPORAL_TASK_QUEUE: Type.String({ minLength: 1, default: 'wallet-transfers' }),
  /** The Temporal UI (e.g. http://127.0.0.1:8233): the finance console links each transfer to its workflow there. Unset: no links. */
  TEMPORAL_UI_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  /** Largest amount, in minor units, accepted for one deposit or transfer. */
  MAX_AMOUNT_MINOR: Type.String({ pattern: '^[1-9][0-9]{0,15}$', default: '100000000000' }),
  /** How long an idempotency record (and its replayable response) is kept. */
  IDEMPOTENCY_TTL_SECONDS: Type.Integer({ minimum: 86400, default: 86400 }),
  /** Per-wallet limit on outgoing transfers per UTC day, enforced by the accounting book. */
  DAILY_OUTGOING_LIMIT_MINOR: Type.String({ pattern: '^[1-9][0-9]{0,17}$', default: '1000000000' }),
  /**
   * Retry budget of one saga step, in failed attempts (backoff 0.5 s doubling to 30 s between them:
   * 10 attempts ≈ 2 min of failing), before the transfer is parked as NEEDS_ATTENTION. Time spent
   * waiting for a worker is not counted: an outage of every worker parks nothing.
   */
  TRANSFER_STEP_MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
  /** One attempt of a step; an attempt that outlives it counts as failed and is retried. */
  TRANSFER_STEP_ATTEMPT_TIMEOUT_SECONDS: Type.Integer({ minimum: 1, default: 30 }),
  /**
   * How long POST /v1/transfers waits for the saga's early answer (the reserve decision) before it
   * answers 202 with the transfer as it is (e.g. every worker down: the saga runs when one returns).
   */
  TRANSFER_ANSWER_TIMEOUT_SECONDS: Type.Integer({ minimum: 1, maximum: 60, default: 10 }),
  /** How long a parked transfer waits for finance before it is cancelled automatically. */
  TRANSFER_PARK_DEADLINE_SECONDS: Type.Integer({ minimum: 1, default: 72 * 3600 }),
  /** How often the reconciliation Schedule runs (scripts/ensure-schedules.ts); the staleness alert assumes 300. */
  RECONCILIATION_INTERVAL_SECONDS: Type.Integer({ minimum: 10, default: 300 }),
  /** Rows (wallets, entries, transfers, workflows) one reconciliation activity checks per page. */
  RECONCILIATION_PAGE_SIZE: Type.Integer({ minimum: 1, maximum: 5000, default: 500 }),
  /** How often the retention Schedule purges expired idempotency records. */
  RETENTION_INTERVAL_SECONDS: Type.Integer({ minimum: 10, default: 3600 }),
  /** Expired idempotency records deleted per statement (short transactions: writes never wait long). */
  RETENTION_BATCH_SIZE: Type.Integer({ minimum: 1, maximum: 10000, default: 500 }),
  /** Batches one retention run deletes at most; the rest waits for the next run. */
  RETENTION_MAX_BATCHES: Type.Integer({ minimum: 1, maximum: 100000, default: 200 }),
  /** Worker concurrency limits. */
  WORKER_MAX_CONCURRENT_ACTIVITIES: Type.Integer({ minimum: 1, default: 50 }),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: Type.Integer({ minimum: 1, default: 40 }),
  WORKER_SHUTDOWN_GRACE_SECONDS: Type.Integer({ minimum: 0, default: 30 }),
  WORKER_BUNDLE_PATH: Type.Optional(Type.String({ minLength: 1 })),
  /**
   * Worker: also register the bench's bare workflows and no-op activity (workflows/bench.ts, the prebuilt
   * dist/workflow-bundle-bench.js) for `npm run bench`. The dev stack turns it on; production refuses it.
   */
  WORKER_BENCH_BASELINE: Type.Boolean({ default: false }),
  /**
   * Longest wait, in seconds, between two attempts to reach Postgres or Temporal while a process starts
   * (API and worker): they never exit because a dependency is down, they retry with backoff (0.5 s
   * doubling up to this, with jitter) and log one JSON line per failed attempt. Fractions allowed.
   */
  DEPENDENCY_RETRY_MAX_SECONDS: Type.Number({ exclusiveMinimum: 0, maximum: 300, default: 10 }),

  // ---- the HTTP server (api/app.ts)
  /**
   * How long a client has to send its whole request, headers and body, in ms from its first byte: a
   * slower one (slowloris, a stalled upload) is answered 408 REQUEST_TIMEOUT and its connection closed.
   * Receiving only: the time a handler takes to answer is not counted.
   */
  HTTP_REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 300_000, default: 30_000 }),

  // ---- operations: logs, metrics, tracing (docs/operations.md)
  /** json: one JSON object per line; pretty: pino-pretty; auto: pretty only when stdout is a TTY. */
  LOG_FORMAT: Type.Union([Type.Literal('auto'), Type.Literal('json'), Type.Literal('pretty')], { default: 'auto' }),
  /** Worker: port of its HTTP server on HOST (/metrics, /health/live, /health/ready); 0 picks a free port. */
  WORKER_METRICS_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 9464 }),
  /**
   * Worker: port of the Temporal SDK's own Prometheus exporter, bound to 127.0.0.1 only (the worker's
   * /metrics appends its output). Default WORKER_METRICS_PORT + 1; 0 turns the exporter off.
   */
  TEMPORAL_METRICS_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  /** OTLP/HTTP collector base URL (e.g. http://otel-collector:4318): traces are exported there. Unset: tracing off. */
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://' })),
  /** service.name of the exported spans (default wallet-api / wallet-worker). */
  OTEL_SERVICE_NAME: Type.Optional(Type.String({ minLength: 1 })),

  // ---- load shedding (@fastify/under-pressure, api/plugins/under-pressure.ts): past a threshold the API
  // answers 503 SERVICE_UNAVAILABLE with Retry-After instead of queueing work it cannot finish in time
  /** Mean event-loop delay, in ms, over one sample above which requests are shed; 0 turns the check off. Unset: 1000 in production, off in development and test. */
  UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY_MS: Type.Integer({ minimum: 0, default: 1000 }),
  /** V8 heap in use, in bytes, above which requests are shed; 0 (the default) turns the check off. */
  UNDER_PRESSURE_MAX_HEAP_USED_BYTES: Type.Integer({ minimum: 0, default: 0 }),
  /** Resident set size, in bytes, above which requests are shed; 0 (the default) turns the check off. */
  UNDER_PRESSURE_MAX_RSS_BYTES: Type.Integer({ minimum: 0, default: 0 }),
  /** How often the event-loop delay and memory are sampled, in ms. */
  UNDER_PRESSURE_SAMPLE_INTERVAL_MS: Type.Integer({ minimum: 10, maximum: 60000, default: 1000 }),
  /** The Retry-After (seconds) of a shed request's 503. */
  UNDER_PRESSURE_RETRY_AFTER_SECONDS: Type.Integer({ minimum: 1, maximum: 3600, default: 10 }),

  // ---- authentication (bearer JWT, docs/security.md)
  /**
   * HS256 shared secret (at least 32 characters). Required unless JWT_PUBLIC_KEY or JWT_JWKS_URL is
   * set; in development and test it defaults to DEV_ONLY_JWT_SECRET, which production refuses.
   */
  JWT_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  /** PEM public key (RS256/ES256/EdDSA…) tokens are verified with, instead of the shared secret. */
  JWT_PUBLIC_KEY: Type.Optional(Type.String({ pattern: '-----BEGIN [A-Z ]*PUBLIC KEY-----' })),
  /** JWKS endpoint of the identity provider; keys are picked by `kid` and cached. Wins over the others. */
  JWT_JWKS_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  /** When set, tokens must carry exactly this `iss` / an `aud` containing this value. */
  JWT_ISSUER: Type.Optional(Type.String({ minLength: 1 })),
  JWT_AUDIENCE: Type.Optional(Type.String({ minLength: 1 })),
  /** Clock skew tolerated on `exp`/`nbf`. */
  JWT_CLOCK_TOLERANCE_SECONDS: Type.Integer({ minimum: 0, maximum: 300, default: 5 }),
  /** `GET /metrics` without a token (true: scraped from inside the cluster; false: ops role required). */
  METRICS_PUBLIC: Type.Boolean({ default: true }),

  // ---- rate limits: requests per caller, per route class, per RATE_LIMIT_WINDOW_SECONDS (fixed window, in Redis)
  RATE_LIMIT_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 3600 }),
  /** Unset: production defaults (10, 50, 100, 100, 1000 per hour); development/test: RATE_LIMIT_DEV_DEFAULT. */
  RATE_LIMIT_CREATE_WALLET: Type.Optional(Type.Integer({ minimum: 1 })),
  RATE_LIMIT_DEPOSIT: Type.Optional(Type.Integer({ minimum: 1 })),
  RATE_LIMIT_TRANSFER: Type.Optional(Type.Integer({ minimum: 1 })),
  /** Privileged actions: retry, cancel, freeze, unfreeze. */
  RATE_LIMIT_PRIVILEGED: Type.Optional(Type.Integer({ minimum: 1 })),
  RATE_LIMIT_READ: Type.Optional(Type.Integer({ minimum: 1 })),
});

/** Route classes that have their own rate-limit budget per caller. */
export const RATE_LIMIT_CLASSES = ['createWallet', 'deposit', 'transfer', 'privileged', 'read'] as const;
export type RateLimitClass = (typeof RATE_LIMIT_CLASSES)[number];

/** Production limits per RATE_LIMIT_WINDOW_SECONDS (one hour by default). */
export const PRODUCTION_RATE_LIMITS: Record<RateLimitClass, number> = {
  createWallet: 10,
  deposit: 50,
  transfer: 100,
  privileged: 100,
  read: 1000,
};
/** Development and test: high enough never to get in the way (tests that check a limit set it low). */
export const RATE_LIMIT_DEV_DEFAULT = 1_000_000;

const RATE_LIMIT_SETTINGS: Record<RateLimitClass, keyof Static<typeof ConfigSchema>> = {
  createWallet: 'RATE_LIMIT_CREATE_WALLET',
  deposit: 'RATE_LIMIT_DEPOSIT',
  transfer: 'RATE_LIMIT_TRANSFER',
  privileged: 'RATE_LIMIT_PRIVILEGED',
  read: 'RATE_LIMIT_READ',
};

/**
 * The HS256 secret used in development and test when JWT_SECRET is unset, so `npm start`,
 * `npm run token` and the tests work out of the box. Public (it is in the repository): a process
 * with NODE_ENV=production refuses to start with it.
 */
export const DEV_ONLY_JWT_SECRET = 'dev-only-insecure-jwt-secret-never-use-in-production';

export type Config = Static<typeof ConfigSchema> & {
  /** The wallet shard databases, index 0 = DATABASE_URL (db/shards.ts). */
  shardDatabaseUrls: string[];
  /** Logical shard → index in shardDatabaseUrls, LOGICAL_SHARDS entries. */
  shardMap: number[];
  accountingDatabaseUrl: string;
  maxAmountMinor: bigint;
  dailyOutgoingLimitMinor: bigint;
  /** Requests per caller per RATE_LIMIT_WINDOW_SECONDS, by route class. */
  rateLimits: Record<RateLimitClass, number>;
};

export class ConfigError extends Error {}

/**
 * What the API (and only the API: workers and the migration job never see a token) needs to verify
 * tokens: JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL. Outside production loadConfig() supplies the
 * development secret; in production a missing one is refused here, when the API boots.
 */
export function assertApiAuthConfig(cfg: Config): void {
  if (cfg.JWT_SECRET === undefined && cfg.JWT_PUBLIC_KEY === undefined && cfg.JWT_JWKS_URL === undefined) {
    throw new ConfigError(
      'Invalid configuration: the API needs JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL to verify tokens',
    );
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Only look at the keys we know, so unrelated variables never fail validation.
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(ConfigSchema.properties)) {
    const value = env[key];
    if (value !== undefined && value !== '') picked[key] = value;
  }
  const withDefaults = Value.Default(ConfigSchema, Value.Convert(ConfigSchema, picked));
  const errors = [...Value.Errors(ConfigSchema, withDefaults)];
  if (errors.length > 0) {
    const details = errors.map((e) => `${e.path.slice(1) || '(root)'}: ${e.message}`).join('; ');
    throw new ConfigError(`Invalid configuration: ${details}`);
  }
  const cfg = withDefaults as Static<typeof ConfigSchema>;
  if (BigInt(cfg.MAX_AMOUNT_MINOR) > BigInt(Number.MAX_SAFE_INTEGER)) {
    // JSON numbers above 2^53 lose precision before validation could see them
    throw new ConfigError('Invalid configuration: MAX_AMOUNT_MINOR must not exceed 9007199254740991');
  }
  const production = cfg.NODE_ENV === 'production';
  const verifiesWithKey = cfg.JWT_JWKS_URL !== undefined || cfg.JWT_PUBLIC_KEY !== undefined;
  // the public development secret only where nothing real is at stake
  if (!production && !verifiesWithKey && cfg.JWT_SECRET === undefined) cfg.JWT_SECRET = DEV_ONLY_JWT_SECRET;
  if (production && cfg.WORKER_BENCH_BASELINE) {
    throw new ConfigError(
      'Invalid configuration: WORKER_BENCH_BASELINE registers benchmark code; it is for development and test only',
    );
  }
  if (production && cfg.JWT_SECRET === DEV_ONLY_JWT_SECRET) {
    throw new ConfigError(
      'Invalid configuration: JWT_SECRET is the public development secret; set a secret of your own',
    );
  }
  // load shedding is a production guard: a busy development or CI machine lags by seconds and would shed
  // the tests' own requests, so there an unset event-loop limit means off
  if (!production && !env.UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY_MS) cfg.UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY_MS = 0;
  const rateLimits = Object.fromEntries(
    Object.entries(RATE_LIMIT_SETTINGS).map(([cls, key]) => [
      cls,
      (cfg[key] as number | undefined) ??
        (production ? PRODUCTION_RATE_LIMITS[cls as RateLimitClass] : RATE_LIMIT_DEV_DEFAULT),
    ]),
  ) as Record<RateLimitClass, number>;
  const shardDatabaseUrls = [cfg.DATABASE_URL, ...(cfg.SHARD_DATABASE_URLS?.split(',') ?? [])];
  if (new Set(shardDatabaseUrls).size !== shardDatabaseUrls.length) {
    throw new ConfigError('Invalid configuration: SHARD_DATABASE_URLS names a database twice (or DATABASE_URL again)');
  }
  return {
    ...cfg,
    shardDatabaseUrls,
    shardMap: parseShardMap(cfg.SHARD_MAP, shardDatabaseUrls.length),
    accountingDatabaseUrl: cfg.ACCOUNTING_DATABASE_URL ?? cfg.DATABASE_URL,
    rateLimits,
    maxAmountMinor: BigInt(cfg.MAX_AMOUNT_MINOR),
    dailyOutgoingLimitMinor: BigInt(cfg.DAILY_OUTGOING_LIMIT_MINOR),
  };
}

/**
 * SHARD_MAP to logical shard → database index. Every logical shard exactly once, every database used:
 * a map that loses a shard would route its wallets nowhere, and one that maps into a missing database
 * would fail on the first request instead of at start-up.
 */
export function parseShardMap(text: string | undefined, databases: number): number[] {
  if (text === undefined) {
    return Array.from({ length: LOGICAL_SHARDS }, (_, shard) => Math.floor((shard * databases) / LOGICAL_SHARDS));
  }
  const map = new Array<number>(LOGICAL_SHARDS).fill(-1);
  for (const range of text.split(',')) {
    const [, first, last, db] = /^(\d+)-(\d+):(\d+)$/.exec(range)!.map(Number);
    if (first! > last! || last! >= LOGICAL_SHARDS) {
      throw new ConfigError(`Invalid configuration: SHARD_MAP range ${range} is not within 0-${LOGICAL_SHARDS - 1}`);
    }
    if (db! >= databases) {
      throw new ConfigError(
        `Invalid configuration: SHARD_MAP range ${range} names database ${db}, but only ${databases} are configured`,
      );
    }
    for (let shard = first!; shard <= last!; shard++) {
      if (map[shard] !== -1)
        throw new ConfigError(`Invalid configuration: SHARD_MAP maps logical shard ${shard} twice`);
      map[shard] = db!;
    }
  }
  const missing = map.indexOf(-1);
  if (missing !== -1)
    throw new ConfigError(`Invalid configuration: SHARD_MAP leaves logical shard ${missing} unmapped`);
  for (let db = 0; db < databases; db++) {
    if (!map.includes(db))
      throw new ConfigError(`Invalid configuration: SHARD_MAP maps no logical shard to database ${db}`);
  }
  return map;
}
