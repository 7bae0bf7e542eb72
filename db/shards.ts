import CircuitBreaker from 'opossum';
import type { Config } from '../config';
import { shardOfId, shardOfOwner } from '../domain/shards';
import { MIGRATION_NAMES } from './migrations';
import { isUnavailableError, pgErrorCode } from './pg-errors';
import { CONNECT_TIMEOUT_MS, createStore, type Store } from './store';

/**
 * The databases of the service (docs/architecture.md §9): the wallet shard databases, which hold the
 * logical shards SHARD_MAP gives them, and the accounting book's. Each has its own pool and its own
 * circuit breaker; no transaction ever spans two of them.
 */

/** A database the service could not reach (or that was given up on for a moment): retry after `retryAfterSeconds`. */
export class StoreUnavailable extends Error {
  readonly code = 'STORE_UNAVAILABLE';
  constructor(
    /** the database's name: `db-0`, `db-1`, …, `accounting` */
    readonly store: string,
    readonly retryAfterSeconds: number,
    cause?: unknown,
  ) {
    super(`database ${store} is unavailable`, { cause });
    this.name = 'StoreUnavailable';
  }
}

export function isStoreUnavailable(err: unknown): err is StoreUnavailable {
  return err instanceof StoreUnavailable;
}

/** A database at start-up that lacks migrations this build has (or does not exist): the process must not serve. */
export class SchemaNotCurrent extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SchemaNotCurrent';
  }
}

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface ShardDatabase {
  /** `db-<index>` for a wallet shard database, `accounting` for the book's own */
  readonly name: string;
  /** every statement goes through the breaker: open, it fails at once with StoreUnavailable */
  readonly store: Store;
  breakerState(): BreakerState;
  /**
   * Set when the database, first reached after start-up, turned out to be missing or behind on its
   * migrations: its statements are refused (StoreUnavailable) instead of run on the wrong schema.
   */
  readonly refusal: SchemaNotCurrent | undefined;
}

export interface ShardSet {
  /** The wallet shard databases, by index (SHARD_MAP's values). */
  readonly databases: readonly ShardDatabase[];
  /** Database 0: also the service-wide tables (reconciliation runs) and the service-wide reads of one database. */
  readonly home: ShardDatabase;
  /** The accounting book (database 0 itself when ACCOUNTING_DATABASE_URL is unset). */
  readonly accounting: ShardDatabase;
  /** Every distinct database: the wallet shards, then the accounting book if it has its own. */
  readonly all: readonly ShardDatabase[];
  /** The database holding a logical shard. */
  forShard(logicalShard: number): ShardDatabase;
  /** A wallet's database, from its id alone (its shard is in the id; ids from before sharding are shard 0). */
  forWallet(walletId: string): ShardDatabase;
  /** An owner's database (where its wallets are created), and a caller's (its idempotency records). */
  forOwner(ownerId: string): ShardDatabase;
  /** A transfer's database: its sender's, which the transfer id carries. */
  forTransfer(transferId: string): ShardDatabase;
  /** One round trip to every database, and a check that each has every migration; rejects on the first failure. */
  connect(): Promise<void>;
  /**
   * The same for one database: a process starts serving once database 0 answers and checks each other
   * database when it first answers, so one shard down at start-up stops only what needs it.
   */
  connectOne(db: ShardDatabase): Promise<void>;
  /** Every database answered once. */
  readonly connected: boolean;
  close(): Promise<void>;
}

export interface ShardSetOptions {
  poolMax: number;
  applicationName: string;
  /** statement read timeout (a frozen database fails a statement after it); default 10 s */
  queryTimeoutMs?: number;
}

const DEFAULT_QUERY_TIMEOUT_MS = 10_000;

/**
 * A Store whose statements pass a circuit breaker (opossum). Only unavailability counts against it
 * (a refused connection, a dropped one, a read timeout): a constraint or a refusal by the data is the
 * database answering. Once half of the statements of the last connect timeout (5 s; at least 3) failed
 * so, it opens for the cooldown: statements fail at once with StoreUnavailable, so an API request that
 * needs a down database costs nothing and a saga step waits for it instead of spending its attempts.
 * Then one statement is let through; its success closes the breaker.
 */
type GuardedDatabase = ShardDatabase & { refuse(err: SchemaNotCurrent): void };

