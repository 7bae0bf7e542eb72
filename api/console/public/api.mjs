/* global location, history */
/**
 * The console's only way to the API: same-origin fetch with the caller's bearer token, like any
 * API client. The token lives in sessionStorage (this tab only, gone when it closes), never in
 * localStorage and never in the URL once the page has loaded.
 */

const TOKEN_KEY = 'wallet-console.token';

/**
 * Development sign-in: `npm run token -- … --console` prints /console/#token=<jwt>. A fragment is
 * never sent to the server (no access log holds it); the page moves it into sessionStorage and
 * rewrites the URL, so it is not left in the address bar or the tab's history either.
 */
export function adoptTokenFromUrl() {
  const match = /^#token=([A-Za-z0-9._~+/-]+=*)$/.exec(location.hash);
  if (!match) return;
  sessionStorage.setItem(TOKEN_KEY, match[1]);
  history.replaceState(null, '', `${location.pathname}${location.search}#/parked`);
}

export function hasToken() {
  return sessionStorage.getItem(TOKEN_KEY) !== null;
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/**
 * One API call. Resolves (never rejects) to `{ ok: true, status, data }` or `{ ok: false, status,
 * problem }`, `problem` being the API's application/problem+json (code, detail, requestId) or a
 * stand-in when the API could not be reached (status 0).
 * Without a token in this tab no Authorization header is sent: behind an identity-aware proxy the
 * proxy adds it.
 */
export async function call(method, path, body, { idempotencyKey } = {}) {
  const headers = { accept: 'application/json' };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    return {
      ok: false,
      status: 0,
      problem: { code: 'NETWORK', detail: 'the API could not be reached; check your connection and retry' },
    };
  }
  const type = res.headers.get('content-type') ?? '';
  const data = type.includes('json') ? await res.json().catch(() => null) : null;
  if (res.ok) return { ok: true, status: res.status, data };
  return {
    ok: false,
    status: res.status,
    problem: data ?? { code: `HTTP_${res.status}`, detail: res.statusText || 'the request failed' },
  };
}

/**
 * A fresh Idempotency-Key: one per intent (a confirmed click), reused only when that same request is
 * sent again. getRandomValues, unlike randomUUID, also exists outside secure contexts.
 */
export function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `console-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * `call` for a request that must take effect at most once (it carries `idempotencyKey`): an answer
 * that confirms nothing (no connection, 503) is followed by the same request with the same key, a
 * bounded number of times; the API answers a re-sent one with the first one's outcome.
 */
export async function callOnce(method, path, body, idempotencyKey, resendDelaysMs = [1000, 3000]) {
  let res = await call(method, path, body, { idempotencyKey });
  for (const delay of resendDelaysMs) {
    if (res.status !== 0 && res.status !== 503) break;
    await new Promise((resolve) => setTimeout(resolve, delay));
    res = await call(method, path, body, { idempotencyKey });
  }
  return res;
}

/** `/v1/…?a=1&b=2` from a path and the query's set values. */
export function withQuery(path, query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query))
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}
