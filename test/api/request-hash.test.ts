import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { canonicalJson, requestHash } from '../../api/idempotency';

/**
 * Stored idempotency records (Postgres, Redis) hold request hashes computed by the hand-written
 * canonical JSON this project had before the `canonicalize` package (RFC 8785). A different hash for
 * the same body would turn an honest retry into 422 IDEMPOTENCY_KEY_REUSED, so the new function must
 * give the old one's bytes for everything the API accepts: bodies parsed by JSON.parse.
 */
function legacyCanonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(legacyCanonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${legacyCanonicalJson(v)}`).join(',')}}`;
}

function legacyRequestHash(req: { method: string; url: string; body: unknown }): string {
  return createHash('sha256')
    .update(`${req.method}\n${req.url}\n${legacyCanonicalJson(req.body)}`)
    .digest('hex');
}

/** What Fastify hands the handler: the body as JSON.parse reads it off the wire. */
const wire = (json: string): unknown => JSON.parse(json);

/** Any UTF-16 code unit, lone surrogates included (JSON.parse accepts "\ud800"). */
const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

describe('request hash (canonical JSON, RFC 8785 via canonicalize)', () => {
  it.each([
    ['a deposit', '{"amount":100,"reference":"inv-1"}'],
    [
      'a transfer',
      '{"toWalletId":"3f0a8d4e-6c1b-4f7e-9a2d-1b2c3d4e5f60","fromWalletId":"0f0a8d4e-6c1b-4f7e-9a2d-1b2c3d4e5f60","amount":1250,"description":"rent"}',
    ],
    ['an empty object', '{}'],
    ['nested objects and arrays', '{"b":{"d":[1,{"z":null,"a":true}],"c":false},"a":[]}'],
    [
      'numbers',
      '{"a":100,"b":1e21,"c":-0,"d":0.1,"e":1.5e-7,"f":9007199254740991,"g":-1e-7,"h":1E+2,"i":123456789012345680000}',
    ],
    ['unicode keys and values', '{"é":"ü","z":"日本","😀":"\\ud83d\\ude00","\\uffff":"x","a\\u0000b":"\\u001f"}'],
    ['escapes', '{"q":"\\"quoted\\" \\\\ / \\b\\f\\n\\r\\t","\\u2028":"\\u2029"}'],
    ['lone surrogates', '{"reference":"\\ud800","\\udfff":"a\\udc00b"}'],
    ['keys that sort differently by code point than by UTF-16 unit', '{"\\uff61":1,"😀":2,"\\ue000":3}'],
    ['scalars at the top', '"x"'],
  ])('is unchanged for %s', (_name, json) => {
    const body = wire(json);
    expect(canonicalJson(body)).toBe(legacyCanonicalJson(body));
    const req = { method: 'POST', url: '/v1/wallets/3f0a8d4e-6c1b-4f7e-9a2d-1b2c3d4e5f60/deposits', body };
    expect(requestHash(req)).toBe(legacyRequestHash(req));
  });

  it('is unchanged for a request without a body', () => {
    expect(canonicalJson(undefined)).toBe('null');
    expect(requestHash({ method: 'POST', url: '/v1/transfers', body: undefined })).toBe(
      legacyRequestHash({ method: 'POST', url: '/v1/transfers', body: undefined }),
    );
  });

  it('sorts keys at every level, so key order never changes the hash', () => {
    expect(canonicalJson(wire('{"b":1,"a":{"d":2,"c":3}}'))).toBe('{"a":{"c":3,"d":2},"b":1}');
  });

  it('equals the old function for any JSON body (generated, parsed as the API parses it)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.jsonValue({ stringUnit: 'binary' }), fc.jsonValue({ stringUnit: anyCodeUnit }), fc.jsonValue()),
        (value) => {
          const body = wire(JSON.stringify(value));
          expect(canonicalJson(body)).toBe(legacyCanonicalJson(body));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('equals the old function for objects of the API body shape (flat and nested, any keys)', () => {
    const scalar = fc.oneof(
      fc.string({ unit: anyCodeUnit }),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
    );
    const body = fc.letrec<{ obj: Record<string, unknown> }>((tie) => ({
      obj: fc.dictionary(fc.string({ unit: anyCodeUnit }), fc.oneof({ depthSize: 'small' }, scalar, tie('obj')), {
        maxKeys: 8,
      }),
    })).obj;
    fc.assert(
      fc.property(body, (value) => {
        const parsed = wire(JSON.stringify(value));
        expect(canonicalJson(parsed)).toBe(legacyCanonicalJson(parsed));
      }),
      { numRuns: 2000 },
    );
  });
});
