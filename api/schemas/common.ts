import {
  FormatRegistry,
  Type,
  type SchemaOptions,
  type Static,
  type TSchema,
  type TProperties,
} from '@sinclair/typebox';
import { CURRENCY_CODES } from '../../domain/currencies';
import { CURSOR_PATTERN, MERGED_CURSOR_PATTERN } from '../../domain/history';
import { buildProblem, type ProblemCode } from '../errors';

/** Shared TypeBox schemas (bodies are checked by TypeBox, other request parts by Ajv: api/validation.ts). */

// The canonical 8-4-4-4-12 hex form only. Ajv's 'uuid' format would also let `urn:uuid:…` through,
// which Postgres refuses; TypeBox knows no formats at all and fails every value of an unknown one.
const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
/** The schemas' uuid pattern as a RegExp (also api/uuid-case.ts). */
export const UUID_REGEXP = new RegExp(UUID_PATTERN);
if (!FormatRegistry.Has('uuid')) FormatRegistry.Set('uuid', (value) => UUID_REGEXP.test(value));

export const UuidWithExample = (example: string) =>
  Type.String({ format: 'uuid', pattern: UUID_PATTERN, examples: [example] });
export const Uuid = UuidWithExample('3f0a8d4e-6c1b-4f7e-9a2d-1b2c3d4e5f60');

/**
 * An id in a response, by reference to the one shared Uuid schema (components.schemas.Uuid). Response
 * serializers resolve shared schemas; the Ajv of params and query strings does not (api/validation.ts),
 * so those, and the bodies, embed `Uuid` instead.
 */
export const UuidSchema = Type.String({ $id: 'Uuid', title: 'Uuid', format: 'uuid', pattern: UUID_PATTERN });
export const UuidRef = Ref(UuidSchema);

export const WalletIdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

// An active ISO 4217 code. Checked as a format (bodies are validated by TypeBox, which ignores `enum` on
// strings); the `enum` documents the list in the OpenAPI document compactly (a union of ~180 literals
// would be one `anyOf` branch per code). Its `$id` makes @fastify/swagger list it once, under
// components.schemas, and refer to it from each body that embeds it (TypeBox, compiling the bodies,
// needs it inline: it resolves no shared schemas).
const currencyCodes = new Set(CURRENCY_CODES);
if (!FormatRegistry.Has('iso-4217')) FormatRegistry.Set('iso-4217', (value) => currencyCodes.has(value));

export const Currency = Type.String({
  $id: 'Currency',
  title: 'Currency',
  format: 'iso-4217',
  enum: [...CURRENCY_CODES],
  description: 'active ISO 4217 currency code, upper case',
  examples: ['EUR'],
});

/**
 * A reference to a shared schema (one entry of components.schemas, registered by api/schemas/components.ts),
 * typed as the schema itself. Only where Fastify's Ajv or fast-json-stringify read it (responses, params,
 * query strings, headers): bodies are compiled by TypeBox, which resolves no shared schemas.
 */
export function Ref<T extends TSchema>(schema: T) {
  if (!schema.$id) throw new Error('Ref() needs a schema with an $id');
  return Type.Unsafe<Static<T>>(Type.Ref(schema.$id));
}

/** A string of a fixed set: one `enum` in the document (a union of literals is one `anyOf` branch per value). */
export const StringEnum = <const T extends readonly string[]>(values: T, opts: SchemaOptions = {}) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...opts });

// Control characters: C0, DEL and C1 (U+0085 NEL is one), plus the Unicode line and paragraph separators,
// which break a line like a newline wherever the text is shown or logged.
const CONTROL = '\\u0000-\\u001F\\u007F-\\u009F\\u2028\\u2029';
// The white space that is not a control character, spelt out: `\s` differs between JavaScript (U+FEFF)
// and the Python regexes schemathesis generates examples with.
const SPACE = ' \\u00A0\\u1680\\u2000-\\u200A\\u202F\\u205F\\u3000\\uFEFF';

