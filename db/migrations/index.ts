import { InitialSchema1700000000000 } from './1700000000000-InitialSchema';
import { AuditLog1700000100000 } from './1700000100000-AuditLog';
import { AuditDecisionKey1700000200000 } from './1700000200000-AuditDecisionKey';
import { Reconciliation1700000300000 } from './1700000300000-Reconciliation';
import { Shards1700000400000 } from './1700000400000-Shards';
import { ListOrder1700000500000 } from './1700000500000-ListOrder';

/** Every migration, in order; each database (every wallet shard and the accounting book) gets all of them. */
export const migrations = [
  InitialSchema1700000000000,
  AuditLog1700000100000,
  AuditDecisionKey1700000200000,
  Reconciliation1700000300000,
  Shards1700000400000,
  ListOrder1700000500000,
];

/** The names recorded in schema_migrations once a database is current. */
export const MIGRATION_NAMES: readonly string[] = migrations.map((M) => new M().name);
