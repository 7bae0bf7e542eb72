import { isDeepStrictEqual } from 'node:util';
import { problemResponseName } from './schemas/common';

/**
 * The document's shared parts (components.responses, .parameters, .examples), made from what the routes
 * declare: @fastify/swagger writes a response, parameter or example inline at every use, and these move
 * the ones several routes declare alike into components, referred to by `$ref` (api/plugins/swagger.ts).
 */

type Responses = Record<string, { content?: Record<string, unknown> } & Record<string, unknown>>;
interface Parameter {
  in: string;
  name: string;
}
interface Operation {
  responses?: Responses;
  parameters?: Array<Parameter | { $ref: string }>;
}
interface Document {
  paths?: Record<string, Record<string, Operation>>;
  components?: { responses?: Record<string, unknown>; parameters?: Record<string, unknown> } & Record<string, unknown>;
}

const operationsOf = (doc: Document): Operation[] =>
  Object.values(doc.paths ?? {}).flatMap((methods) => Object.values(methods));

const IN_SUFFIX: Record<string, string> = { path: 'Path', query: 'Query', header: 'Header' };

/** `idempotency-key` in a header → `IdempotencyKeyHeader`: a parameter's name under components.parameters. */
const parameterName = (p: Parameter) =>
  p.name.replace(/(^|[-_])([a-z])/g, (_m, _sep, c: string) => c.toUpperCase()) + (IN_SUFFIX[p.in] ?? p.in);

/**
 * Moves every parameter that several operations declare alike (the `{id}` of a path, `limit`, `cursor`,
 * `Idempotency-Key`) into components.parameters, referred to by `$ref`. A name declared in more than one
 * way stays inline everywhere, so a shared entry never stands for two different parameters.
 */
export function shareParameters<T extends object>(document: T): T {
  const doc = document as Document;
  const seen = new Map<string, { parameter: Parameter; uses: number; alike: boolean }>();
  for (const op of operationsOf(doc)) {
    for (const p of op.parameters ?? []) {
      if ('$ref' in p) continue;
      const name = parameterName(p);
      const entry = seen.get(name);
      if (!entry) seen.set(name, { parameter: p, uses: 1, alike: true });
      else {
        entry.uses += 1;
        entry.alike &&= isDeepStrictEqual(entry.parameter, p);
      }
    }
  }
  const shared = new Map([...seen].filter(([, e]) => e.uses > 1 && e.alike));
  if (shared.size === 0) return document;
  for (const op of operationsOf(doc)) {
    op.parameters = op.parameters?.map((p) => {
      if ('$ref' in p) return p;
      const name = parameterName(p);
      return shared.has(name) ? { $ref: `#/components/parameters/${name}` } : p;
    });
  }
  const parameters = Object.fromEntries([...shared].map(([name, e]) => [name, e.parameter]));
  doc.components = { ...doc.components, parameters: { ...doc.components?.parameters, ...parameters } };
  return document;
}

/**
 * Moves the problem answers into components.responses, each once, and points every operation at them
 * (`#/components/responses/NotFound`): problemResponses() (api/schemas/common.ts) gives a status the same
 * description, example and headers on every route, so 130-odd copies become 12. Fastify still reads the
 * routes' own response schemas; only the document changes. @fastify/swagger's `transformObject`.
 */
export function shareProblemResponses<T extends object>(document: T): T {
  const doc = document as Document;
  const shared: Record<string, unknown> = {};
  for (const op of operationsOf(doc)) {
    for (const [status, response] of Object.entries(op.responses ?? {})) {
      const name = problemResponseName(Number(status));
      if (!name || !response.content?.['application/problem+json']) continue;
      // one status, one answer: a route documenting its own variant would be misdescribed by the shared one
      if (shared[name] !== undefined && !isDeepStrictEqual(shared[name], response)) {
        throw new Error(`the ${status} problem response differs between routes: give it its own name`);
      }
      shared[name] = response;
      op.responses![status] = { $ref: `#/components/responses/${name}` };
    }
  }
  doc.components = { ...doc.components, responses: { ...doc.components?.responses, ...shared } };
  return document;
}

type Media = { example?: unknown; examples?: Record<string, unknown> } & Record<string, unknown>;

const mediaOf = (doc: Document): Media[] =>
  operationsOf(doc).flatMap((op) =>
    Object.values(op.responses ?? {}).flatMap((r) => Object.values((r.content ?? {}) as Record<string, Media>)),
  );

/**
 * Moves the example answers that several operations show alike into components.examples, under the
 * names `named` gives them (api/schemas/examples.ts SHARED_EXAMPLES): the media then carry
 * `examples: { <name>: { $ref } }` instead of an inline `example`. One used once stays inline.
 */
export function shareExamples<T extends object>(document: T, named: Record<string, unknown>): T {
  const doc = document as Document;
  const canonical = Object.entries(named).map(([name, value]) => [name, JSON.parse(JSON.stringify(value))] as const);
  const nameOf = (example: unknown) =>
    canonical.find(([, value]) => isDeepStrictEqual(JSON.parse(JSON.stringify(example)), value))?.[0];
  const uses = new Map<string, Media[]>();
  for (const media of mediaOf(doc)) {
    const name = media.example === undefined ? undefined : nameOf(media.example);
    if (name) uses.set(name, [...(uses.get(name) ?? []), media]);
  }
  const examples: Record<string, unknown> = {};
  for (const [name, media] of uses) {
    if (media.length < 2) continue;
    examples[name] = { value: media[0]!.example };
    for (const m of media) {
      delete m.example;
      m.examples = { [name]: { $ref: `#/components/examples/${name}` } };
    }
  }
  if (Object.keys(examples).length > 0) doc.components = { ...doc.components, examples };
  return document;
}
