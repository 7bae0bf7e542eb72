import { Type } from '@sinclair/typebox';
import { AUDIT_ACTIONS, AUDIT_TARGET_TYPES } from '../../domain/audit';
import { AUDIT_EXAMPLE } from '../schemas/examples';
import {
  jsonResponse,
  Nullable,
  Page,
  pageQuery,
  problemResponses,
  Ref,
  StringEnum,
  Timestamp,
  Uuid,
  UuidRef,
} from '../schemas/common';

export const AuditEntrySchema = Type.Object(
  {
    id: Type.String({ description: 'row id in the wallet database holding the row (not unique across them)' }),
    actor: Type.String({ description: 'the `sub` of the caller who acted' }),
    roles: Type.Array(Type.String(), { description: 'the roles the caller held when acting' }),
    action: StringEnum(AUDIT_ACTIONS),
    targetType: StringEnum(AUDIT_TARGET_TYPES),
    targetId: UuidRef,
    reason: Nullable(Type.String()),
    requestId: Type.String({ description: 'X-Request-Id of the request that acted: find its log lines with it' }),
    details: Type.Object(
      {},
      { additionalProperties: true, description: 'action-specific facts (amount, previous status, …)' },
    ),
    createdAt: Timestamp,
  },
  { $id: 'AuditEntry', title: 'AuditEntry' },
);

export const AuditEntryPageSchema = Page(AuditEntrySchema, 'AuditEntryPage', { merged: true });

export const listAuditSchema = {
  summary: 'Audit trail of privileged actions (ops, finance, admin)',
  description:
    'Retries, cancels, freezes, unfreezes, deposits and manual reconciliation runs, newest first (by creation ' +
    'time, across every wallet database); with `target`, those on one wallet or transfer. ' +
    'The trail is append-only: rows are never changed or deleted.',
  tags: ['audit'],
  security: [{ bearerAuth: [] }],
  querystring: pageQuery({ target: Type.Optional(Uuid) }, { merged: true }),
  response: {
    200: jsonResponse(Ref(AuditEntryPageSchema), 'One page of audit rows', {
      example: { items: [AUDIT_EXAMPLE], nextCursor: null },
    }),
    ...problemResponses(400, 401, 403, 429),
  },
};
