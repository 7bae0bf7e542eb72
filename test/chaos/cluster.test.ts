import fs from 'node:fs';
import { Client } from 'pg';
import { ChaosCluster, descendantsOf, processState, type PostgresInstance } from '../../scripts/chaos/cluster';
import { ensureDatabase } from '../../scripts/migrate';

/** Whether a database answers `SELECT 1` within `timeoutMs` (connecting included; generous: the machine may be busy). */
async function answers(pg: PostgresInstance, timeoutMs = 10_000): Promise<boolean> {
  const client = new Client({ connectionString: pg.url, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function query<T extends Record<string, unknown>>(pg: PostgresInstance, text: string): Promise<T[]> {
  const client = new Client({ connectionString: pg.url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

/**
 * The chaos run's Postgres faults on real instances (`initdb` of its own, as `npm run chaos` does):
 * each database on its own server, so that stopping or freezing one leaves the others answering.
 */
describe('chaos cluster: a Postgres instance per database, stopped and frozen one at a time', () => {
  let cluster: ChaosCluster | undefined;
  const instance = (name: string) => cluster!.instance(name);

  beforeAll(async () => {
    cluster = new ChaosCluster({ workers: 0, shards: 2, env: {}, log: () => undefined });
    await cluster.startPostgresInstances();
    for (const pg of cluster.postgres) await ensureDatabase(pg.url);
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop({ keepDir: false });
  });

  it('runs each wallet shard database and the accounting book on a server of its own', async () => {
    const pgs = cluster!.postgres;
    expect(pgs.map((pg) => [pg.name, pg.database])).toEqual([
      ['pg-0', 'db-0'],
      ['pg-1', 'db-1'],
      ['pg-accounting', 'accounting'],
    ]);
    expect(new Set(pgs.map((pg) => pg.port)).size).toBe(3);
    expect(new Set(pgs.map((pg) => pg.name).map((n) => cluster!.postmasterPid(n))).size).toBe(3);
    expect(await Promise.all(pgs.map((pg) => answers(pg)))).toEqual([true, true, true]);
    expect(cluster!.layout.shardMapText()).toBe('0-511:0,512-1023:1');
  });

  it('freezes one instance, its postmaster and every process under it, and thaws it', async () => {
    const stopped = cluster!.freezePostgres('db-1');
    try {
      expect(stopped[0]).toBe(cluster!.postmasterPid('pg-1'));
      // checkpointer, background writer, walwriter, autovacuum launcher, ... all of them
      expect(stopped.length).toBeGreaterThan(3);
      expect(descendantsOf(stopped[0]!).filter((pid) => !stopped.includes(pid))).toEqual([]);
      // stopped ('T'); a backend that was exiting as the freeze came stays a zombie ('Z'): its parent is stopped
      expect(stopped.filter((pid) => !['T', 'Z'].includes(processState(pid) ?? 'Z'))).toEqual([]);
      expect(processState(stopped[0]!)).toBe('T');
      // it hangs rather than refuses, and is still "running" for the harness (no pg_ctl start on it)
      expect(await answers(instance('pg-1'), 1500)).toBe(false);
      expect(await cluster!.postgresRunning('pg-1')).toBe(true);
      expect(cluster!.isFrozen('db-1')).toBe(true);
      expect(await answers(instance('pg-0'))).toBe(true);
      expect(await answers(instance('pg-accounting'))).toBe(true);
    } finally {
      cluster!.thawPostgres('db-1');
    }
    expect(stopped.map(processState).filter((state) => state === 'T')).toEqual([]);
    expect(cluster!.isFrozen('db-1')).toBe(false);
    expect(await answers(instance('pg-1'))).toBe(true);
  });

  it('stops one instance immediately and starts it again with its data', async () => {
    const pg0 = instance('db-0');
    await query(pg0, `CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)`);
    await cluster!.stopPostgres('pg-0');
    expect(await cluster!.postgresRunning('pg-0')).toBe(false);
    expect(await answers(pg0)).toBe(false);
    expect(await answers(instance('pg-1'))).toBe(true);
    await cluster!.startPostgres('pg-0');
    expect(await query(pg0, `SELECT n FROM kept`)).toEqual([{ n: 42 }]);
  });

  // last: stops the cluster
  it('stops a frozen instance too, thawing it first, and leaves nothing behind', async () => {
    const postmasters = cluster!.postgres.map((pg) => cluster!.postmasterPid(pg.name));
    cluster!.freezePostgres('pg-accounting');
    const dir = cluster!.dir;
    await cluster!.stop({ keepDir: false });
    cluster = undefined;
    // exited: gone, or a zombie until whatever adopted it reaps it
    expect(postmasters.map((pid) => processState(pid) ?? 'Z')).toEqual(['Z', 'Z', 'Z']);
    expect(fs.existsSync(dir)).toBe(false);
  });
});