function guardedDatabase(name: string, store: Store, cooldownSeconds: number): GuardedDatabase {
  let refusal: SchemaNotCurrent | undefined;
  const breaker = new CircuitBreaker(<T>(work: () => Promise<T>) => work(), {
    timeout: false, // the driver's own timeouts bound a statement
    resetTimeout: cooldownSeconds * 1000,
    errorThresholdPercentage: 50,
    volumeThreshold: 3,
    // as long as a connect timeout: the requests that hung on a frozen database all fail within one
    // window, however few they were (a 1 s window saw three only at a few requests a second)
    rollingCountTimeout: CONNECT_TIMEOUT_MS,
    rollingCountBuckets: 5,
    errorFilter: (err: unknown) => !isUnavailableError(err),
  });
  async function guard<T>(work: () => Promise<T>): Promise<T> {
    if (refusal) throw new StoreUnavailable(name, cooldownSeconds, refusal);
    try {
      return (await breaker.fire(work)) as T;
    } catch (err) {
      if ((err as { code?: unknown }).code === 'EOPENBREAKER' || isUnavailableError(err)) {
        throw new StoreUnavailable(name, cooldownSeconds, err);
      }
      throw err;
    }
  }
  const guarded: Store = {
    sql: (text, params) => guard(() => store.sql(text, params)),
    transaction: (work) => guard(() => store.transaction(work)),
    boundedRead: (timeoutMs, work) => guard(() => store.boundedRead(timeoutMs, work)),
    ping: (timeoutMs) => store.ping(timeoutMs),
    connect: () => store.connect(),
    get connected() {
      return store.connected;
    },
    poolStats: () => store.poolStats(),
    async close() {
      breaker.shutdown();
      await store.close();
    },
  };
  return {
    name,
    store: guarded,
    breakerState: () => (breaker.opened ? 'open' : breaker.halfOpen ? 'half_open' : 'closed'),
    get refusal() {
      return refusal;
    },
    refuse: (err) => (refusal = err),
  };
}

/** The migrations a database lacks (all of them when it has never been migrated). */
async function missingMigrations(store: Store): Promise<string[]> {
  const { rows } = await store.sql<{ exists: boolean }>(
    `SELECT to_regclass('schema_migrations') IS NOT NULL AS exists`,
  );
  if (!rows[0]?.exists) return [...MIGRATION_NAMES];
  const applied = await store.sql<{ name: string }>(`SELECT name FROM schema_migrations`);
  const names = new Set(applied.rows.map((r) => r.name));
  return MIGRATION_NAMES.filter((n) => !names.has(n));
}

export function createShardSet(config: Config, options: ShardSetOptions): ShardSet {
  const queryTimeoutMs = options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  const open = (name: string, url: string) =>
    guardedDatabase(
      name,
      createStore({ url, poolMax: options.poolMax, applicationName: options.applicationName, queryTimeoutMs }),
      config.SHARD_BREAKER_COOLDOWN_SECONDS,
    );
  const databases = config.shardDatabaseUrls.map((url, index) => open(`db-${index}`, url));
  const sharedIndex = config.shardDatabaseUrls.indexOf(config.accountingDatabaseUrl);
  const accounting = sharedIndex >= 0 ? databases[sharedIndex]! : open('accounting', config.accountingDatabaseUrl);
  const all = sharedIndex >= 0 ? databases : [...databases, accounting];
  const forShard = (logicalShard: number) => databases[config.shardMap[logicalShard]!]!;

  async function connectOne(db: ShardDatabase): Promise<void> {
    const refuse = (message: string) => {
      const err = new SchemaNotCurrent(message);
      (db as GuardedDatabase).refuse(err);
      return err;
    };
    try {
      await db.store.connect();
    } catch (err) {
      // 3D000 invalid_catalog_name: the server answers, the configured database is not there
      if (pgErrorCode(err) === '3D000') throw refuse(`database ${db.name} does not exist: run npm run migrate`);
      throw err;
    }
    const missing = await missingMigrations(db.store);
    if (missing.length > 0)
      throw refuse(`database ${db.name} lacks migrations ${missing.join(', ')}: run npm run migrate`);
  }

  return {
    databases,
    home: databases[0]!,
    accounting,
    all,
    forShard,
    forWallet: (walletId) => forShard(shardOfId(walletId)),
    forOwner: (ownerId) => forShard(shardOfOwner(ownerId)),
    forTransfer: (transferId) => forShard(shardOfId(transferId)),
    async connect() {
      for (const db of all) await connectOne(db);
    },
    connectOne,
    get connected() {
      return all.every((db) => db.store.connected);
    },
    async close() {
      await Promise.all(all.map((db) => db.store.close()));
    },
  };
}
