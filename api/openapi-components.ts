import { isDeepStrictEqual } from 'node:util';
import { problemResponseName } from './schemas/common';

/**
 * The document's shared parts (components.responses, .parameters, .examples), made from what the routes
 * declare: @fastify/swagger writes a response, parameter or example inline at every use, and these move
 * the ones several routes declare alike into components, referred to by `$ref` (api/plugins/swagger.ts).
 */

type Responses = Record<
  string,
  { content?: Record<string, unknown>; headers?: unknown; $ref?: string } & Record<string, unknown>
>;
interface Parameter {
  in: string;
  name: string;
  schema?: { title?: unknown };
}
interface Operation {
  responses?: Responses;
  parameters?: Array<Parameter | { $ref: string }>;
}
interface Document {
  paths?: Record<string, Record<string, Operation>>;
  components?: {
    responses?: Record<string, unknown>;
    parameters?: Record<string, unknown>;
    headers?: Record<string, unknown>;
    schemas?: Record<string, unknown>;
  } & Record<string, unknown>;
}

const operationsOf = (doc: Document): Operation[] =>
  Object.values(doc.paths ?? {}).flatMap((methods) => Object.values(methods));

const IN_SUFFIX: Record<string, string> = { path: 'Path', query: 'Query', header: 'Header' };

/** `idempotent-replayed` → `IdempotentReplayed`: a header's or parameter's name under components. */
const componentName = (name: string) => name.replace(/(^|[-_])([a-z])/g, (_m, _sep, c: string) => c.toUpperCase());

/**
 * `idempotency-key` in a header → `IdempotencyKeyHeader`: a parameter's name under components.parameters.
 * A schema's title names it instead, so two kinds of one parameter (the `cursor` of a list kept in one
 * database, and of one merged across them: `MergedCursorQuery`) are each shared under their own name.
 */
const parameterName = (p: Parameter) =>
  componentName(typeof p.schema?.title === 'string' ? p.schema.title : p.name) + (IN_SUFFIX[p.in] ?? p.in);

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

/**
 * Moves every response header that several answers declare alike (`Idempotent-Replayed`, `Location`,
 * `Retry-After`, …) into components.headers, referred to by `$ref`. Run after shareProblemResponses, so
 * the shared problem answers' headers are shared too. A name declared in more than one way stays inline
 * everywhere, as with the parameters.
 */
export function shareHeaders<T extends object>(document: T): T {
  const doc = document as Document;
  const responses = [
    ...operationsOf(doc).flatMap((op) => Object.values(op.responses ?? {})),
    ...Object.values((doc.components?.responses ?? {}) as Responses),
  ].filter((r) => r.$ref === undefined);
  const headersOf = (r: Responses[string]) => (r.headers ?? {}) as Record<string, Record<string, unknown>>;
  const seen = new Map<string, { header: unknown; uses: number; alike: boolean }>();
  for (const r of responses) {
    for (const [name, header] of Object.entries(headersOf(r))) {
      if (header.$ref !== undefined) continue;
      const entry = seen.get(componentName(name));
      if (!entry) seen.set(componentName(name), { header, uses: 1, alike: true });
      else {
        entry.uses += 1;
        entry.alike &&= isDeepStrictEqual(entry.header, header);
      }
    }
  }
  const shared = new Map([...seen].filter(([, e]) => e.uses > 1 && e.alike));
  if (shared.size === 0) return document;
  for (const r of responses) {
    const headers = headersOf(r);
    for (const name of Object.keys(headers)) {
      if (shared.has(componentName(name))) headers[name] = { $ref: `#/components/headers/${componentName(name)}` };
    }
  }
  const headers = Object.fromEntries([...shared].map(([name, e]) => [name, e.header]));
  doc.components = { ...doc.components, headers: { ...doc.components?.headers, ...headers } };
  return document;
}

/** What a schema says, without what only annotates it: two schemas with the same core validate alike. */
const ANNOTATIONS = new Set(['$id', 'title', 'description', 'examples', 'example']);
function coreOf(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(coreOf);
  if (schema === null || typeof schema !== 'object') return schema;
  return Object.fromEntries(
    Object.entries(schema)
      .filter(([k]) => !ANNOTATIONS.has(k))
      .map(([k, v]) => [k, coreOf(v)]),
  );
}

/**
 * Points every inline schema of the paths that validates exactly like a component schema (a `Uuid` query
 * parameter, a `TransferStatus` filter) at that component: request parts are compiled without the shared
 * schemas (api/validation.ts), so the routes declare them inline and only the document shares them. The
 * inline schema's own description and examples stay beside the `$ref` (OpenAPI 3.1 allows siblings).
 */
export function shareSchemas<T extends object>(document: T): T {
  const doc = document as Document;
  const components = Object.entries((doc.components?.schemas ?? {}) as Record<string, object>).map(
    ([name, schema]) => [name, coreOf(schema)] as const,
  );
  const componentOf = (schema: object) => {
    const core = coreOf(schema);
    return components.find(([, c]) => isDeepStrictEqual(c, core))?.[0];
  };
  const visit = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(visit);
    if (node === null || typeof node !== 'object') return node;
    const entries = Object.entries(node).map(([k, v]) => {
      if (k !== 'schema' && k !== 'items' && k !== 'properties') return [k, visit(v)];
      if (k === 'properties') {
        const props = Object.entries(v as Record<string, object>).map(([p, s]) => [p, share(s)]);
        return [k, Object.fromEntries(props)];
      }
      return [k, share(v as object)];
    });
    return Object.fromEntries(entries);
  };
  const share = (schema: object): unknown => {
    if ('$ref' in schema) return schema;
    const name = componentOf(schema);
    if (!name) return visit(schema);
    const { description, examples } = schema as { description?: unknown; examples?: unknown };
    return {
      $ref: `#/components/schemas/${name}`,
      ...(description === undefined ? {} : { description }),
      ...(examples === undefined ? {} : { examples }),
    };
  };
  doc.paths = visit(doc.paths) as Document['paths'];
  return document;
}
