import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { listAudit } from '../../domain/audit';
import { afterKeyOf } from '../pagination';
import { STAFF_ROLES } from '../plugins/caller';
import { DEFAULT_PAGE_LIMIT } from '../schemas/common';
import { listAuditSchema } from './audit.schemas';

/** The audit trail of privileged actions, newest first (ops, finance, admin). */
const auditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/audit',
    {
      schema: listAuditSchema,
      config: { access: { roles: STAFF_ROLES, rateLimit: 'read' } },
    },
    async (request) => {
      const { target, limit = DEFAULT_PAGE_LIMIT, cursor } = request.query;
      return listAudit(app.db, { targetId: target, limit, afterId: afterKeyOf(cursor) });
    },
  );
};

export default auditRoutes;
