import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { isStaff } from '../auth/policy';
import { ALL_ROLES } from '../plugins/caller';
import { meSchema } from './me.schemas';

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
      schema: meSchema,
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
