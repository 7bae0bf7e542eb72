import { parseArgs } from 'node:util';
import { ROLES, isRole, type Role } from '../api/auth/roles';
import { signToken } from '../api/auth/tokens';
import { ConfigError, loadConfig } from '../config';

const USAGE = `Prints a development bearer token (HS256, signed with JWT_SECRET or the development default).

  npm run -s token -- --sub alice --role customer [--role ops] [--ttl 3600]

  --sub   the caller (the token's subject; owner of the wallets a customer creates)   required
  --role  ${ROLES.join(', ')} (repeat, or comma-separate, for several)           required
  --ttl   lifetime in seconds (default 3600)

Use it as: curl -H "Authorization: Bearer $(npm run -s token -- --sub alice --role customer)" ...`;

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function main(): void {
  let values: { sub?: string; role?: string[]; ttl?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        sub: { type: 'string' },
        role: { type: 'string', multiple: true },
        ttl: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!values.sub) fail('--sub is required');
  const roles = (values.role ?? []).flatMap((r) => r.split(',')).map((r) => r.trim()).filter(Boolean);
  if (roles.length === 0) fail('at least one --role is required');
  const unknown = roles.filter((r) => !isRole(r));
  if (unknown.length > 0) fail(`unknown role(s): ${unknown.join(', ')}`);
  const ttl = values.ttl === undefined ? 3600 : Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl <= 0) fail('--ttl must be a positive number of seconds');

  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    fail(err instanceof ConfigError ? err.message : String(err));
  }
  if (!config.JWT_SECRET) {
    // say what is actually configured: with nothing set, production has no secret (and no key either)
    const verifier = config.JWT_JWKS_URL ? 'JWT_JWKS_URL' : config.JWT_PUBLIC_KEY ? 'JWT_PUBLIC_KEY' : null;
    fail(
      verifier
        ? `this configuration verifies tokens with ${verifier}, which only the identity provider can sign for: get tokens from it`
        : `no JWT_SECRET is set (NODE_ENV=${config.NODE_ENV}): this script signs with a shared secret only; set JWT_SECRET, or get tokens from the identity provider`,
    );
  }
  const token = signToken(
    { sub: values.sub, roles: roles as Role[] },
    { secret: config.JWT_SECRET, ttlSeconds: ttl, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE },
  );
  process.stdout.write(`${token}\n`);
}

main();
