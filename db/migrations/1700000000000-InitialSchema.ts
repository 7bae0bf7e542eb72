import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The ledger schema (docs/architecture.md §3). Hand-written SQL so every constraint is visible in review:
 * money is bigint minor units, balances are guarded by CHECKs, ledger tables are append-only
 * (enforced by triggers) and every journal entry must balance to zero per currency
 * (a deferred constraint trigger checked at commit).
 */
export class InitialSchema1700000000000 implements MigrationInterface {
  name = 'InitialSchema1700000000000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE wallets (
        id          uuid PRIMARY KEY,
        owner_id    text NOT NULL,
        kind        text NOT NULL DEFAULT 'customer' CHECK (kind IN ('customer', 'system')),
        currency    char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'frozen', 'closed')),
        balance     bigint NOT NULL DEFAULT 0,
        held        bigint NOT NULL DEFAULT 0,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        -- system accounts (external:<CCY>) are the counterpart of money entering the system,
        -- so they alone go negative; customer wallets never do.
        CONSTRAINT wallets_balance_non_negative CHECK (kind = 'system' OR balance >= 0),
        CONSTRAINT wallets_held_non_negative CHECK (held >= 0),
        CONSTRAINT wallets_held_within_balance CHECK (kind = 'system' OR held <= balance)
      )`);
    await q.query(`CREATE INDEX wallets_owner_idx ON wallets (owner_id, created_at)`);
    await q.query(`CREATE UNIQUE INDEX wallets_system_currency_uq ON wallets (currency) WHERE kind = 'system'`);

    await q.query(`
      CREATE TABLE journal_entries (
        id           uuid PRIMARY KEY,
        kind         text NOT NULL CHECK (kind IN ('deposit', 'transfer', 'reversal')),
        -- the business event this entry records ('deposit:<id>', 'transfer:<id>'): one entry per event, ever
        reference    text NOT NULL,
        transfer_id  uuid,
        currency     char(3) NOT NULL,
        description  text,
        created_at   timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT journal_entries_reference_uq UNIQUE (reference)
      )`);
    await q.query(
      `CREATE UNIQUE INDEX journal_entries_transfer_uq ON journal_entries (transfer_id) WHERE kind = 'transfer'`,
    );

    await q.query(`
      CREATE TABLE ledger_lines (
        id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        entry_id       uuid NOT NULL REFERENCES journal_entries (id),
        wallet_id      uuid NOT NULL REFERENCES wallets (id),
        amount         bigint NOT NULL CHECK (amount <> 0),
        currency       char(3) NOT NULL,
        balance_after  bigint NOT NULL,
        created_at     timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX ledger_lines_wallet_history_idx ON ledger_lines (wallet_id, id DESC)`);
    await q.query(`CREATE INDEX ledger_lines_entry_idx ON ledger_lines (entry_id)`);

    await q.query(`
      CREATE FUNCTION forbid_mutation() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
      END $$`);
    for (const table of ['journal_entries', 'ledger_lines']) {
      await q.query(`CREATE TRIGGER ${table}_no_update_delete BEFORE UPDATE OR DELETE ON ${table}
        FOR EACH ROW EXECUTE FUNCTION forbid_mutation()`);
      await q.query(`CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table}
        FOR EACH STATEMENT EXECUTE FUNCTION forbid_mutation()`);
    }
    await q.query(`
      CREATE FUNCTION check_journal_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF (SELECT count(*) FROM ledger_lines WHERE entry_id = NEW.entry_id) < 2
           OR EXISTS (SELECT 1 FROM ledger_lines WHERE entry_id = NEW.entry_id
                      GROUP BY currency HAVING sum(amount) <> 0) THEN
          RAISE EXCEPTION 'journal entry % does not balance', NEW.entry_id USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(`CREATE CONSTRAINT TRIGGER ledger_lines_entry_balanced AFTER INSERT ON ledger_lines
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_journal_entry_balanced()`);

    await q.query(`
      CREATE TABLE transfers (
        id               uuid PRIMARY KEY,
        -- insertion order, for stable keyset pagination (uuids derived from keys are not ordered)
        seq              bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        caller_id        text NOT NULL,
        idempotency_key  text NOT NULL,
        request_hash     text NOT NULL,
        from_wallet_id   uuid NOT NULL REFERENCES wallets (id),
        to_wallet_id     uuid NOT NULL REFERENCES wallets (id),
        amount           bigint NOT NULL CHECK (amount > 0),
        currency         char(3) NOT NULL,
        description      text,
        status           text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'RESERVED', 'ACCOUNTED',
                           'POSTED', 'COMPLETED', 'REJECTED', 'NEEDS_ATTENTION', 'COMPENSATING', 'CANCELLED')),
        steps            jsonb NOT NULL DEFAULT '{}'::jsonb,
        failed_step      text,
        failure_code     text,
        failure_reason   text,
        workflow_id      text NOT NULL,
        run_id           text,
        created_at       timestamptz NOT NULL DEFAULT now(),
        updated_at       timestamptz NOT NULL DEFAULT now(),
        finished_at      timestamptz,
        CONSTRAINT transfers_caller_key_uq UNIQUE (caller_id, idempotency_key),
        CONSTRAINT transfers_distinct_wallets CHECK (from_wallet_id <> to_wallet_id)
      )`);
    await q.query(`CREATE INDEX transfers_status_idx ON transfers (status, seq DESC)`);
    await q.query(`CREATE INDEX transfers_from_wallet_idx ON transfers (from_wallet_id, seq DESC)`);
    await q.query(`CREATE INDEX transfers_to_wallet_idx ON transfers (to_wallet_id, seq DESC)`);

    await q.query(`
      CREATE TABLE holds (
        transfer_id  uuid PRIMARY KEY,
        wallet_id    uuid NOT NULL REFERENCES wallets (id),
        amount       bigint NOT NULL CHECK (amount > 0),
        -- 'released' without ever having been 'active' is a tombstone: the release ran first,
        -- so a late reserve for the same transfer must do nothing
        status       text NOT NULL CHECK (status IN ('active', 'captured', 'released')),
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX holds_active_wallet_idx ON holds (wallet_id) WHERE status = 'active'`);

    await q.query(`
      CREATE TABLE accounting_bookings (
        transfer_id   uuid PRIMARY KEY,
        wallet_id     uuid NOT NULL,
        amount        bigint NOT NULL CHECK (amount > 0),
        currency      char(3) NOT NULL,
        booking_date  date NOT NULL,
        status        text NOT NULL CHECK (status IN ('booked', 'reversed')),
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX accounting_bookings_daily_idx ON accounting_bookings (wallet_id, booking_date)
      WHERE status = 'booked'`);
    await q.query(`
      CREATE TABLE accounting_lines (
        id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        transfer_id  uuid NOT NULL REFERENCES accounting_bookings (transfer_id),
        kind         text NOT NULL CHECK (kind IN ('booking', 'reversal')),
        account      text NOT NULL,
        currency     char(3) NOT NULL,
        amount       bigint NOT NULL CHECK (amount <> 0),
        created_at   timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT accounting_lines_once UNIQUE (transfer_id, kind, account)
      )`);
    await q.query(`CREATE TRIGGER accounting_lines_no_update_delete BEFORE UPDATE OR DELETE ON accounting_lines
      FOR EACH ROW EXECUTE FUNCTION forbid_mutation()`);

    await q.query(`
      CREATE TABLE notifications (
        id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        transfer_id   uuid NOT NULL,
        wallet_id     uuid NOT NULL,
        recipient_id  text NOT NULL,
        kind          text NOT NULL CHECK (kind IN ('transfer.sent', 'transfer.received')),
        payload       jsonb NOT NULL,
        published_at  timestamptz,
        created_at    timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT notifications_once UNIQUE (transfer_id, kind)
      )`);
    await q.query(`CREATE INDEX notifications_recipient_idx ON notifications (recipient_id, created_at DESC)`);

    await q.query(`
      CREATE TABLE idempotency_records (
        caller_id        text NOT NULL,
        idempotency_key  text NOT NULL,
        -- sha-256 of method, route and canonical body: the same key with another request is refused
        request_hash     text NOT NULL,
        resource_type    text NOT NULL CHECK (resource_type IN ('deposit', 'transfer')),
        -- replays re-render this resource: deposits are immutable ledger rows (byte-identical
        -- replays), transfers answer with their current state while the saga runs
        resource_id      uuid NOT NULL,
        created_at       timestamptz NOT NULL DEFAULT now(),
        expires_at       timestamptz NOT NULL,
        PRIMARY KEY (caller_id, idempotency_key)
      )`);
    await q.query(`CREATE INDEX idempotency_records_expiry_idx ON idempotency_records (expires_at)`);
  }

  public async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'idempotency_records',
      'notifications',
      'accounting_lines',
      'accounting_bookings',
      'holds',
      'transfers',
      'ledger_lines',
      'journal_entries',
      'wallets',
    ]) {
      await q.query(`DROP TABLE ${table}`);
    }
    await q.query(`DROP FUNCTION check_journal_entry_balanced()`);
    await q.query(`DROP FUNCTION forbid_mutation()`);
  }
}
