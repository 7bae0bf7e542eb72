import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ROLES } from '../auth/roles';
import { isStaff } from '../auth/policy';
import { ALL_ROLES } from '../plugins/caller';
import { jsonResponse, Nullable, problemResponses } from '../schemas/common';

export const CallerSchema = Type.Object(
  {
    sub: Type.String({ description: 'the caller (the token’s `sub`): the actor the audit trail names' }),
    roles: Type.Array(Type.Union(ROLES.map((r) => Type.Literal(r))), { description: 'the known roles the token carries' }),
    temporalUiWorkflowsUrl: Nullable(
      Type.String({
        description:
          'staff only, when TEMPORAL_UI_URL is set: the Temporal UI’s workflow list of this namespace; a transfer’s saga is ' +
          '`<temporalUiWorkflowsUrl>/<workflowId>`',
      }),
    ),
  },
  { title: 'Caller' },
);

/**
 * Who the API takes the caller for: the finance console (GET /console) asks this to decide what to show
 * (a refusal for customers, read-only for ops). Display only: every route still checks the token itself.
 */
const meRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const ui = app.config.TEMPORAL_UI_URL?.replace(/\/+$/, '');
  const workflows = ui ? `${ui}/namespaces/${encodeURIComponent(app.config.TEMPORAL_NAMESPACE)}/workflows` : null;
  app.get(
    '/v1/me',
    {
      schema: {
        summary: 'The caller: its subject and roles, as the API reads the token',
        description:
          'Any valid token. What the finance console uses to show what the caller may do; the routes decide on their own.',
        tags: ['auth'],
        security: [{ bearerAuth: [] }],
        response: {
          200: jsonResponse(CallerSchema, 'The caller', {
            example: { sub: 'fiona', roles: ['finance'], temporalUiWorkflowsUrl: 'http://127.0.0.1:8233/namespaces/default/workflows' },
          }),
          ...problemResponses(401, 429),
        },
      },
      config: { access: { roles: ALL_ROLES, rateLimit: 'read' } },
    },
    async (request) => ({
      sub: request.callerId,
      roles: [...request.roles],
      temporalUiWorkflowsUrl: isStaff(request) ? workflows : null,
    }),
  );
};

export default meRoutes;
