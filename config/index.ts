import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/**
 * Every setting comes from the environment and is validated once, at start-up:
 * a process with a bad setting refuses to start instead of failing on the first request.
 */
const ConfigSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('test'), Type.Literal('production')], {
    default: 'development',
  }),
  HOST: Type.String({ default: '127.0.0.1' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  DATABASE_URL: Type.String({ pattern: '^postgres(ql)?://', default: 'postgres://postgres@127.0.0.1:5432/wallet' }),
  DB_POOL_MAX: Type.Integer({ minimum: 1, maximum: 500, default: 20 }),
  REDIS_URL: Type.String({ pattern: '^rediss?://', default: 'redis://127.0.0.1:6379' }),
  /** Prefix of every Redis key this service writes, so environments (and test runs) sharing a Redis never collide. */
  REDIS_KEY_PREFIX: Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$', default: 'wallet:' }),
  TEMPORAL_ADDRESS: Type.String({ minLength: 1, default: '127.0.0.1:7233' }),
  TEMPORAL_NAMESPACE: Type.String({ minLength: 1, default: 'default' }),
  TEMPORAL_TASK_QUEUE: Type.String({ minLength: 1, default: 'wallet-transfers' }),
  /** Largest amount, in minor units, accepted for one deposit or transfer. */
  MAX_AMOUNT_MINOR: Type.String({ pattern: '^[1-9][0-9]{0,15}$', default: '100000000000' }),
  /** How long an idempotency record (and its replayable response) is kept. */
  IDEMPOTENCY_TTL_SECONDS: Type.Integer({ minimum: 86400, default: 86400 }),
  /** Per-wallet limit on outgoing transfers per UTC day, enforced by the accounting book. */
  DAILY_OUTGOING_LIMIT_MINOR: Type.String({ pattern: '^[1-9][0-9]{0,17}$', default: '1000000000' }),
  /** Retry budget of one saga step before the transfer is parked as NEEDS_ATTENTION. */
  TRANSFER_STEP_BUDGET_SECONDS: Type.Integer({ minimum: 1, default: 300 }),
  /** One attempt of a step; an attempt lost with its worker is retried after this. */
  TRANSFER_STEP_ATTEMPT_TIMEOUT_SECONDS: Type.Integer({ minimum: 1, default: 30 }),
  /** How long a parked transfer waits for finance before it is cancelled automatically. */
  TRANSFER_PARK_DEADLINE_SECONDS: Type.Integer({ minimum: 1, default: 72 * 3600 }),
  /** Worker concurrency limits. */
  WORKER_MAX_CONCURRENT_ACTIVITIES: Type.Integer({ minimum: 1, default: 50 }),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: Type.Integer({ minimum: 1, default: 40 }),
  WORKER_SHUTDOWN_GRACE_SECONDS: Type.Integer({ minimum: 0, default: 30 }),
  WORKER_BUNDLE_PATH: Type.Optional(Type.String({ minLength: 1 })),
});

export type Config = Static<typeof ConfigSchema> & {
  maxAmountMinor: bigint;
  dailyOutgoingLimitMinor: bigint;
};

export class ConfigError extends Error {}

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
  return {
    ...cfg,
    maxAmountMinor: BigInt(cfg.MAX_AMOUNT_MINOR),
    dailyOutgoingLimitMinor: BigInt(cfg.DAILY_OUTGOING_LIMIT_MINOR),
  };
}