/** Free text coming from callers: no control characters (Postgres text refuses NUL outright). */
export const PlainText = (opts: { minLength?: number; maxLength: number; description?: string }) =>
  Type.String({ minLength: 1, pattern: `^[^${CONTROL}]*$`, ...opts });

/**
 * Why a privileged action was taken (freeze, reconciliation run, finance decisions): recorded in the
 * audit trail, so it must say something: plain text with at least one character that is not white space.
 * The pattern's three classes are disjoint in order, so it matches in linear time.
 */
const REASON = { minLength: 1, maxLength: 500, pattern: `^[${SPACE}]*[^${SPACE}${CONTROL}][^${CONTROL}]*$` };

/** The shared component of every reason (api/schemas/components.ts): the document points each one at it. */
export const ReasonSchema = Type.String({ $id: 'Reason', title: 'Reason', ...REASON });

export const Reason = (description: string) => Type.String({ ...REASON, description });

/** A route that takes no query string: any parameter is refused (400), like an unknown one on the others. */
export const NoQuery = Type.Object({}, { additionalProperties: false });

/**
 * An amount in a request: a JSON integer of minor units, 1..max.
 * The maximum is the configured MAX_AMOUNT_MINOR, passed in when a route builds its schema so the
 * OpenAPI document shows it and an oversized amount fails validation like any other field. JSON
 * numbers arrive as JS numbers, so the schema maximum is also capped at 2^53-1: above it a number
 * has already lost precision (2^63 parses to an "integer" float). Handlers then convert with
 * parseAmount(value, max), which yields the bigint and re-checks both bounds.
 */
export function AmountInput(max: bigint, description = 'amount in minor units of the wallet currency (cents)') {
  const safeMax = max < BigInt(Number.MAX_SAFE_INTEGER) ? Number(max) : Number.MAX_SAFE_INTEGER;
  return Type.Integer({ minimum: 1, maximum: safeMax, description, examples: [1250] });
}

/**
 * Money in a response: a JSON integer. Values are bigint in TypeScript; fast-json-stringify writes
 * bigints for `type: integer` with toString(), never through a JS number, so 2^63-1 stays exact.
 */
export const MinorUnits = (description: string) => Type.Unsafe<bigint>({ type: 'integer', description });

/** A timestamp in a response: a Date serialized as RFC 3339 by fast-json-stringify. */
export const Timestamp = Type.Unsafe<Date>({ type: 'string', format: 'date-time' });

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const DEFAULT_PAGE_LIMIT = 20;

/** A page's `nextCursor`: pass it as `cursor` for the next page; null on the last page. */
const NextCursor = (pattern: string) =>
  Nullable(Type.String({ pattern, description: 'pass as `cursor` for the next page; null on the last page' }));

/**
 * The cursor of a list: of one kept in one database (CURSOR_PATTERN), or of one merged across the wallet
 * databases (MERGED_CURSOR_PATTERN; domain/history.ts). The merged one's title names its shared
 * parameter in the document (api/openapi-components.ts shareParameters).
 */
const cursorPatternOf = (merged: boolean) => (merged ? MERGED_CURSOR_PATTERN : CURSOR_PATTERN);

/** One page of a list: the items (each a shared schema) and the cursor of the next page; its own component. */
export const Page = <T extends TSchema>(item: T, $id: string, opts: { merged?: boolean } = {}) =>
  Type.Object(
    { items: Type.Array(Ref(item)), nextCursor: NextCursor(cursorPatternOf(opts.merged ?? false)) },
    { $id, title: $id },
  );

/** A paginated list's query string: its own filters plus `limit` and `cursor`; nothing else. */
export function pageQuery<F extends TProperties>(filters: F, opts: { merged?: boolean } = {}) {
  const merged = opts.merged ?? false;
  return Type.Object(
    {
      ...filters,
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: DEFAULT_PAGE_LIMIT })),
      cursor: Type.Optional(
        Type.String({
          pattern: cursorPatternOf(merged),
          description: 'nextCursor of the previous page (opaque)',
          ...(merged ? { title: 'MergedCursor' } : {}),
        }),
      ),
    },
    { additionalProperties: false },
  );
}

