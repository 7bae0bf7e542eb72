import { UUID_REGEXP } from './schemas/common';

/**
 * UUIDs are case-insensitive (RFC 9562 §4): `3F0A…` and `3f0a…` name the same wallet. Postgres compares
 * them as uuid values, but the code compares them as strings too (the same wallet twice, a row's id
 * against the requested one, a deposit's replay), so every id a request carries is written in lower
 * case once, right after validation (api/validation.ts), and nothing past it sees another spelling.
 */

/** Rewrites, in place, the uuid-format values of one validated request part; returns the part. */
export type UuidLowerCaser = (value: unknown) => unknown;

interface SchemaLike {
  type?: unknown;
  format?: unknown;
  properties?: Record<string, SchemaLike>;
  items?: SchemaLike;
  anyOf?: SchemaLike[];
  oneOf?: SchemaLike[];
  allOf?: SchemaLike[];
}

const lower = (value: unknown) => (typeof value === 'string' && UUID_REGEXP.test(value) ? value.toLowerCase() : value);

/**
 * The lower-caser of a request part's schema, or null when the schema holds no `format: 'uuid'`
 * string (the part is then left as it is). Follows properties, array items and unions; a value that
 * is not a UUID string is never touched, so a union branch that does not apply changes nothing.
 */
export function uuidLowerCaser(schema: unknown): UuidLowerCaser | null {
  const s = (schema ?? {}) as SchemaLike;
  if (typeof s !== 'object') return null;
  if (s.format === 'uuid') return lower;

  const steps: UuidLowerCaser[] = [];
  for (const branch of [...(s.anyOf ?? []), ...(s.oneOf ?? []), ...(s.allOf ?? [])]) {
    const step = uuidLowerCaser(branch);
    if (step) steps.push(step);
  }
  const properties = Object.entries(s.properties ?? {}).flatMap(([name, sub]) => {
    const step = uuidLowerCaser(sub);
    return step ? [[name, step] as const] : [];
  });
  if (properties.length > 0) {
    steps.push((value) => {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
      const record = value as Record<string, unknown>;
      for (const [name, step] of properties) {
        if (Object.hasOwn(record, name)) record[name] = step(record[name]);
      }
      return value;
    });
  }
  const item = s.items ? uuidLowerCaser(s.items) : null;
  if (item) {
    steps.push((value) => {
      if (!Array.isArray(value)) return value;
      for (let i = 0; i < value.length; i++) value[i] = item(value[i]);
      return value;
    });
  }
  if (steps.length === 0) return null;
  return (value) => steps.reduce((v, step) => step(v), value);
}
