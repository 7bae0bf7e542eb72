import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import fp from 'fastify-plugin';
import type { ConnectionError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { buildProblem, PROBLEM_CONTENT_TYPE, problemFromError, type Problem, type ProblemCode } from '../errors';
import { ProblemSchema } from '../schemas/common';

export function pathOf(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? request.url;
}

/** Every problem carries the request id (also in the X-Request-Id header and every log line of the request). */
export function sendProblem(reply: FastifyReply, problem: Problem) {
  return reply
    .code(problem.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send({ ...problem, requestId: reply.request.id });
}

/**
 * The methods a concrete URL is served with, in Fastify's order: asked of Fastify's own router for
 * each method it knows (findRoute matches a path, parameters included, as a request would), so HEAD
 * is there exactly where Fastify answers it (its automatic HEAD of every GET route) and OPTIONS only
 * where a route serves it. A parameter longer than maxParamLength makes the router hand back its
 * 414 stand-in (no searchParams) rather than a route: that serves nothing.
 */
function allowedMethods(app: FastifyInstance, url: string): string[] {
  return app.supportedMethods.filter((method) => {
    const route = app.findRoute({ method: method, url }) as { searchParams?: unknown } | null;
    return route !== null && route.searchParams !== undefined;
  });
}

/**
 * A URL no route matches (Fastify's 404 context): 405 with Allow where the path exists under other
 * methods, else 404. A route that does serve this method and URL but found nothing there (it called
 * reply.callNotFound(): a wildcard route such as GET /docs/static/* asked for a missing file) is 404
 * NOT_FOUND, never a 405 saying the path does not serve the method it serves.
 */
function noRouteProblem(
  app: FastifyInstance,
  method: string,
  url: string,
  path: string,
): { problem: Problem; allow?: string } {
  const allowed = allowedMethods(app, url);
  if (allowed.length === 0) {
    return { problem: buildProblem('ROUTE_NOT_FOUND', `no route ${method} ${path}`, { instance: path }) };
  }
  if (allowed.includes(method)) {
    return { problem: buildProblem('NOT_FOUND', `nothing is at ${path}`, { instance: path }) };
  }
  const allow = allowed.join(', ');
  return {
    problem: buildProblem('METHOD_NOT_ALLOWED', `${path} does not serve ${method}; it serves ${allow}`, {
      instance: path,
    }),
    allow,
  };
}

function answerNoRoute(request: FastifyRequest, reply: FastifyReply) {
  const { problem, allow } = noRouteProblem(request.server, request.method, request.url, pathOf(request));
  if (allow) reply.header('allow', allow);
  return sendProblem(reply, problem);
}

/**
 * Answers any failure as a problem (mapped in api/errors.ts). Unexpected failures are logged with the
 * error (every request logger carries the request id) and answered without their message or stack.
 */
export function replyWithProblem(error: unknown, request: FastifyRequest, reply: FastifyReply) {
  const { problem, expected, retryAfterSeconds, store } = problemFromError(error, pathOf(request));
  if (expected) request.log.info({ code: problem.code, status: problem.status }, 'request refused');
  // a database that is down fails every request that needs it, at once while its breaker is open: one
  // line each, naming it (the breaker's state is a metric), not a stack trace each
  else if (store) request.log.warn({ code: problem.code, store }, 'database unavailable');
  else request.log.error({ err: error, code: problem.code }, 'request failed');
  if (retryAfterSeconds !== undefined) reply.header('retry-after', String(retryAfterSeconds));
  return sendProblem(reply, problem);
}

/**
 * The client went away before its request was complete (it closed the connection mid-body, or Node
 * cut it at the request timeout): Node destroys the request stream with an ECONNRESET "aborted", and
 * Fastify's body reader hands on that very error. Not a dependency failing, so never SERVICE_UNAVAILABLE
 * at error level: anyone could flood the error log by hanging up.
 */
function isClientAbort(error: unknown, request: FastifyRequest): boolean {
  return error !== null && error !== undefined && error === request.raw.errored;
}

/** Fastify's refusals of a request's body (and its own 404 fallback): raised before any handler runs. */
function isBodyOrRoutingRefusal(code: unknown): boolean {
  return (
    typeof code === 'string' &&
    (code.startsWith('FST_ERR_CTP_') || code === 'FST_ERR_ROUTE_MISSING_CONTENT_TYPE' || code === 'FST_ERR_NOT_FOUND')
  );
}

/**
 * The error handler. A request to no route fails in Fastify's 404 context before the not-found
 * handler when its body cannot be taken (QUERY without Content-Type, a body too large or of another
 * media type, …): the missing route is the answer there, and the body is never looked at.
 */
function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply) {
  if (isClientAbort(error, request)) {
    // Answered for Fastify's bookkeeping (metrics, the completion log); no one is left to read it.
    const problem = buildProblem('CLIENT_ABORTED', 'the client closed the connection before its request was complete', {
      instance: pathOf(request),
    });
    request.log.info({ code: problem.code, status: problem.status }, 'client aborted the request');
    return sendProblem(reply, problem);
  }
  if (request.is404 && isBodyOrRoutingRefusal((error as { code?: unknown } | null)?.code))
    return answerNoRoute(request, reply);
  return replyWithProblem(error, request, reply);
}

/**
 * Fastify's `frameworkErrors` (an undecodable URL, a path parameter longer than maxParamLength). They
 * are raised while routing, before any hook runs, so this answer adds what the hooks give every other
 * one: the X-Request-Id and the security headers (and no-store: it is an error).
 */
export function replyToFrameworkError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  reply.headers({ ...request.server.securityHeaders, 'x-request-id': request.id, 'cache-control': 'no-store' });
  // Fastify calls this hook for its effect; the reply it sends is not awaited by anyone
  void replyWithProblem(error, request, reply);
}

