import { Type } from '@sinclair/typebox';
import { ROLES } from '../auth/roles';
import { jsonResponse, NoQuery, Nullable, problemResponses, Ref, StringEnum } from '../schemas/common';

export const CallerSchema = Type.Object(
  {
    sub: Type.String({ description: 'the caller (the token’s `sub`): the actor the audit trail names' }),
    roles: Type.Array(StringEnum(ROLES), { description: 'the known roles the token carries' }),
    temporalUiWorkflowsUrl: Nullable(
      Type.String({
        description:
          'staff only, when TEMPORAL_UI_URL is set: the Temporal UI’s workflow list of this namespace; a transfer’s saga is ' +
          '`<temporalUiWorkflowsUrl>/<workflowId>`',
      }),
    ),
  },
  { $id: 'Caller', title: 'Caller' },
);

export const meSchema = {
  summary: 'The caller: its subject and roles, as the API reads the token',
  description:
    'Any valid token. What the finance console uses to show what the caller may do; the routes decide on their own.',
  tags: ['auth'],
  security: [{ bearerAuth: [] }],
  querystring: NoQuery,
  response: {
    200: jsonResponse(Ref(CallerSchema), 'The caller', {
      example: {
        sub: 'fiona',
        roles: ['finance'],
        temporalUiWorkflowsUrl: 'http://127.0.0.1:8233/namespaces/default/workflows',
      },
    }),
    ...problemResponses(401, 429),
  },
};
