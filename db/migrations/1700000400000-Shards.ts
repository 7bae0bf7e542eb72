import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Wallet shards (docs/architecture.md §9). Every wallet shard database gets the whole schema, and this:
 * - clearing accounts (kind 'clearing', one per logical shard and currency) carry money in transit
 *   between shards; like the system accounts they may go negative. System accounts become one per
 *   logical shard and currency too (a deposit's entry stays in its wallet's shard), so the unique key
 *   of the non-customer accounts is their owner id (`external:EUR@7`, `clearing:EUR@7`);
 * - the journal entries of a transfer between shards: its debit (sender → clearing) and a return
 *   (clearing → sender) on the sender's shard, its credit (clearing → receiver) on the receiver's;
 * - transfer statuses DEBITED (the point of no return: money left the sender's shard) and RETURNED;
 *   a transfer row lives on its sender's shard, so its receiver may be a wallet of another database;
 * - incoming_transfers on the receiver's shard: the credit's decision, written once (credited or
 *   refused) and never changed, so a late credit attempt after a refusal cannot land;
 * - logical_shard(uuid): the logical shard an id carries (domain/shards.ts), for moves and checks in SQL.
 */
export class Shards1700000400000 implements MigrationInterface {
  name = 'Shards1700000400000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION logical_shard(id uuid) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT CASE WHEN substr(id::text, 15, 1) = '8'
                     AND ('x' || lpad(substr(id::text, 16, 3), 8, '0'))::bit(32)::integer < 1024
                    THEN ('x' || lpad(substr(id::text, 16, 3), 8, '0'))::bit(32)::integer
                    ELSE 0 END
      $$`);

    await q.query(`ALTER TABLE wallets DROP CONSTRAINT wallets_kind_check`);
    await q.query(
      `ALTER TABLE wallets ADD CONSTRAINT wallets_kind_check CHECK (kind IN ('customer', 'system', 'clearing'))`,
    );
    await q.query(`ALTER TABLE wallets DROP CONSTRAINT wallets_balance_non_negative`);
    await q.query(
      `ALTER TABLE wallets ADD CONSTRAINT wallets_balance_non_negative CHECK (kind <> 'customer' OR balance >= 0)`,
    );
    await q.query(`ALTER TABLE wallets DROP CONSTRAINT wallets_held_within_balance`);
    await q.query(
      `ALTER TABLE wallets ADD CONSTRAINT wallets_held_within_balance CHECK (kind <> 'customer' OR held <= balance)`,
    );
    await q.query(`DROP INDEX wallets_system_currency_uq`);
    await q.query(`CREATE UNIQUE INDEX wallets_account_owner_uq ON wallets (owner_id) WHERE kind <> 'customer'`);

    await q.query(`ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_kind_check`);
    await q.query(`ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_kind_check
      CHECK (kind IN ('deposit', 'transfer', 'reversal', 'transfer_debit', 'transfer_credit', 'transfer_return'))`);
    await q.query(`CREATE UNIQUE INDEX journal_entries_transfer_leg_uq ON journal_entries (transfer_id, kind)
      WHERE kind IN ('transfer_debit', 'transfer_credit', 'transfer_return')`);

    await q.query(`ALTER TABLE transfers DROP CONSTRAINT transfers_status_check`);
    await q.query(`ALTER TABLE transfers ADD CONSTRAINT transfers_status_check CHECK (status IN ('PENDING', 'RESERVED',
      'ACCOUNTED', 'DEBITED', 'POSTED', 'COMPLETED', 'REJECTED', 'NEEDS_ATTENTION', 'COMPENSATING', 'CANCELLED', 'RETURNED'))`);
    await q.query(`ALTER TABLE transfers DROP CONSTRAINT transfers_to_wallet_id_fkey`);

    await q.query(`
      CREATE TABLE incoming_transfers (
        transfer_id     uuid PRIMARY KEY,
        from_wallet_id  uuid NOT NULL,
        to_wallet_id    uuid NOT NULL,
        amount          bigint NOT NULL CHECK (amount > 0),
        currency        char(3) NOT NULL,
        status          text NOT NULL CHECK (status IN ('credited', 'refused')),
        failure_code    text,
        failure_reason  text,
        created_at      timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT incoming_transfers_refusal_explained CHECK ((status = 'refused') = (failure_code IS NOT NULL))
      )`);
    await q.query(
      `CREATE INDEX incoming_transfers_to_wallet_idx ON incoming_transfers (to_wallet_id, created_at DESC)`,
    );
    await q.query(`CREATE TRIGGER incoming_transfers_no_update_delete BEFORE UPDATE OR DELETE ON incoming_transfers
      FOR EACH ROW EXECUTE FUNCTION forbid_mutation()`);
    await q.query(`CREATE TRIGGER incoming_transfers_no_truncate BEFORE TRUNCATE ON incoming_transfers
      FOR EACH STATEMENT EXECUTE FUNCTION forbid_mutation()`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE incoming_transfers`);
    await q.query(`ALTER TABLE transfers ADD CONSTRAINT transfers_to_wallet_id_fkey FOREIGN KEY (to_wallet_id)
      REFERENCES wallets (id)`);
    await q.query(`ALTER TABLE transfers DROP CONSTRAINT transfers_status_check`);
    await q.query(`ALTER TABLE transfers ADD CONSTRAINT transfers_status_check CHECK (status IN ('PENDING', 'RESERVED',
      'ACCOUNTED', 'POSTED', 'COMPLETED', 'REJECTED', 'NEEDS_ATTENTION', 'COMPENSATING', 'CANCELLED'))`);
    await q.query(`DROP INDEX journal_entries_transfer_leg_uq`);
    await q.query(`ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_kind_check`);
    await q.query(`ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_kind_check
      CHECK (kind IN ('deposit', 'transfer', 'reversal'))`);
    await q.query(`DROP INDEX wallets_account_owner_uq`);
    await q.query(`CREATE UNIQUE INDEX wallets_system_currency_uq ON wallets (currency) WHERE kind = 'system'`);
    await q.query(`ALTER TABLE wallets DROP CONSTRAINT wallets_held_within_balance`);
    await q.query(
      `ALTER TABLE wallets ADD CONSTRAINT wallets_held_within_balance CHECK (kind = 'system' OR held <= balance)`,
    );
    await q.query(`ALTER TABLE wallets DROP CONSTRAINT wallets_balance_non_negative`);
    await q.query(
      `ALTER TABLE wallets ADD CONSTRAINT wallets_balance_non_negative CHECK (kind = 'system' OR balance >= 0)`,
    );
    await q.query(`ALTER TABLE wallets DROP CONSTRAINT wallets_kind_check`);
    await q.query(`ALTER TABLE wallets ADD CONSTRAINT wallets_kind_check CHECK (kind IN ('customer', 'system'))`);
    await q.query(`DROP FUNCTION logical_shard(uuid)`);
  }
}