export const PageQuery = pageQuery({});

export const FieldErrorSchema = Type.Object({
  in: Type.String({ description: 'body, params, querystring or headers' }),
  path: Type.String({ description: 'JSON pointer into that part' }),
  message: Type.String(),
});

/** RFC 9457 problem details, as every error response is sent. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ format: 'uri', examples: ['https://errors.wallet.example/wallet-not-found'] }),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String({ description: 'stable UPPER_SNAKE error code', examples: ['WALLET_NOT_FOUND'] }),
    detail: Type.String(),
    instance: Type.Optional(Type.String({ description: 'the request path' })),
    requestId: Type.Optional(Type.String({ description: 'the X-Request-Id of this request: quote it to support' })),
    errors: Type.Optional(Type.Array(FieldErrorSchema)),
    transferId: Type.Optional(
      Type.String({
        format: 'uuid',
        description: 'POST /v1/transfers refused by the saga (422): the refused transfer',
      }),
    ),
  },
  { $id: 'Problem', title: 'Problem' },
);

/** The problem schema by reference: added once (api/plugins/errors.ts), one entry in components.schemas. */
const ProblemRef = Type.Ref('Problem');

const PROBLEM_MEDIA_TYPE = 'application/problem+json';

/**
 * What each problem status means, the code a typical example of it carries, and the name of its shared
 * response (components.responses: api/openapi-components.ts).
 */
const PROBLEM_KINDS: Record<
  number,
  { name: string; description: string; code: ProblemCode; detail: string; also?: { code: ProblemCode; detail: string } }
> = {
  400: {
    name: 'BadRequest',
    description: 'Invalid request',
    code: 'VALIDATION_FAILED',
    detail: 'body/amount must be >= 1',
  },
  401: {
    name: 'Unauthorized',
    description: 'Missing, expired, malformed or wrongly signed bearer token, or one without roles',
    code: 'UNAUTHENTICATED',
    detail: 'the token has expired',
  },
  403: {
    name: 'Forbidden',
    description: "The caller's roles do not allow this operation (decided before any object is looked up)",
    code: 'FORBIDDEN',
    detail: 'this operation needs one of the roles: finance, admin',
  },
  404: {
    name: 'NotFound',
    description: 'Not found, or not visible to the caller (indistinguishable)',
    code: 'WALLET_NOT_FOUND',
    detail: 'wallet 3f0a8d4e-6c1b-4f7e-9a2d-1b2c3d4e5f60 not found',
  },
  409: {
    name: 'Conflict',
    description: 'Conflict with the current state',
    code: 'WALLET_NOT_ACTIVE',
    detail: 'wallet 3f0a8d4e-6c1b-4f7e-9a2d-1b2c3d4e5f60 is frozen',
  },
  413: {
    name: 'PayloadTooLarge',
    description: 'Payload too large',
    code: 'PAYLOAD_TOO_LARGE',
    detail: 'the request body is too large',
  },
  414: {
    name: 'UriTooLong',
    description: 'A path parameter is far longer than any id (answered before authentication)',
    code: 'URI_TOO_LONG',
    detail: "'/v1/wallets/aaaa…' is too long",
  },
  415: {
    name: 'UnsupportedMediaType',
    description: 'Unsupported media type',
    code: 'UNSUPPORTED_MEDIA_TYPE',
    detail: 'send the body as application/json',
  },
  422: {
    name: 'Unprocessable',
    description: 'Request understood but refused',
    code: 'IDEMPOTENCY_KEY_REUSED',
    detail: 'this Idempotency-Key was used for a different request',
  },
  429: {
    name: 'RateLimited',
    description: "Rate limit of the caller's route class exceeded; retry after Retry-After seconds",
    code: 'RATE_LIMITED',
    detail: 'rate limit of 100 transfer requests per window exceeded; retry in 12 minutes',
  },
  500: {
    name: 'InternalError',
    description: 'Unexpected error (the body never carries internals)',
    code: 'INTERNAL',
    detail: 'an unexpected error occurred',
  },
  503: {
    name: 'ServiceUnavailable',
    description:
      'A dependency is unavailable (SERVICE_UNAVAILABLE), or the database this request needs (SHARD_UNAVAILABLE, ' +
      'at once while its circuit breaker is open; the others keep serving)',
    code: 'SERVICE_UNAVAILABLE',
    detail: 'a dependency is unavailable; retry later',
    also: { code: 'SHARD_UNAVAILABLE', detail: 'database db-1 is unavailable; retry after 5 s' },
  },
};

