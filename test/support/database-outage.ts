import { Client } from 'pg';
import { maintenanceUrl } from '../../scripts/migrate';

/**
 * One database of the shared test Postgres taken away and given back, as a shard outage: while away it
 * refuses new connections (ALLOW_CONNECTIONS false) and every session on it is terminated, so the
 * service sees exactly what a stopped database gives it (connections refused, connections dropped)
 * while the other databases of the same server keep running.
 */
export class DatabaseOutage {
  private readonly name: string;
  constructor(private readonly url: string) {
    this.name = new URL(url).pathname.slice(1);
  }

  private async onServer(statements: Array<[string, unknown[]?]>): Promise<void> {
    const client = new Client({ connectionString: maintenanceUrl(this.url), application_name: 'wallet-test-outage' });
    await client.connect();
    try {
      for (const [text, params] of statements) await client.query(text, params);
    } finally {
      await client.end();
    }
  }

  async begin(): Promise<void> {
    await this.onServer([
      [`ALTER DATABASE "${this.name}" WITH ALLOW_CONNECTIONS false`],
      [
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
        [this.name],
      ],
    ]);
  }

  async end(): Promise<void> {
    await this.onServer([[`ALTER DATABASE "${this.name}" WITH ALLOW_CONNECTIONS true`]]);
  }
}
