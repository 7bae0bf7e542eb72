import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Finance decisions are audited by the transfer workflow itself (Saga v2), in the transaction that
 * applies them. A local activity may run again after its commit (a worker dying before it reported),
 * so the row carries the decision's key (the Workflow Update id) and a second insert is a no-op.
 */
export class AuditDecisionKey1700000200000 implements MigrationInterface {
  name = 'AuditDecisionKey1700000200000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE audit_log ADD COLUMN idempotency_key text`);
    await q.query(
      `CREATE UNIQUE INDEX audit_log_idempotency_key_uq ON audit_log (idempotency_key) WHERE idempotency_key IS NOT NULL`,
    );
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX audit_log_idempotency_key_uq`);
    await q.query(`ALTER TABLE audit_log DROP COLUMN idempotency_key`);
  }
}
