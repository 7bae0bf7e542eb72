import { createSigner } from 'fast-jwt';
import type { Role } from './roles';

export interface TokenClaims {
  /** The caller: wallets it creates are owned by it, idempotency keys are scoped to it. */
  sub: string;
  roles: readonly Role[];
}

export interface SignOptions {
  /** HS256 shared secret (the API's JWT_SECRET). */
  secret: string;
  /** Lifetime in seconds (default 1 hour); negative values make an already expired token (tests). */
  ttlSeconds?: number;
  issuer?: string;
  audience?: string;
}

/**
 * Signs an HS256 token the API accepts when it runs with the same JWT_SECRET. For development
 * (`npm run token`) and tests; production tokens come from the identity provider (JWKS / public key).
 */
export function signToken(claims: TokenClaims, opts: SignOptions): string {
  const now = Math.floor(Date.now() / 1000);
  const ttl = opts.ttlSeconds ?? 3600;
  const signer = createSigner({
    key: opts.secret,
    algorithm: 'HS256',
    ...(opts.issuer ? { iss: opts.issuer } : {}),
    ...(opts.audience ? { aud: opts.audience } : {}),
  });
  // iat/exp set explicitly so a negative ttl yields a token that expired in the past
  return signer({ sub: claims.sub, roles: [...claims.roles], iat: now, exp: now + ttl });
}
