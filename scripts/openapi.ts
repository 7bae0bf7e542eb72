import fs from 'node:fs';
import path from 'node:path';
import { buildApp } from '../api/app';
import { openApiText } from '../api/openapi';
import { loadConfig } from '../config';
import { maintenanceUrl } from './migrate';

/**
 * `npm run openapi`: writes the OpenAPI document the API serves at /openapi.json to openapi.json at the
 * repository root (canonical form: sorted keys, two-space indent). test/api/openapi-document.test.ts
 * fails when the committed file differs from what the app serves, so run this after changing a route.
 *
 * It builds the real app, so a PostgreSQL server must be reachable (DATABASE_URL's server; only its
 * `postgres` maintenance database is opened, nothing is written). Settings that shape the document
 * (MAX_AMOUNT_MINOR) take their defaults, so the file does not depend on the local environment.
 */
async function main(): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'development', LOG_LEVEL: 'silent' };
  delete env.MAX_AMOUNT_MINOR;
  const base = loadConfig(env);
  const config = loadConfig({ ...env, DATABASE_URL: maintenanceUrl(base.DATABASE_URL) });
  const app = await buildApp({ config, logger: false });
  try {
    const file = path.resolve(__dirname, '../../openapi.json');
    fs.writeFileSync(file, openApiText(app));
    process.stdout.write(`wrote ${path.relative(process.cwd(), file) || file}\n`);
  } finally {
    await app.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`openapi: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
