import { randomBytes, randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { measureRow, type Row } from './bench-measure';

/**
 * The raw Postgres ceiling of `npm run bench`: the least a double-entry transfer can cost on this
 * database, with no API, no Temporal, no saga. One transaction per transfer: the two wallet balances
 * updated in id order (the debit conditional on funds, like the ledger's CHECK), one journal entry and
 * its two lines. Same shape as the project's bench: `senders` senders, one receiver (a hot row).
 *
 * It works in a scratch schema it creates and drops itself (never the real tables), so it can run
 * against the database of a running stack.
 */
export async function postgresCeiling(opts: {
  databaseUrl: string;
  runs: number;
  aloneRuns: number;
  senders: number;
  /** pool size and transfers in flight (the API's DB_POOL_MAX default) */
  connections?: number;
}): Promise<Row> {
  const connections = opts.connections ?? 20;
  const schema = `bench_ceiling_${randomBytes(4).toString('hex')}`;
  const pool = new Pool({ connectionString: opts.databaseUrl, max: connections, application_name: 'wallet-bench' });
  const drop = () => pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  // a Ctrl-C mid-run must not leave the schema behind
  const onSignal = () => void drop().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // the real tables' columns, checks and indexes that a transfer writes to (docs: db/migrations)
    await pool.query(`
      CREATE SCHEMA "${schema}";
      CREATE TABLE "${schema}".wallets (id uuid PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0));
      CREATE TABLE "${schema}".journal_entries (
        id uuid PRIMARY KEY, reference text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now());
      CREATE TABLE "${schema}".ledger_lines (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        entry_id uuid NOT NULL REFERENCES "${schema}".journal_entries (id),
        wallet_id uuid NOT NULL REFERENCES "${schema}".wallets (id),
        amount bigint NOT NULL CHECK (amount <> 0),
        balance_after bigint NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now());
      CREATE INDEX ON "${schema}".ledger_lines (wallet_id, id DESC);
      CREATE INDEX ON "${schema}".ledger_lines (entry_id);`);
    const senders = Array.from({ length: opts.senders }, () => randomUUID());
    const receiver = randomUUID();
    await pool.query(
      `INSERT INTO "${schema}".wallets (id, balance) SELECT unnest($1::uuid[]), 1000000000000 UNION ALL SELECT $2::uuid, 0`,
      [senders, receiver],
    );

    let n = 0;
    const transfer = async (): Promise<string> => {
      const from = senders[n++ % senders.length]!;
      const amount = 100;
      // in id order, as the ledger locks them: two transfers between the same wallets never deadlock
      const moves: Array<[string, number]> =
        from < receiver
          ? [
              [from, -amount],
              [receiver, amount],
            ]
          : [
              [receiver, amount],
              [from, -amount],
            ];
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const after = new Map<string, string>();
        for (const [id, delta] of moves) {
          const r = await client.query<{ balance: string }>(
            `UPDATE "${schema}".wallets SET balance = balance + $2 WHERE id = $1 AND balance + $2 >= 0 RETURNING balance`,
            [id, delta],
          );
          if (r.rowCount !== 1) {
            await client.query('ROLLBACK');
            return 'insufficient funds';
          }
          after.set(id, r.rows[0]!.balance);
        }
        const entry = randomUUID();
        await client.query(`INSERT INTO "${schema}".journal_entries (id, reference) VALUES ($1, $2)`, [
          entry,
          `transfer:${entry}`,
        ]);
        await client.query(
          `INSERT INTO "${schema}".ledger_lines (entry_id, wallet_id, amount, balance_after) VALUES ($1, $2, $3, $4), ($1, $5, $6, $7)`,
          [entry, from, -amount, after.get(from), receiver, amount, after.get(receiver)],
        );
        await client.query('COMMIT');
        return 'completed';
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    };
    return await measureRow(
      `raw Postgres transfer (${connections} connections)`,
      { runs: opts.runs, aloneRuns: opts.aloneRuns, concurrency: connections },
      transfer,
    );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await drop();
    await pool.end();
  }
}
