import fastifyJwt, { type FastifyJWTOptions, type TokenOrHeader } from '@fastify/jwt';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { assertApiAuthConfig, type RateLimitClass } from '../../config';
import { JwksKeySource, JwksUnavailableError } from '../auth/jwks';
import { isRole, type Role } from '../auth/roles';
import { ApiError } from '../errors';

/** Who may call a route and which rate-limit budget it draws from. Every /v1 route must declare it. */
export interface RouteAccess {
  /** The caller needs at least one of these roles (else 403); object-level checks happen in the handler. */
  roles: readonly Role[];
  rateLimit: RateLimitClass;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling (the token's `sub`; '' on public routes): ownership, idempotency scope, audit actor. */
    callerId: string;
    /** The caller's known roles from the token's `roles` claim (empty on public routes). */
    roles: readonly Role[];
  }
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
}

export const STAFF_ROLES: readonly Role[] = ['ops', 'finance', 'admin'];
export const ALL_ROLES: readonly Role[] = ['customer', ...STAFF_ROLES];

/** Longest `sub` accepted: it is stored as wallet owner, idempotency scope and audit actor. */
const MAX_SUBJECT_LENGTH = 128;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001F\u007F]/;

/** RFC 6750 §3: a 401 names the scheme; `error="invalid_token"` when a token was sent but refused. */
function unauthenticated(reply: FastifyReply, detail: string, tokenSent: boolean): ApiError {
  reply.header(
    'www-authenticate',
    tokenSent ? 'Bearer realm="wallet", error="invalid_token"' : 'Bearer realm="wallet"',
  );
  return new ApiError('UNAUTHENTICATED', detail);
}

interface Claims {
  sub?: unknown;
  roles?: unknown;
}

/**
 * Bearer-JWT authentication (docs/security.md). Verification: HS256 with JWT_SECRET, or a public key
 * (JWT_PUBLIC_KEY), or the identity provider's JWKS (JWT_JWKS_URL); `exp` is required, `iss`/`aud` are
 * checked when configured. Claims: `sub` (the caller) and `roles` (customer, ops, finance, admin).
 *
 * Every /v1 route declares `config.access`; a /v1 route without it fails the boot (fail closed).
 * Expired, malformed, wrongly signed or role-less tokens are answered 401; a caller without any of the
 * route's roles gets 403 before anything is looked up, so the answer reveals nothing about objects.
 * Object-level checks (a customer's own wallets and transfers) are the handlers' (api/auth/policy.ts).
 */
export default fp(
  async (app) => {
    const cfg = app.config;
    assertApiAuthConfig(cfg); // production without a secret or key: the API refuses to start
    const jwks = cfg.JWT_JWKS_URL ? new JwksKeySource(cfg.JWT_JWKS_URL) : undefined;
    const secret: FastifyJWTOptions['secret'] = jwks
      ? async (_request: FastifyRequest, token: TokenOrHeader) => jwks.keyFor('header' in token ? token.header : token)
      : cfg.JWT_PUBLIC_KEY
        ? { public: cfg.JWT_PUBLIC_KEY }
        : cfg.JWT_SECRET!;
    await app.register(fastifyJwt, {
      secret,
      decode: { complete: true },
      verify: {
        // the shared secret admits HS256 only; with keys, fast-jwt allows just the algorithms of the key's type
        ...(jwks || cfg.JWT_PUBLIC_KEY ? {} : { algorithms: ['HS256'] }),
        // fast-jwt checks iss/aud only when present: configured ones must also be required
        requiredClaims: ['sub', 'exp', ...(cfg.JWT_ISSUER ? ['iss'] : []), ...(cfg.JWT_AUDIENCE ? ['aud'] : [])],
        clockTolerance: cfg.JWT_CLOCK_TOLERANCE_SECONDS * 1000,
        ...(cfg.JWT_ISSUER ? { allowedIss: cfg.JWT_ISSUER } : {}),
        ...(cfg.JWT_AUDIENCE ? { allowedAud: cfg.JWT_AUDIENCE } : {}),
      },
    });

    app.decorateRequest('callerId', '');
    app.decorateRequest('roles', null as unknown as readonly Role[]);

    app.addHook('onRoute', (route) => {
      const url = route.url ?? '';
      if (url.startsWith('/v1') && !route.config?.access) {
        throw new Error(
          `route ${route.method} ${url} declares no config.access: every /v1 route needs an explicit policy`,
        );
      }
    });

    async function authenticate(request: FastifyRequest, reply: FastifyReply, allowed: readonly Role[]): Promise<void> {
      const header = request.headers.authorization;
      if (!header) throw unauthenticated(reply, 'send a bearer token: Authorization: Bearer <jwt>', false);
      // the scheme is case-insensitive (RFC 7235 §2.1): `bearer` and `BEARER` are Bearer
      if (!/^Bearer [A-Za-z0-9._~+/-]+=*$/i.test(header)) {
        throw unauthenticated(reply, 'the Authorization header must be "Bearer <jwt>"', true);
      }
      let claims: Claims;
      try {
        claims = await request.jwtVerify<Claims>();
      } catch (err) {
        if (err instanceof JwksUnavailableError) {
          request.log.error({ err }, 'cannot verify tokens: key set unavailable');
          throw new ApiError('SERVICE_UNAVAILABLE', 'tokens cannot be verified right now; retry later');
        }
        const code = (err as { code?: string }).code;
        const detail =
          code === 'FST_JWT_AUTHORIZATION_TOKEN_EXPIRED'
            ? 'the token has expired'
            : 'the token is malformed, wrongly signed or not valid here';
        throw unauthenticated(reply, detail, true);
      }
      const { sub, roles } = claims;
      if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_SUBJECT_LENGTH || CONTROL_CHARS.test(sub)) {
        throw unauthenticated(reply, 'the token has no usable subject (sub)', true);
      }
      const known = Array.isArray(roles) ? [...new Set(roles.filter(isRole))] : [];
      if (known.length === 0) throw unauthenticated(reply, 'the token carries no role', true);
      request.callerId = sub;
      request.roles = known;
      if (!known.some((r) => allowed.includes(r))) {
        throw new ApiError('FORBIDDEN', `this operation needs one of the roles: ${allowed.join(', ')}`);
      }
    }

    app.addHook('onRequest', async (request, reply) => {
      request.roles = [];
      const access = request.routeOptions.config?.access;
      if (access) return authenticate(request, reply, access.roles);
      // /metrics (api/plugins/metrics.ts) is public unless METRICS_PUBLIC=false: then staff only
      if (!cfg.METRICS_PUBLIC && request.routeOptions.url === '/metrics')
        return authenticate(request, reply, STAFF_ROLES);
    });
  },
  { name: 'caller-identity', fastify: '5.x', decorators: { fastify: ['config'] } },
);
