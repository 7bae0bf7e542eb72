import type { components, paths } from './schema';

/**
 * A typed client of the API over fetch, from the types openapi-typescript generates from openapi.json
 * (./schema.d.ts, `npm run openapi`). Paths, path parameters, headers, bodies and answers are checked
 * against the document at compile time: a route, field or status renamed in the document breaks the
 * build of every caller (the bench, the chaos workload), not a user. JSON numbers stay JS numbers: fine
 * for the amounts these callers send, all far below 2^53.
 */

export type Schemas = components['schemas'];
export type Path = keyof paths;
export type Method = 'get' | 'post';

/** The operation `method path` of the document (never when the path does not serve the method). */
type Operation<P extends Path, M extends Method> = paths[P][M] extends infer O
  ? O extends { responses: object; parameters: object }
    ? O
    : never
  : never;

/** The methods `path` serves. */
export type MethodOf<P extends Path> = { [M in Method]: [Operation<P, M>] extends [never] ? never : M }[Method];

type Parameters<P extends Path, M extends Method> = Operation<P, M>['parameters'];
export type PathParams<P extends Path, M extends Method> = Exclude<Parameters<P, M>['path'], undefined>;
export type QueryParams<P extends Path, M extends Method> = Exclude<Parameters<P, M>['query'], undefined>;
export type HeaderParams<P extends Path, M extends Method> = Exclude<Parameters<P, M>['header'], undefined>;

/** The JSON request body of `method path` (never when it takes none). */
export type RequestBody<P extends Path, M extends Method> =
  Operation<P, M> extends { requestBody: { content: { 'application/json': infer B } } } ? B : never;

type Responses<P extends Path, M extends Method> = Operation<P, M>['responses'];
type BodyOf<R> = R extends { content: infer C } ? C[keyof C] : undefined;

/** The body of the `status` answer of `method path`. */
export type ResponseBody<P extends Path, M extends Method, S extends keyof Responses<P, M>> = BodyOf<
  Responses<P, M>[S]
>;

/** Any documented answer of `method path`, told apart by its status: `if (a.status === 201) a.body.id`. */
export type Answer<P extends Path, M extends Method> = {
  [S in keyof Responses<P, M>]: { status: S; body: BodyOf<Responses<P, M>[S]>; headers: Headers };
}[keyof Responses<P, M>];

type Optional<K extends string, T> = [T] extends [never] ? { [key in K]?: undefined } : { [key in K]: T };

export type RequestOptions<P extends Path, M extends Method> = Optional<'params', PathParams<P, M>> &
  Optional<'body', RequestBody<P, M>> & {
    query?: QueryParams<P, M>;
    /** the documented headers (a required one must be given), plus any other (authorization, …) */
    headers?: ([HeaderParams<P, M>] extends [never] ? unknown : HeaderParams<P, M>) &
      Record<string, string | undefined>;
    signal?: AbortSignal;
  };

/** `/v1/wallets/{id}` with `{ id }` filled in, each value URL-encoded. */
/** Path and query values are scalars in the document: strings, numbers, booleans. */
type Scalar = string | number | boolean | bigint;

function expand(path: string, params: Record<string, Scalar | undefined> | undefined): string {
  return path.replace(/\{(\w+)\}/g, (_m, name: string) => {
    const value = params?.[name];
    if (value === undefined) throw new Error(`${path}: no value for {${name}}`);
    return encodeURIComponent(String(value));
  });
}

export interface ApiClient {
  /**
   * Sends `method path` and answers with the status and the parsed body, whatever the status: the caller
   * decides what a 4xx means. A network error or a timeout throws (fetch's own error).
   */
  call<P extends Path, M extends MethodOf<P>>(method: M, path: P, opts: RequestOptions<P, M>): Promise<Answer<P, M>>;
}

export function apiClient(baseUrl: string, defaults: { headers?: Record<string, string> } = {}): ApiClient {
  return {
    async call(method, path, opts) {
      const { params, body, query, headers, signal } = opts as {
        params?: Record<string, Scalar | undefined>;
        body?: unknown;
        query?: Record<string, Scalar | undefined>;
        headers?: Record<string, string | undefined>;
        signal?: AbortSignal;
      };
      const search = new URLSearchParams(
        Object.entries(query ?? {}).flatMap(([k, v]): Array<[string, string]> =>
          v === undefined ? [] : [[k, String(v)]],
        ),
      ).toString();
      const sent: Record<string, string> = { ...defaults.headers };
      for (const [k, v] of Object.entries(headers ?? {})) if (v !== undefined) sent[k] = v;
      if (body !== undefined) sent['content-type'] = 'application/json';
      const res = await fetch(`${baseUrl}${expand(path, params)}${search ? `?${search}` : ''}`, {
        method: method.toUpperCase(),
        headers: sent,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
      const text = await res.text();
      let parsed: unknown = undefined;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined; // not JSON (a proxy's error page): the status says enough
      }
      return { status: res.status, body: parsed, headers: res.headers } as never;
    },
  };
}
