import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { listAuditAcross } from '../across-shards';
import { afterRowKeyOf } from '../pagination';
import { STAFF_ROLES } from '../plugins/caller';
import { DEFAULT_PAGE_LIMIT } from '../schemas/common';
import { listAuditSchema } from './audit.schemas';

/** The audit trail of privileged actions, newest first (ops, finance, admin), merged from every wallet database. */
const auditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/audit',
    {
      schema: listAuditSchema,
      config: { access: { roles: STAFF_ROLES, rateLimit: 'read' } },
    },
    async (request) => {
      const { target, limit = DEFAULT_PAGE_LIMIT, cursor } = request.query;
      return listAuditAcross(app.shards, { targetId: target, limit, after: afterRowKeyOf(cursor) });
    },
  );
};

export default auditRoutes;
