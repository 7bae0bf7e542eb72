import { signToken } from '../../api/auth/tokens';
import type { Role } from '../../api/auth/roles';
import { testConfig } from './env';

/**
 * Tokens for tests, signed with this run's JWT secret (testConfig().JWT_SECRET: JWT_SECRET from the
 * environment, else the development/test default), so an app built with testConfig() accepts them.
 */
export interface TestCaller {
  sub: string;
  roles: readonly Role[];
  /** Lifetime in seconds (default 1 h); negative for an expired token. */
  ttlSeconds?: number;
  /** Sign with this secret instead (a "wrongly signed" token). */
  secret?: string;
}

/** A signed JWT for `caller`. */
export function tokenFor(caller: TestCaller): string {
  const cfg = testConfig();
  return signToken(
    { sub: caller.sub, roles: caller.roles },
    {
      secret: caller.secret ?? cfg.JWT_SECRET ?? '',
      ttlSeconds: caller.ttlSeconds,
      issuer: cfg.JWT_ISSUER,
      audience: cfg.JWT_AUDIENCE,
    },
  );
}

/** The `authorization` header value for `caller`: `Bearer <jwt>`. */
export function bearer(caller: TestCaller): string {
  return `Bearer ${tokenFor(caller)}`;
}

/** `{ authorization }` headers for `caller`, to spread into app.inject({ headers }). */
export function authHeaders(caller: TestCaller): { authorization: string } {
  return { authorization: bearer(caller) };
}

/** Ready-made callers for the common roles (each with its own `sub`). */
export const callers = {
  customer: (sub = 'customer-1'): TestCaller => ({ sub, roles: ['customer'] }),
  ops: (sub = 'ops-1'): TestCaller => ({ sub, roles: ['ops'] }),
  finance: (sub = 'finance-1'): TestCaller => ({ sub, roles: ['finance'] }),
  admin: (sub = 'admin-1'): TestCaller => ({ sub, roles: ['admin'] }),
};