/** The name of a problem status's shared response (components.responses), undefined for an unknown status. */
export function problemResponseName(status: number): string | undefined {
  return PROBLEM_KINDS[status]?.name;
}

const IntegerHeader = (description: string) => ({ type: 'integer', minimum: 0, description });
/** One description for 429 and 503, so the document holds the header once (components.headers). */
const RetryAfter = IntegerHeader('seconds to wait before trying again');

/** Headers documented on 429 answers (the RateLimit-* ones are sent on every limited route). */
export const RATE_LIMIT_HEADERS = {
  'retry-after': RetryAfter,
  'ratelimit-limit': IntegerHeader('requests allowed per window for this route class'),
  'ratelimit-remaining': IntegerHeader('requests left in the current window'),
  'ratelimit-reset': IntegerHeader('seconds until the current window resets'),
};

const RESPONSE_HEADERS: Partial<Record<number, Record<string, object>>> = {
  401: {
    'www-authenticate': { type: 'string', description: 'Bearer realm="wallet"[, error="invalid_token"] (RFC 6750)' },
  },
  429: RATE_LIMIT_HEADERS,
  503: { 'retry-after': RetryAfter },
};

interface ProblemResponse {
  description: string;
  content: Record<
    string,
    { schema: typeof ProblemRef; example?: object; examples?: Record<string, { value: object }> }
  >;
  headers?: Record<string, object>;
}

/**
 * Response schemas for the problem statuses a route can answer with (500 and 503 always apply),
 * declared under their real media type so the OpenAPI document says application/problem+json,
 * each with an example.
 */
export function problemResponses<S extends number>(...statuses: S[]) {
  const out = {} as Record<S | 500 | 503, ProblemResponse>;
  for (const status of [...new Set([...statuses, 500, 503])] as Array<S | 500 | 503>) {
    const kind = PROBLEM_KINDS[status];
    const exampleOf = (code: ProblemCode, detail: string) =>
      buildProblem(code, detail, { instance: '/v1/…', requestId: '6d1f4c1e-0b7a-4f57-9a59-3f1e2b7c9d10' });
    const example = kind ? exampleOf(kind.code, kind.detail) : {};
    // a status with a second code shows one named example of each
    const examples = kind?.also
      ? { [kind.code]: { value: example }, [kind.also.code]: { value: exampleOf(kind.also.code, kind.also.detail) } }
      : undefined;
    out[status] = {
      description: kind?.description ?? 'Error',
      content: { [PROBLEM_MEDIA_TYPE]: examples ? { schema: ProblemRef, examples } : { schema: ProblemRef, example } },
      ...(RESPONSE_HEADERS[status] ? { headers: RESPONSE_HEADERS[status] } : {}),
    };
  }
  return out;
}

/**
 * A JSON success response with its description, an example and the headers it carries, in the form
 * Fastify serializes with (content by media type) and @fastify/swagger documents as is.
 */
export function jsonResponse<T extends TSchema>(
  schema: T,
  description: string,
  opts: { example?: unknown; headers?: Record<string, object> } = {},
) {
  return {
    description,
    content: { 'application/json': { schema, ...(opts.example === undefined ? {} : { example: opts.example }) } },
    ...(opts.headers ? { headers: opts.headers } : {}),
  };
}
