import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { AUDIT_ACTIONS, AUDIT_TARGET_TYPES, listAudit } from '../../domain/audit';
import { afterKeyOf } from '../pagination';
import { STAFF_ROLES } from '../plugins/caller';
import { AUDIT_EXAMPLE } from '../schemas/examples';
import { DEFAULT_PAGE_LIMIT, jsonResponse, NextCursor, Nullable, pageQuery, problemResponses, Timestamp, Uuid } from '../schemas/common';

export const AuditRecordSchema = Type.Object(
  {
    id: Type.String({ description: 'row id, increasing over time' }),
    actor: Type.String({ description: 'the `sub` of the caller who acted' }),
    roles: Type.Array(Type.String(), { description: 'the roles the caller held when acting' }),
    action: Type.Union(AUDIT_ACTIONS.map((a) => Type.Literal(a))),
    targetType: Type.Union(AUDIT_TARGET_TYPES.map((t) => Type.Literal(t))),
    targetId: Uuid,
    reason: Nullable(Type.String()),
    requestId: Type.String({ description: 'X-Request-Id of the request that acted: find its log lines with it' }),
    details: Type.Object({}, { additionalProperties: true, description: 'action-specific facts (amount, previous status, …)' }),
    createdAt: Timestamp,
  },
  { title: 'AuditRecord' },
);

/** The audit trail of privileged actions, newest first (ops, finance, admin). */
const auditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/audit',
    {
      schema: {
        summary: 'Audit trail of privileged actions (ops, finance, admin)',
        description:
          'Retries, cancels, freezes, unfreezes, deposits and manual reconciliation runs, newest first; with `target`, those on one wallet or transfer. ' +
          'The trail is append-only: rows are never changed or deleted.',
        tags: ['audit'],
        security: [{ bearerAuth: [] }],
        querystring: pageQuery({ target: Type.Optional(Uuid) }),
        response: {
          200: jsonResponse(
            Type.Object({ items: Type.Array(AuditRecordSchema), nextCursor: NextCursor }, { title: 'AuditPage' }),
            'One page of audit rows',
            { example: { items: [AUDIT_EXAMPLE], nextCursor: null } },
          ),
          ...problemResponses(400, 401, 403, 429),
        },
      },
      config: { access: { roles: STAFF_ROLES, rateLimit: 'read' } },
    },
    async (request) => {
      const { target, limit = DEFAULT_PAGE_LIMIT, cursor } = request.query;
      return listAudit(app.db, { targetId: target, limit, afterId: afterKeyOf(cursor) });
    },
  );
};

export default auditRoutes;
