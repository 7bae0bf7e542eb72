import { STATUS_CODES } from 'node:http';
import { isGrpcServiceError } from '@temporalio/client';
import { pgErrorCode } from '../db/pg-errors';
import { isStoreUnavailable } from '../db/shards';
import { DomainError, TransferRefused, TransferRefusedEarly, type DomainErrorCode } from '../domain/errors';

/**
 * The one place where failures become HTTP answers (RFC 9457 problem details).
 * Every problem carries a stable UPPER_SNAKE `code` and a `type` URI derived from it, so clients
 * branch on those and never on `detail`, which is for humans and may change.
 */

interface ProblemKind {
  status: number;
  title: string;
}

/** Business errors from domain/: exhaustive, so a new domain code fails the type check until mapped here. */
const DOMAIN_PROBLEMS: Record<DomainErrorCode, ProblemKind> = {
  WALLET_NOT_FOUND: { status: 404, title: 'Wallet not found' },
  WALLET_NOT_ACTIVE: { status: 409, title: 'Wallet is not active' },
  INSUFFICIENT_FUNDS: { status: 422, title: 'Insufficient funds' },
  CURRENCY_MISMATCH: { status: 422, title: 'Currency mismatch' },
  LIMIT_EXCEEDED: { status: 422, title: 'Limit exceeded' },
  SAME_WALLET: { status: 422, title: 'Source and destination wallet are the same' },
  TRANSFER_NOT_FOUND: { status: 404, title: 'Transfer not found' },
  TRANSFER_NOT_PARKED: { status: 409, title: 'Transfer is not waiting for a decision' },
  TRANSFER_NOT_CANCELLABLE: { status: 409, title: 'Transfer can only go forward' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'Idempotency key reused with a different request' },
  INVALID_AMOUNT: { status: 400, title: 'Invalid amount' },
  INVALID_STATE: { status: 409, title: 'Invalid state' },
  HOLD_CAPTURED: { status: 409, title: 'Transfer already posted' },
  RECONCILIATION_RUN_NOT_FOUND: { status: 404, title: 'Reconciliation run not found' },
};

