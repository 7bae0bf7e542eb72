import { Type } from '@sinclair/typebox';
import { Ref, StringEnum } from '../schemas/common';

export const LivenessSchema = Type.Object({ status: StringEnum(['ok']) }, { $id: 'Liveness', title: 'Liveness' });

const CheckResult = Type.String({ description: "'ok', or 'unreachable: <short reason>'" });
export const ReadinessSchema = Type.Object(
  {
    status: StringEnum(['ok', 'unavailable']),
    checks: Type.Object({
      postgres: Type.String({ description: "database 0 (db-0): 'ok', or 'unreachable: <short reason>'" }),
      redis: CheckResult,
      temporal: CheckResult,
    }),
    databases: Type.Record(Type.String(), CheckResult, {
      description:
        'every database by name (db-0, db-1, …, accounting): informational, only db-0 decides readiness, so that an ' +
        'outage of one shard keeps the API serving the others',
    }),
  },
  { $id: 'Readiness', title: 'Readiness' },
);

export const livenessSchema = {
  summary: 'Liveness probe',
  tags: ['health'],
  security: [],
  response: {
    200: {
      description: 'The process serves requests',
      content: { 'application/json': { schema: Ref(LivenessSchema), example: { status: 'ok' } } },
    },
  },
};

export const readinessSchema = {
  summary: 'Readiness probe (database 0, Redis, Temporal; every database reported)',
  tags: ['health'],
  security: [],
  response: {
    200: {
      description: 'Database 0, Redis and Temporal answer',
      content: {
        'application/json': {
          schema: Ref(ReadinessSchema),
          example: {
            status: 'ok',
            checks: { postgres: 'ok', redis: 'ok', temporal: 'ok' },
            databases: { 'db-0': 'ok', 'db-1': 'unreachable: database db-1 is unavailable' },
          },
        },
      },
    },
    503: {
      description: 'Database 0, Redis or Temporal does not answer',
      content: {
        'application/json': {
          schema: Ref(ReadinessSchema),
          example: {
            status: 'unavailable',
            checks: { postgres: 'ok', redis: 'unreachable: connection reconnecting', temporal: 'ok' },
            databases: { 'db-0': 'ok', 'db-1': 'ok' },
          },
        },
      },
    },
  },
};
