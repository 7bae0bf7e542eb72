import type { FastifyInstance } from 'fastify';

/** `value` with every object's keys in sorted order (arrays keep theirs): one canonical form. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/**
 * The OpenAPI document in its canonical form: keys sorted at every level, so the committed
 * openapi.json (`npm run openapi`) and the served /openapi.json compare byte for byte.
 */
export function openApiDocument(app: FastifyInstance): Record<string, unknown> {
  return sortKeys(JSON.parse(JSON.stringify(app.swagger()))) as Record<string, unknown>;
}

/** The document as committed: two-space indented, trailing newline. */
export function openApiText(app: FastifyInstance): string {
  return `${JSON.stringify(openApiDocument(app), null, 2)}\n`;
}
