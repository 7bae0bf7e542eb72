import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { listRuns } from '../../domain/reconciliation/runs';
import { auditActor } from '../auth/audit-actor';
import { afterKeyOf } from '../pagination';
import { STAFF_ROLES } from '../plugins/caller';
import { getRun, startReconciliationRun } from '../reconciliation/start-run';
import { DEFAULT_PAGE_LIMIT } from '../schemas/common';
import { reconciliationSchemas as schemas } from './reconciliation.schemas';

/** Reconciliation runs: start one now (finance, admin; audited), read them (staff). */
const reconciliationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const deps = { db: app.db, temporal: app.temporal, config: app.config };

  const start = {
    schema: schemas.start,
    config: { access: { roles: ['finance', 'admin'], rateLimit: 'privileged' } },
  } as const;
  app.post('/v1/reconciliation/runs', start, async (request, reply) => {
    const run = await startReconciliationRun(deps, auditActor(request), request.body.reason);
    return reply.code(202).header('location', `/v1/reconciliation/runs/${run.id}`).send(run);
  });

  const read = { access: { roles: STAFF_ROLES, rateLimit: 'read' } } as const;
  app.get('/v1/reconciliation/runs', { schema: schemas.list, config: read }, async (request) => {
    const { limit = DEFAULT_PAGE_LIMIT, cursor } = request.query;
    return listRuns(app.db, { limit, afterSeq: afterKeyOf(cursor) });
  });

  app.get('/v1/reconciliation/runs/:id', { schema: schemas.get, config: read }, async (request) => {
    return getRun(app.db, request.params.id);
  });
};

export default reconciliationRoutes;
