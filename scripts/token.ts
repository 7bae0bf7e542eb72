import { parseArgs } from 'node:util';
import { ROLES, isRole, type Role } from '../api/auth/roles';
import { signToken } from '../api/auth/tokens';
import { ConfigError, loadConfig } from '../config';

const USAGE = `Prints a development bearer token (HS256, signed with JWT_SECRET or the development default).

  npm run -s token -- --sub alice --role customer [--role ops] [--ttl 3600] [--console [--url URL]]

  --sub      the caller (the token's subject; owner of the wallets a customer creates)   required
  --role     ${ROLES.join(', ')} (repeat, or comma-separate, for several)           required
  --ttl      lifetime in seconds (default 3600)
  --console  print a URL that signs a browser in to the finance console instead of the bare token
             (the token rides in the URL's #fragment, which is never sent to the server; the page
             moves it to the tab's sessionStorage and drops it from the address bar)
  --url      the API's address for --console (default http://HOST:PORT of this configuration)

Use it as: curl -H "Authorization: Bearer $(npm run -s token -- --sub alice --role customer)" ...
       or: npm run -s token -- --sub fiona --role finance --console   (then open the URL)`;

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function main(): void {
  let values: { sub?: string; role?: string[]; ttl?: string; console?: boolean; url?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        sub: { type: 'string' },
        role: { type: 'string', multiple: true },
        ttl: { type: 'string' },
        console: { type: 'boolean' },
        url: { type: 'string' },
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
  const roles = (values.role ?? [])
    .flatMap((r) => r.split(','))
    .map((r) => r.trim())
    .filter(Boolean);
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
  if (!values.console) {
    if (values.url !== undefined) fail('--url goes with --console');
    process.stdout.write(`${token}\n`);
    return;
  }
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  const base = (values.url ?? `http://${host}:${config.PORT}`).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/?#]+(\/[^?#]*)?$/.test(base))
    fail(`--url must be the API's http(s) address, e.g. http://127.0.0.1:3000 (got ${base})`);
  if (!roles.some((r) => r === 'ops' || r === 'finance' || r === 'admin')) {
    process.stderr.write('note: the console is for ops, finance and admin; with these roles it shows a refusal\n');
  }
  process.stdout.write(`${base}/console/#token=${token}\n`);
}

main();
