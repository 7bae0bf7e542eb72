-- First-start initialisation of the compose stack's Postgres (postgres:16 runs every *.sql in
-- /docker-entrypoint-initdb.d once, as the superuser, on an EMPTY data volume only).
--
--   role      databases                          used by
--   temporal  temporal, temporal_visibility      Temporal server (schemas: temporal-schema one-shot)
--   wallet    wallet                             API, workers, migrate: wallet shard database 0 (the other
--                                                shard and the accounting book: infra/postgres/init-wallet.sql)
--
-- Passwords come from the container environment (TEMPORAL_DB_PASSWORD, WALLET_DB_PASSWORD, see
-- docker-compose.yml) through psql's \getenv; the fallbacks below are obviously-local development
-- defaults, never to be used anywhere else. Idempotent: re-running it changes nothing that exists
-- (except that it resets the two passwords to the configured values).

\set ON_ERROR_STOP on

\getenv temporal_password TEMPORAL_DB_PASSWORD
\if :{?temporal_password}
\else
  \set temporal_password 'temporal-local-dev-only'
\endif
\getenv wallet_password WALLET_DB_PASSWORD
\if :{?wallet_password}
\else
  \set wallet_password 'wallet-local-dev-only'
\endif

-- Roles: least privilege, no superuser, no CREATEDB/CREATEROLE.
SELECT format('CREATE ROLE temporal LOGIN PASSWORD %L', :'temporal_password')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'temporal') \gexec
SELECT format('ALTER ROLE temporal LOGIN PASSWORD %L', :'temporal_password') \gexec
SELECT format('CREATE ROLE wallet LOGIN PASSWORD %L', :'wallet_password')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'wallet') \gexec
SELECT format('ALTER ROLE wallet LOGIN PASSWORD %L', :'wallet_password') \gexec

-- Databases, each owned by its role (in Postgres 15+ the owner controls the public schema).
SELECT 'CREATE DATABASE temporal OWNER temporal'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'temporal') \gexec
SELECT 'CREATE DATABASE temporal_visibility OWNER temporal'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'temporal_visibility') \gexec
SELECT 'CREATE DATABASE wallet OWNER wallet'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'wallet') \gexec

-- Each role reaches only its own databases.
REVOKE CONNECT ON DATABASE temporal, temporal_visibility, wallet FROM PUBLIC;
GRANT CONNECT ON DATABASE temporal, temporal_visibility TO temporal;
GRANT CONNECT ON DATABASE wallet TO wallet;
