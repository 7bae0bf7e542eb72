import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { createDataSource, migrations } from '../db/data-source';
import { runMigrations } from '../db/migrate';
import { configuredDatabases, dropDatabase, ensureDatabase, migrateAll } from '../scripts/migrate';
import { testConfig } from './support/env';

const TABLES = [
  'wallets',
  'journal_entries',
  'ledger_lines',
  'holds',
  'transfers',
  'accounting_bookings',
  'accounting_lines',
  'notifications',
  'idempotency_records',
  'audit_log',
  'reconciliation_runs',
  'reconciliation_discrepancies',
  'incoming_transfers',
];

/** A brand-new empty database of its own on the run's server, separate from the run's (already migrated) database. */
function scratchDatabaseUrl(): string {
  const url = new URL(testConfig().DATABASE_URL);
  url.pathname = `/wallet_migrations_${Date.now()}_${process.pid}`;
  return url.toString();
}

async function publicTables(url: string): Promise<string[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
    );
    return rows.map((r) => r.table_name).sort();
  } finally {
    await client.end();
  }
}

describe('migrations', () => {
  const url = scratchDatabaseUrl();
  let ds: DataSource | undefined;

  beforeAll(async () => {
    await ensureDatabase(url);
  });

  afterAll(async () => {
    if (ds?.isInitialized) await ds.destroy();
    await dropDatabase(url);
  });

  it('apply to an empty database and revert completely', async () => {
    expect(await publicTables(url)).toEqual([]);

    const applied = await runMigrations(url);
    expect(applied).toEqual(migrations.map((m) => new m().name ?? m.name));
    expect(await publicTables(url)).toEqual(expect.arrayContaining(TABLES));
    // applying again is a no-op
    expect(await runMigrations(url)).toEqual([]);

    const source = createDataSource({ url, poolMax: 2, applicationName: 'wallet-migrations-test' });
    ds = source;
    await source.initialize();
    const executedCount = async (): Promise<number> =>
      Number((await source.query<{ n: string }[]>('SELECT count(*) AS n FROM schema_migrations'))[0]?.n);
    expect(await executedCount()).toBe(migrations.length);
    let reverted = 0;
    while ((await executedCount()) > 0) {
      await source.undoLastMigration({ transaction: 'each' });
      reverted += 1;
      if (reverted > migrations.length) throw new Error('undoLastMigration did not converge');
    }
    expect(reverted).toBe(migrations.length);
    await source.destroy();

    // only TypeORM's own bookkeeping table may remain
    expect(await publicTables(url)).toEqual(['schema_migrations']);
  });
});

describe('npm run migrate (migrateAll)', () => {
  const named = (suffix: string) => {
    const url = new URL(scratchDatabaseUrl());
    url.pathname = `${url.pathname}${suffix}`;
    return url.toString();
  };
  const [db0, db1, accounting] = [named('_a'), named('_b'), named('_acc')];
  const config = testConfig({ DATABASE_URL: db0, SHARD_DATABASE_URLS: db1, ACCOUNTING_DATABASE_URL: accounting });

  afterAll(async () => {
    for (const url of [db0, db1, accounting]) await dropDatabase(url);
  });

  it('creates and migrates every wallet shard database and the accounting book, and again is a no-op', async () => {
    expect(configuredDatabases(config)).toEqual([db0, db1, accounting]);
    const lines: string[] = [];
    await migrateAll(config, (l) => lines.push(l));
    for (const url of [db0, db1, accounting]) {
      expect(await publicTables(url)).toEqual(expect.arrayContaining(TABLES));
      expect(await runMigrations(url)).toEqual([]);
    }
    expect(lines.filter((l) => l.startsWith('created database'))).toHaveLength(3);
    const again: string[] = [];
    await migrateAll(config, (l) => again.push(l));
    expect(again.every((l) => l.includes('is up to date'))).toBe(true);
    expect(again).toHaveLength(3);
  });
});