/** `METHOD SP request-target SP HTTP/x.y` (RFC 9112 request line; method = RFC 9110 token). */
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}) (\S+) HTTP\/\d\.\d$/;
const METHOD_THEN_SPACE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ /;

/**
 * What an error of Node's HTTP parser (no request object exists) means for the caller:
 * - a header section past Node's maxHeaderSize (16 KiB by default, the request line included): 414 when
 *   the parser went past the limit still inside the request line, so the URL is what is too long; else
 *   431. Told from the chunk the parser was reading, which must hold the start of the request line: a
 *   URL arriving in several reads is answered 431, as Node would;
 * - a method Node's parser does not know (FOO): answered like a known method no route serves (405
 *   with Allow on a path that exists, else 404), the request line being in the chunk;
 * - a request that took longer than requestTimeout: 408; anything else unparseable: 400.
 */
function clientErrorProblem(app: FastifyInstance, error: ConnectionError): { problem: Problem; allow?: string } {
  const raw = Buffer.isBuffer(error.rawPacket) ? error.rawPacket : undefined;
  const plain = (code: ProblemCode, detail: string) => ({ problem: buildProblem(code, detail) });
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW': {
      const lineEnd = raw?.indexOf('\n') ?? -1;
      const inRequestLine =
        raw !== undefined &&
        METHOD_THEN_SPACE.test(raw.subarray(0, 64).toString('latin1')) &&
        (lineEnd === -1 || lineEnd >= error.bytesParsed);
      return inRequestLine
        ? plain('URI_TOO_LONG', 'the request URL is too long')
        : plain('HEADERS_TOO_LARGE', 'the request headers are too large');
    }
    case 'HPE_INVALID_METHOD': {
      const lineEnd = raw?.indexOf('\r\n') ?? -1;
      const line = raw && lineEnd > 0 ? REQUEST_LINE.exec(raw.subarray(0, lineEnd).toString('latin1')) : null;
      const [, method, target] = line ?? [];
      if (method && target?.startsWith('/')) return noRouteProblem(app, method, target, target.split('?')[0] ?? target);
      return plain('BAD_REQUEST', 'the request method is not one this server knows');
    }
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return plain('REQUEST_TIMEOUT', 'the request was not received in time');
    default:
      return plain('BAD_REQUEST', 'the request is not valid HTTP/1.1');
  }
}

/**
 * Fastify's `clientErrorHandler`: Node's HTTP parser refused a request (oversized URL or headers, an
 * unknown method, malformed syntax, a timeout) before any request object exists. The answer is written
 * to the socket by hand, yet like every other one: a problem document with a fresh request id (made by
 * `genReqId`, the function Fastify uses for every request) in the body and the X-Request-Id header, the
 * security headers of helmet (app.securityHeaders), no-store, and Connection: close, since the rest of
 * the stream cannot be trusted. Bound to the Fastify instance; `genReqId` is the app's.
 */
export function clientErrorHandler(genReqId: () => string) {
  return function answerClientError(this: FastifyInstance, error: ConnectionError, socket: Socket): void {
    if (error.code === 'ECONNRESET' || socket.destroyed) return; // nobody left to answer
    // As Node does: no answer in the middle of one already being written on this connection.
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && !inFlight?.headersSent) {
      const requestId = genReqId();
      const { problem, allow } = clientErrorProblem(this, error);
      this.log.info(
        { reqId: requestId, code: problem.code, status: problem.status, parserError: error.code },
        'request refused',
      );
      const body = JSON.stringify({ ...problem, requestId });
      const headers: Record<string, string> = {
        ...this.securityHeaders,
        'x-request-id': requestId,
        ...(allow ? { allow } : {}),
        'cache-control': 'no-store',
        'content-type': `${PROBLEM_CONTENT_TYPE}; charset=utf-8`,
        'content-length': String(Buffer.byteLength(body)),
        date: new Date().toUTCString(),
        connection: 'close',
      };
      const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
      socket.write(`HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\n${head.join('')}\r\n${body}`);
    }
    socket.destroy();
  };
}

/**
 * The single error handler and not-found handler: everything that fails leaves as
 * application/problem+json (RFC 9457). A known path asked with a method it does not serve is
 * 405 METHOD_NOT_ALLOWED with Allow; an unknown path is 404 ROUTE_NOT_FOUND; a route that finds
 * nothing at its URL (a missing static file) is 404 NOT_FOUND.
 */
export default fp(
  async (app) => {
    app.addSchema(ProblemSchema); // $id 'Problem': every route's problem responses refer to it
    app.setErrorHandler(handleError);
    app.setNotFoundHandler(answerNoRoute);
  },
  { name: 'errors', fastify: '5.x' },
);
