import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { buildProblem, PROBLEM_CONTENT_TYPE, problemFromError, type Problem } from '../errors';
import { ProblemSchema } from '../schemas/common';

function pathOf(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? request.url;
}

/** Every problem carries the request id (also in the X-Request-Id header and every log line of the request). */
function sendProblem(reply: FastifyReply, problem: Problem) {
  return reply
    .code(problem.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send({ ...problem, requestId: reply.request.id });
}

/**
 * Answers any failure as a problem (mapped in api/errors.ts). Unexpected failures are logged with the
 * error (every request logger carries the request id) and answered without their message or stack.
 * Also used for Fastify's `frameworkErrors` (e.g. an undecodable URL), which bypass the error handler.
 */
export function replyWithProblem(error: unknown, request: FastifyRequest, reply: FastifyReply) {
  const { problem, expected } = problemFromError(error, pathOf(request));
  if (expected) request.log.info({ code: problem.code, status: problem.status }, 'request refused');
  else request.log.error({ err: error, code: problem.code }, 'request failed');
  return sendProblem(reply, problem);
}

/**
 * The single error handler and not-found handler: everything that fails leaves as
 * application/problem+json (RFC 9457).
 */
export default fp(
  async (app) => {
    app.addSchema(ProblemSchema); // $id 'Problem': every route's problem responses refer to it
    app.setErrorHandler(replyWithProblem);
    app.setNotFoundHandler((request, reply) =>
      sendProblem(
        reply,
        buildProblem('ROUTE_NOT_FOUND', `no route ${request.method} ${pathOf(request)}`, { instance: pathOf(request) }),
      ),
    );
  },
  { name: 'errors', fastify: '5.x' },
);
