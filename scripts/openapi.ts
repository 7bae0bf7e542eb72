import fs from 'node:fs';
import path from 'node:path';
import openapiTS, { astToString, COMMENT_HEADER, type OpenAPI3 } from 'openapi-typescript';
import { buildApp } from '../api/app';
import { openApiText } from '../api/openapi';
import { loadConfig } from '../config';
import { dropDatabase, migrateAll } from './migrate';

const ROOT = path.resolve(__dirname, path.basename(path.dirname(__dirname)) === 'dist' ? '../..' : '..');
const DOCUMENT_FILE = path.join(ROOT, 'openapi.json');
/** The client types generated from the document: the bench and the chaos workload call the API through them. */
const CLIENT_TYPES_FILE = path.join(ROOT, 'api/client/schema.d.ts');

/**
 * The TypeScript types openapi-typescript generates from the document's text, exactly as its CLI writes
 * them (`npx openapi-typescript openapi.json`, default options). test/api/openapi-client.test.ts checks
 * the committed file against the CLI's output, so the types cannot drift from the document.
 */
async function clientTypesOf(documentText: string): Promise<string> {
  const ast = await openapiTS(JSON.parse(documentText) as OpenAPI3, { silent: true });
  return `${COMMENT_HEADER}${astToString(ast)}`;
}

/**
 * `npm run openapi`: writes the OpenAPI document the API serves at /openapi.json to openapi.json at the
 * repository root (canonical form: sorted keys, two-space indent), then the client types generated from
 * it to api/client/schema.d.ts. test/api/openapi-document.test.ts fails when the committed document
 * differs from what the app serves, test/api/openapi-client.test.ts when the types differ from the
 * document's, so run this after changing a route.
 *
 * It builds the real app, so a PostgreSQL server must be reachable (DATABASE_URL's server): the app
 * starts on a scratch database of its own, created and migrated for it (a process refuses a database
 * behind on its migrations) and dropped after; nothing else is written. Settings that shape the document
 * (MAX_AMOUNT_MINOR) take their defaults, so the file does not depend on the local environment.
 */
async function main(): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'development', LOG_LEVEL: 'silent' };
  delete env.MAX_AMOUNT_MINOR;
  const scratch = new URL(loadConfig(env).DATABASE_URL);
  scratch.pathname = `/wallet_openapi_${process.pid}`;
  const databaseUrl = scratch.toString();
  const config = loadConfig({
    ...env,
    DATABASE_URL: databaseUrl,
    SHARD_DATABASE_URLS: '',
    SHARD_MAP: '',
    ACCOUNTING_DATABASE_URL: '',
  });
  let text: string;
  try {
    await migrateAll(config, () => undefined);
    const app = await buildApp({ config, logger: false });
    try {
      text = openApiText(app);
    } finally {
      await app.close();
    }
  } finally {
    await dropDatabase(databaseUrl);
  }
  fs.writeFileSync(DOCUMENT_FILE, text);
  fs.writeFileSync(CLIENT_TYPES_FILE, await clientTypesOf(text));
  for (const file of [DOCUMENT_FILE, CLIENT_TYPES_FILE])
    process.stdout.write(`wrote ${path.relative(process.cwd(), file) || file}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`openapi: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
