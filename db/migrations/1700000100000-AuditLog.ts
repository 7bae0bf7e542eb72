import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The audit trail of privileged actions (retry, cancel, freeze, unfreeze, deposits): who did what to
 * which object, why, under which request. Append-only like the ledger (forbid_mutation() from the
 * initial schema): an UPDATE, DELETE or TRUNCATE fails, so a row, once committed, stays as written.
 */
export class AuditLog1700000100000 implements MigrationInterface {
  name = 'AuditLog1700000100000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE audit_log (
        id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        actor        text NOT NULL CHECK (actor <> ''),
        roles        text[] NOT NULL,
        action       text NOT NULL CHECK (action IN ('transfer.retry', 'transfer.cancel', 'wallet.freeze',
                       'wallet.unfreeze', 'wallet.deposit')),
        target_type  text NOT NULL CHECK (target_type IN ('wallet', 'transfer')),
        target_id    uuid NOT NULL,
        reason       text,
        request_id   text NOT NULL,
        details      jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at   timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX audit_log_target_idx ON audit_log (target_id, created_at)`);
    await q.query(`CREATE INDEX audit_log_actor_idx ON audit_log (actor, created_at)`);
    await q.query(`CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
      FOR EACH ROW EXECUTE FUNCTION forbid_mutation()`);
    await q.query(`CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
      FOR EACH STATEMENT EXECUTE FUNCTION forbid_mutation()`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE audit_log`);
  }
}
