import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The lists the API merges across wallet databases (transfers, wallets, the audit trail) are ordered by
 * (created_at DESC, id DESC): identity values (seq, row ids) are per database and not comparable across
 * them (docs/api.md "Lists across shards"). These indexes serve that order and its keyset, alone and
 * under the filters the lists take (a status, a wallet as sender or receiver, an owner, a target).
 */
export class ListOrder1700000500000 implements MigrationInterface {
  name = 'ListOrder1700000500000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX transfers_created_idx ON transfers (created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX transfers_status_created_idx ON transfers (status, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX transfers_from_created_idx ON transfers (from_wallet_id, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX transfers_to_created_idx ON transfers (to_wallet_id, created_at DESC, id DESC)`);
    await q.query(
      `CREATE INDEX wallets_customer_created_idx ON wallets (created_at DESC, id DESC) WHERE kind = 'customer'`,
    );
    await q.query(`CREATE INDEX wallets_owner_created_idx ON wallets (owner_id, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX audit_log_created_idx ON audit_log (created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX audit_log_target_created_idx ON audit_log (target_id, created_at DESC, id DESC)`);
  }

  public async down(q: QueryRunner): Promise<void> {
    for (const index of [
      'audit_log_target_created_idx',
      'audit_log_created_idx',
      'wallets_owner_created_idx',
      'wallets_customer_created_idx',
      'transfers_to_created_idx',
      'transfers_from_created_idx',
      'transfers_status_created_idx',
      'transfers_created_idx',
    ]) {
      await q.query(`DROP INDEX ${index}`);
    }
  }
}
