import type { FastifyRequest } from 'fastify';
import type { AuditActor } from '../../domain/audit';

/** The audit trail's "who": the verified caller, its roles and the request id (also in logs and X-Request-Id). */
export function auditActor(request: FastifyRequest): AuditActor {
  return { actor: request.callerId, roles: request.roles, requestId: request.id };
}
