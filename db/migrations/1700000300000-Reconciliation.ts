import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Reconciliation runs (workflows/reconciliation.ts): one row per run with its counts, and one row per
 * discrepancy it found (kind, subject, what was repaired). Page activities write their discrepancies
 * as they go, keyed so that a retried page adds nothing twice; the workflow carries only counts.
 * A manual run is audited ('reconciliation.run' on target type 'reconciliation_run').
 */
export class Reconciliation1700000300000 implements MigrationInterface {
  name = 'Reconciliation1700000300000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE reconciliation_runs (
        id                 uuid PRIMARY KEY,
        seq                bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        workflow_id        text NOT NULL,
        trigger            text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
        requested_by       text,
        status             text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
        -- why a failed run stopped (an activity out of retries, a cancel from the Temporal UI)
        failure            text,
        checked            jsonb NOT NULL DEFAULT '{}'::jsonb,
        discrepancy_counts jsonb NOT NULL DEFAULT '{}'::jsonb,
        discrepancies      integer NOT NULL DEFAULT 0,
        repaired           integer NOT NULL DEFAULT 0,
        started_at         timestamptz NOT NULL DEFAULT now(),
        finished_at        timestamptz
      )`);
    await q.query(
      `CREATE INDEX reconciliation_runs_finished_idx ON reconciliation_runs (finished_at) WHERE status = 'succeeded'`,
    );
    await q.query(`
      CREATE TABLE reconciliation_discrepancies (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run_id      uuid NOT NULL REFERENCES reconciliation_runs (id) ON DELETE CASCADE,
        kind        text NOT NULL,
        subject     text NOT NULL,
        ids         jsonb NOT NULL DEFAULT '{}'::jsonb,
        detail      text NOT NULL,
        repaired    text,
        created_at  timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT reconciliation_discrepancies_once UNIQUE (run_id, kind, subject)
      )`);
    await q.query(`ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check`);
    await q.query(`ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN ('transfer.retry',
      'transfer.cancel', 'wallet.freeze', 'wallet.unfreeze', 'wallet.deposit', 'reconciliation.run'))`);
    await q.query(`ALTER TABLE audit_log DROP CONSTRAINT audit_log_target_type_check`);
    await q.query(`ALTER TABLE audit_log ADD CONSTRAINT audit_log_target_type_check
      CHECK (target_type IN ('wallet', 'transfer', 'reconciliation_run'))`);
  }

  public async down(q: QueryRunner): Promise<void> {
    // the audit rows of manual runs cannot be deleted (append-only): the wider constraints stay if any exist
    const { 0: row } = (await q.query(
      `SELECT count(*)::int AS n FROM audit_log WHERE action = 'reconciliation.run'`,
    )) as Array<{ n: number }>;
    if (row && row.n === 0) {
      await q.query(`ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check`);
      await q.query(`ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN ('transfer.retry',
        'transfer.cancel', 'wallet.freeze', 'wallet.unfreeze', 'wallet.deposit'))`);
      await q.query(`ALTER TABLE audit_log DROP CONSTRAINT audit_log_target_type_check`);
      await q.query(
        `ALTER TABLE audit_log ADD CONSTRAINT audit_log_target_type_check CHECK (target_type IN ('wallet', 'transfer'))`,
      );
    }
    await q.query(`DROP TABLE reconciliation_discrepancies`);
    await q.query(`DROP TABLE reconciliation_runs`);
  }
}
