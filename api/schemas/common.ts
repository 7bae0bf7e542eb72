import { FormatRegistry, Type, type TSchema } from '@sinclair/typebox';
import { CURRENCY_CODES } from '../../domain/currencies';

/** Shared TypeBox schemas (bodies are checked by TypeBox, other request parts by Ajv: api/validation.ts). */

// The canonical 8-4-4-4-12 hex form only. Ajv's 'uuid' format would also let `urn:uuid:…` through,
// which Postgres refuses; TypeBox knows no formats at all and fails every value of an unknown one.
const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
const uuidRegExp = new RegExp(UUID_PATTERN);
if (!FormatRegistry.Has('uuid')) FormatRegistry.Set('uuid', (value) => uuidRegExp.test(value));

export const Uuid = Type.String({
  format: 'uuid',
  pattern: UUID_PATTERN,
  examples: ['3f0a8d4e-6c1b-4f7e-9a2d-1b2c3d4e5f60'],
});

export const WalletIdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

export const Currency = Type.Union(
  CURRENCY_CODES.map((code) => Type.Literal(code)),
  { description: 'ISO 4217 currency code, upper case', examples: ['EUR'] },
);

/** Free text coming from callers: no control characters (Postgres text refuses NUL outright). */
export const PlainText = (opts: { minLength?: number; maxLength: number; description?: string }) =>
  Type.String({ minLength: 1, pattern: '^[^\\u0000-\\u001F\\u007F]*$', ...opts });

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

export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: DEFAULT_PAGE_LIMIT })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'nextCursor of the previous page' })),
  },
  { additionalProperties: false },
);

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
    instance: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(FieldErrorSchema)),
  },
  { title: 'Problem' },
);

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request',
  404: 'Not found',
  409: 'Conflict with the current state',
  413: 'Payload too large',
  415: 'Unsupported media type',
  422: 'Request understood but refused',
  500: 'Unexpected error',
  503: 'A dependency is unavailable',
};

/**
 * Response schemas for the problem statuses a route can answer with (500 and 503 always apply),
 * declared under their real media type so the OpenAPI document says application/problem+json.
 */
export function problemResponses<S extends number>(...statuses: S[]) {
  const out = {} as Record<S | 500 | 503, ProblemResponse>;
  for (const status of [...statuses, 500, 503] as Array<S | 500 | 503>) {
    out[status] = {
      description: PROBLEM_DESCRIPTIONS[status] ?? 'Error',
      content: { [PROBLEM_MEDIA_TYPE]: { schema: ProblemSchema } },
    };
  }
  return out;
}

const PROBLEM_MEDIA_TYPE = 'application/problem+json';
interface ProblemResponse {
  description: string;
  content: Record<string, { schema: typeof ProblemSchema }>;
}
