/**
 * The roles a caller can hold (JWT claim `roles`), from least to most privileged. Each role includes
 * everything the roles before it may do, except that `customer` is scoped to the wallets it owns
 * and the staff roles (`ops` and up) are not: see docs/security.md and api/auth/permissions.ts.
 */
export const ROLES = ['customer', 'ops', 'finance', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
