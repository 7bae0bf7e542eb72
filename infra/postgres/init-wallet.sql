-- First-start initialisation of a wallet-only Postgres instance of the compose stack (postgres-shard1:
-- wallet shard database 1; postgres-accounting: the accounting book). postgres:16 runs it once, as the
-- superuser, on an EMPTY data volume only.
--
--   role    database        used by
--   wallet  $WALLET_DB_NAME API, workers, migrate (schema: node dist/scripts/migrate.js)
--
-- The password and the database name come from the container environment (WALLET_DB_PASSWORD,
-- WALLET_DB_NAME, see docker-compose.yml) through psql's \getenv; the password's fallback is an
-- obviously-local development default. Idempotent, as infra/postgres/init.sql.

\set ON_ERROR_STOP on

\getenv wallet_password WALLET_DB_PASSWORD
\if :{?wallet_password}
\else
  \set wallet_password 'wallet-local-dev-only'
\endif
\getenv wallet_db WALLET_DB_NAME
\if :{?wallet_db}
\else
  DO $$ BEGIN RAISE EXCEPTION 'WALLET_DB_NAME is not set (docker-compose.yml)'; END $$;
\endif

-- Role: least privilege, no superuser, no CREATEDB/CREATEROLE.
SELECT format('CREATE ROLE wallet LOGIN PASSWORD %L', :'wallet_password')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'wallet') \gexec
SELECT format('ALTER ROLE wallet LOGIN PASSWORD %L', :'wallet_password') \gexec

-- The database, owned by its role (in Postgres 15+ the owner controls the public schema).
SELECT format('CREATE DATABASE %I OWNER wallet', :'wallet_db')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'wallet_db') \gexec

-- The role reaches only its own database.
SELECT format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC', :'wallet_db') \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO wallet', :'wallet_db') \gexec
