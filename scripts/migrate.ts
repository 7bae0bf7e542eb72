import { Client } from 'pg';
import { loadConfig, type Config } from '../config';
import { runMigrations } from '../db/migrate';

function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!name) throw new Error(`DATABASE_URL has no database name: ${redact(url)}`);
  return name;
}

/** The URL of the `postgres` maintenance database on the same server as `url`. */
export function maintenanceUrl(url: string): string {
  const u = new URL(url);
  u.pathname = '/postgres';
  return u.toString();
}

/** `url` without its password, for messages. */
export function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

async function withMaintenanceClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: maintenanceUrl(url), application_name: 'wallet-migrate' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates the database named in `url` unless it exists. Returns true when it was created. */
export async function ensureDatabase(url: string): Promise<boolean> {
  const name = databaseName(url);
  return withMaintenanceClient(url, async (c) => {
    const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return false;
    try {
      await c.query(`CREATE DATABASE ${quoteIdent(name)}`);
    } catch (err) {
      // another process created it between our check and CREATE: fine
      if ((err as { code?: string }).code !== '42P04') throw err;
      return false;
    }
    return true;
  });
}

/** Drops the database named in `url` (if it exists), disconnecting any sessions still on it. */
export async function dropDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  await withMaintenanceClient(url, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  });
}

/** Every database of a configuration: the wallet shard databases, then the accounting book's if it has its own. */
export function configuredDatabases(config: Config): string[] {
  return [...new Set([...config.shardDatabaseUrls, config.accountingDatabaseUrl])];
}

/** Creates and migrates every database of the configuration (docs/operations.md): each wallet shard and the accounting book. */
export async function migrateAll(config: Config, log: (line: string) => void = console.log): Promise<void> {
  for (const url of configuredDatabases(config)) {
    if (await ensureDatabase(url)) log(`created database ${databaseName(url)}`);
    const applied = await runMigrations(url);
    if (applied.length === 0) log(`migrations: ${redact(url)} is up to date`);
    for (const name of applied) log(`migration applied to ${databaseName(url)}: ${name}`);
  }
}

async function main(): Promise<void> {
  await migrateAll(loadConfig(process.env));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error('migration failed:', err);
    process.exit(1);
  });
}
