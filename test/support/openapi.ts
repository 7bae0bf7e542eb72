import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { LightMyRequestResponse } from 'fastify';
import { CURRENCY_CODES } from '../../domain/currencies';

/** The parts of an OpenAPI 3.1 document the tests read. */
export interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, object>; securitySchemes: Record<string, Record<string, unknown>> };
  [key: string]: unknown;
}
export interface MediaType {
  schema: object;
  example?: unknown;
  examples?: Record<string, { value: unknown }>;
}
export interface ResponseObject {
  description: string;
  content?: Record<string, MediaType>;
  headers?: Record<string, { schema: Record<string, unknown>; description?: string }>;
}
export interface Operation {
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ in: string; name: string; required?: boolean; schema: object; example?: unknown }>;
  requestBody?: { required: boolean; content: Record<string, MediaType> };
  responses: Record<string, ResponseObject>;
  summary?: string;
  description?: string;
}

/**
 * `doc` with every reference to a shared response, parameter, header or example
 * (`#/components/responses/X`, …) replaced by a copy of what it names, so a test reads each operation
 * whole. Schema references stay: OpenApiValidator inlines those when it compiles.
 */
export function dereferenced(doc: OpenApiDoc): OpenApiDoc {
  const components = doc.components as unknown as Record<string, Record<string, unknown>>;
  const resolve = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(resolve);
    if (node === null || typeof node !== 'object') return node;
    const ref = (node as { $ref?: unknown }).$ref;
    const m =
      typeof ref === 'string' ? /^#\/components\/(responses|parameters|examples|headers)\/(.+)$/.exec(ref) : null;
    if (m) {
      const target = components[m[1]!]?.[m[2]!];
      if (target === undefined) throw new Error(`unresolvable $ref ${String(ref)}`);
      return resolve(target);
    }
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, resolve(v)]));
  };
  return { ...doc, paths: resolve(doc.paths) as OpenApiDoc['paths'] };
}

/** A media type's example: its `example`, or the first of its `examples`. */
export function exampleOf(media: MediaType): unknown {
  return media.example ?? Object.values(media.examples ?? {})[0]?.value;
}

/** `/v1/wallets/:id` → `/v1/wallets/{id}` */
export function docPath(route: string): string {
  return route.replace(/:([A-Za-z]+)/g, '{$1}');
}

/**
 * Validates responses (and examples) against the OpenAPI document the app serves, with Ajv for JSON
 * Schema 2020-12 (what OpenAPI 3.1 schemas are). `$ref`s into components are inlined before compiling.
 */
export class OpenApiValidator {
  private readonly ajv: Ajv2020;
  private readonly cache = new Map<object, ValidateFunction>();

  readonly doc: OpenApiDoc;

  constructor(doc: OpenApiDoc) {
    this.doc = dereferenced(doc);
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    addFormats(this.ajv);
    const codes = new Set(CURRENCY_CODES);
    this.ajv.addFormat('iso-4217', (v: string) => codes.has(v));
  }

  /** `schema` with every `#/components/schemas/X` reference replaced by the schema itself. */
  private inline(schema: unknown): unknown {
    if (Array.isArray(schema)) return schema.map((s) => this.inline(s));
    if (schema === null || typeof schema !== 'object') return schema;
    const ref = (schema as { $ref?: unknown }).$ref;
    if (typeof ref === 'string') {
      const m = /^#\/components\/schemas\/(.+)$/.exec(ref);
      if (!m || !this.doc.components.schemas[m[1]!]) throw new Error(`unresolvable $ref ${ref}`);
      return this.inline(this.doc.components.schemas[m[1]!]);
    }
    return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, this.inline(v)]));
  }

  /** Errors of `value` against `schema` (a schema object of the document); [] when valid. */
  check(schema: object, value: unknown): string[] {
    let validate = this.cache.get(schema);
    if (!validate) {
      validate = this.ajv.compile(this.inline(schema) as object);
      this.cache.set(schema, validate);
    }
    return validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`);
  }

  operation(method: string, route: string): Operation {
    const op = this.doc.paths[docPath(route)]?.[method.toLowerCase()];
    if (!op) throw new Error(`no operation ${method} ${route} in the document`);
    return op;
  }

  /**
   * Everything wrong with `res` as an answer of `method route` per the document: an undocumented
   * status, an undocumented media type, a body or a documented header not matching its schema.
   */
  responseErrors(method: string, route: string, res: LightMyRequestResponse): string[] {
    const op = this.operation(method, route);
    const documented = op.responses[String(res.statusCode)];
    if (!documented) return [`status ${res.statusCode} is not documented (${Object.keys(op.responses).join(', ')})`];
    const errors: string[] = [];
    const contentType = String(res.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    if (documented.content) {
      const media = documented.content[contentType];
      if (!media) return [`content-type ${contentType || '(none)'} is not documented for ${res.statusCode}`];
      let body: unknown;
      try {
        body = JSON.parse(res.payload);
      } catch {
        return [`body is not JSON: ${res.payload.slice(0, 80)}`];
      }
      errors.push(...this.check(media.schema, body).map((e) => `body ${e}`));
    }
    for (const [name, header] of Object.entries(documented.headers ?? {})) {
      const raw = res.headers[name];
      if (raw === undefined) continue;
      const value = header.schema.type === 'integer' && /^-?\d+$/.test(String(raw)) ? Number(raw) : raw;
      errors.push(...this.check(header.schema, value).map((e) => `header ${name} ${e}`));
    }
    return errors;
  }
}
