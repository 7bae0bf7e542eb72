import { Type } from '@sinclair/typebox';
import { Ref, StringEnum } from '../schemas/common';

export const LivenessSchema = Type.Object({ status: StringEnum(['ok']) }, { $id: 'Liveness', title: 'Liveness' });

const CheckResult = Type.String({ description: "'ok', or 'unreachable: <short reason>'" });
export const ReadinessSchema = Type.Object(
  {
    status: StringEnum(['ok', 'unavailable']),
    checks: Type.Object({ postgres: CheckResult, redis: CheckResult, temporal: CheckResult }),
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
  summary: 'Readiness probe (Postgres, Redis, Temporal)',
  tags: ['health'],
  security: [],
  response: {
    200: {
      description: 'Every dependency answers',
      content: {
        'application/json': {
          schema: Ref(ReadinessSchema),
          example: { status: 'ok', checks: { postgres: 'ok', redis: 'ok', temporal: 'ok' } },
        },
      },
    },
    503: {
      description: 'A dependency does not answer',
      content: {
        'application/json': {
          schema: Ref(ReadinessSchema),
          example: {
            status: 'unavailable',
            checks: { postgres: 'ok', redis: 'unreachable: connection reconnecting', temporal: 'ok' },
          },
        },
      },
    },
  },
};