/** Errors raised by the HTTP layer itself (request shape, transport, infrastructure). */
const API_PROBLEMS = {
  // not valid HTTP/1.1: Node's parser refused it, or not exactly one valid Host (api/plugins/host-header.ts)
  BAD_REQUEST: { status: 400, title: 'Bad Request' },
  CLIENT_ABORTED: { status: 400, title: 'Request aborted by the client' }, // logged (info); the connection is gone
  VALIDATION_FAILED: { status: 400, title: 'Request validation failed' },
  MALFORMED_JSON: { status: 400, title: 'Malformed JSON body' },
  INVALID_INPUT: { status: 400, title: 'Invalid input' },
  INVALID_CURSOR: { status: 400, title: 'Invalid pagination cursor' },
  IDEMPOTENCY_KEY_MISSING: { status: 400, title: 'Idempotency-Key header required' },
  IDEMPOTENCY_KEY_INVALID: { status: 400, title: 'Invalid Idempotency-Key header' },
  UNAUTHENTICATED: { status: 401, title: 'Authentication required' },
  FORBIDDEN: { status: 403, title: 'Not allowed for your role' },
  ROUTE_NOT_FOUND: { status: 404, title: 'Route not found' },
  NOT_FOUND: { status: 404, title: 'Not found' }, // a route serves the URL, with nothing there (a missing static file)
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' }, // with Allow: the methods the path serves
  REQUEST_TIMEOUT: { status: 408, title: 'Request Timeout' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload too large' },
  URI_TOO_LONG: { status: 414, title: 'URI Too Long' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  HEADERS_TOO_LARGE: { status: 431, title: 'Request header fields too large' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  SERVICE_UNAVAILABLE: { status: 503, title: 'Service temporarily unavailable' },
  // a wallet shard's database (or the accounting book's) is down, or its circuit breaker is open (db/shards.ts)
  SHARD_UNAVAILABLE: { status: 503, title: 'Database temporarily unavailable' },
  INTERNAL: { status: 500, title: 'Internal error' },
} satisfies Record<string, ProblemKind>;

export type ApiErrorCode = keyof typeof API_PROBLEMS;
export type ProblemCode = DomainErrorCode | ApiErrorCode;

const PROBLEMS: Record<ProblemCode, ProblemKind> = { ...DOMAIN_PROBLEMS, ...API_PROBLEMS };

export const PROBLEM_TYPE_BASE = 'https://errors.wallet.example/';
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** WALLET_NOT_FOUND → https://errors.wallet.example/wallet-not-found */
export function problemType(code: string): string {
  return PROBLEM_TYPE_BASE + code.toLowerCase().replace(/_/g, '-');
}

export function statusOf(code: ProblemCode): number {
  return PROBLEMS[code].status;
}

export interface FieldError {
  /** which part of the request: body, params, querystring, headers */
  in: string;
  /** JSON pointer into that part ('' = the part itself) */
  path: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  instance?: string;
  requestId?: string;
  errors?: FieldError[];
  /** a refused transfer (POST /v1/transfers answered 422): it exists, with this id */
  transferId?: string;
}

/** An HTTP-layer failure with a stable code (domain failures are DomainErrors). */
export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function buildProblem(
  code: ProblemCode,
  detail: string,
  extra: Pick<Problem, 'instance' | 'requestId' | 'errors' | 'transferId'> = {},
): Problem {
  const kind = PROBLEMS[code];
  return { type: problemType(code), title: kind.title, status: kind.status, code, detail, ...extra };
}

/** Framework errors raised before our handlers run, by Fastify code. */
const FASTIFY_PROBLEMS: Record<string, { code: ProblemCode; detail: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'UNSUPPORTED_MEDIA_TYPE', detail: 'send the body as application/json' },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'PAYLOAD_TOO_LARGE', detail: 'the request body is too large' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'MALFORMED_JSON', detail: 'the request body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'MALFORMED_JSON', detail: 'the request body is empty but declared as JSON' },
};

// Postgres SQLSTATE classes. 22 (data exception: invalid uuid/number text, bad byte sequence, out of
// range) can only come from input that slipped past the schemas: the caller's fault, never a 500.
// 08 connection, 53 resources, 57 operator intervention, 40 serialization/deadlock: transient.
const PG_INPUT_CLASSES = ['22'];
const PG_TRANSIENT_CLASSES = ['08', '53', '57', '40'];
const NODE_NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND']);

/**
 * node-postgres failures of a connection that was dropped or never came up (Postgres restarted or
 * killed, a proxy or the network cut it, the pool timed out): no SQLSTATE and no code, only these
 * messages, on the error itself or on the driverError of TypeORM's QueryFailedError wrapping it.
 */
const PG_CONNECTION_LOST_MESSAGES = [
  'Connection terminated', // also "… unexpectedly" and "… due to connection timeout"
  'is not queryable', // "Client has encountered a connection error and is not queryable", "Client was closed and is not queryable"
  'timeout exceeded when trying to connect',
  'terminating connection due to', // 57P01 administrator command / 57P02 crash shutdown, should the code be missing
  'the database system is', // 57P03: starting up, shutting down, in recovery mode
];

function isConnectionLost(error: unknown): boolean {
  const candidates = [error, (error as { driverError?: unknown } | null)?.driverError];
  return candidates.some((e) => {
    const message = (e as { message?: unknown } | null)?.message;
    return typeof message === 'string' && PG_CONNECTION_LOST_MESSAGES.some((m) => message.includes(m));
  });
}

/** The gRPC status code of a Temporal client error, thrown as is or as the cause of the SDK's own error. */
export function grpcStatusOf(error: unknown): number | undefined {
  const grpc = isGrpcServiceError(error) ? error : (error as { cause?: unknown } | null)?.cause;
  return isGrpcServiceError(grpc) ? grpc.code : undefined;
}

/** The Temporal server unreachable or overloaded (gRPC UNAVAILABLE 14, RESOURCE_EXHAUSTED 8, DEADLINE_EXCEEDED 4). */
function isTemporalUnavailable(error: unknown): boolean {
  return [4, 8, 14].includes(grpcStatusOf(error) ?? -1);
}

interface ErrorLike {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
  validation?: Array<{ instancePath?: string; message?: string }>;
  validationContext?: string;
}

/** At most this many field errors are echoed back: enough to fix a request, bounded for hostile input. */
const MAX_FIELD_ERRORS = 20;

function fieldErrors(err: ErrorLike): FieldError[] {
  const part = err.validationContext ?? 'body';
  return (err.validation ?? []).slice(0, MAX_FIELD_ERRORS).map((v) => ({
    in: part,
    path: v.instancePath ?? '',
    message: v.message ?? 'is invalid',
  }));
}

function httpCodeName(status: number): string {
  return (STATUS_CODES[status] ?? 'Bad Request').toUpperCase().replace(/[^A-Z0-9]+/g, '_');
}

export interface ClassifiedError {
  problem: Problem;
  /** false: the operator must look at it (500, an unavailable dependency); the handler logs those */
  expected: boolean;
  /** the answer's Retry-After, in seconds */
  retryAfterSeconds?: number;
  /** a database that is down: logged once per request as a warning naming it, without a stack */
  store?: string;
}

/**
 * Classifies any thrown value. `expected` is false for failures the operator must look at
 * (500, unavailable dependencies): the handler logs those with the error; the rest are the caller's.
 */
export function problemFromError(error: unknown, instance?: string): ClassifiedError {
  const err = (error ?? {}) as ErrorLike;
  const extra = instance ? { instance } : {};

  if (isStoreUnavailable(error)) {
    // the database's name (db-1, accounting), never its URL; the breaker says when to try again
    const detail = `database ${error.store} is unavailable; retry after ${error.retryAfterSeconds} s`;
    return {
      problem: buildProblem('SHARD_UNAVAILABLE', detail, extra),
      expected: false,
      retryAfterSeconds: error.retryAfterSeconds,
      store: error.store,
    };
  }
  if (error instanceof TransferRefusedEarly) {
    const problem = buildProblem(error.code, error.message, extra);
    return {
      problem: { ...problem, title: `Transfer refused: ${problem.title.toLowerCase()}`, status: 422 },
      expected: true,
    };
  }
  if (error instanceof TransferRefused) {
    const problem = buildProblem(error.code, error.message, { ...extra, transferId: error.transferId });
    return {
      problem: { ...problem, title: `Transfer refused: ${problem.title.toLowerCase()}`, status: 422 },
      expected: true,
    };
  }
  if (error instanceof DomainError) return { problem: buildProblem(error.code, error.message, extra), expected: true };
  if (error instanceof ApiError) {
    return { problem: buildProblem(error.code, error.message, extra), expected: statusOf(error.code) < 500 };
  }
  if (Array.isArray(err.validation)) {
    const errors = fieldErrors(err);
    const summary = errors.map((e) => `${e.in}${e.path} ${e.message}`).join('; ');
    return { problem: buildProblem('VALIDATION_FAILED', summary, { ...extra, errors }), expected: true };
  }
  const fastify = typeof err.code === 'string' ? FASTIFY_PROBLEMS[err.code] : undefined;
  if (fastify) return { problem: buildProblem(fastify.code, fastify.detail, extra), expected: true };

  const pgCode = pgErrorCode(error);
  if (pgCode && PG_INPUT_CLASSES.includes(pgCode.slice(0, 2))) {
    return {
      problem: buildProblem('INVALID_INPUT', 'a value in the request is not acceptable', extra),
      expected: true,
    };
  }
  if (
    (pgCode && PG_TRANSIENT_CLASSES.includes(pgCode.slice(0, 2))) ||
    isTemporalUnavailable(error) ||
    (typeof err.code === 'string' && NODE_NETWORK_CODES.has(err.code)) ||
    isConnectionLost(error)
  ) {
    return {
      problem: buildProblem('SERVICE_UNAVAILABLE', 'a dependency is unavailable; retry later', extra),
      expected: false,
    };
  }

  // Other framework 4xx (bad content length, URI too long, …): their messages describe the request only.
  const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
  if (status >= 400 && status < 500) {
    const detail = typeof err.message === 'string' ? err.message : 'bad request';
    const problem: Problem = {
      type: problemType(httpCodeName(status)),
      title: STATUS_CODES[status] ?? 'Bad Request',
      status,
      code: httpCodeName(status),
      detail,
      ...extra,
    };
    return { problem, expected: true };
  }
  // Never the message or stack: they may hold SQL, hosts or customer data.
  return { problem: buildProblem('INTERNAL', 'an unexpected error occurred', extra), expected: false };
}
