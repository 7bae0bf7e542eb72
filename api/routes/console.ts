import fs from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

/** Where the console's files are, relative to the repository (or image) root. */
const ASSETS = path.join('api', 'console', 'public');

/**
 * The console's static folder: `<root>/api/console/public`, the root being the first directory above
 * this file that holds it. The same from the sources (ts-jest: api/routes) and from the build
 * (dist/api/routes: tsc copies no HTML or CSS, so the build reads the repository's folder; the
 * Docker image copies it next to dist/).
 */
export function consoleAssetsDir(from = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, ASSETS);
    if (fs.existsSync(path.join(candidate, 'index.html'))) return candidate;
    if (path.dirname(dir) === dir)
      throw new Error(`the finance console's files (${ASSETS}/index.html) are not above ${from}`);
  }
}

/**
 * The console's Content-Security-Policy, stricter than the API's default (which admits the Swagger
 * UI's inline styles): only this origin's scripts, styles, images and API; no inline script or style,
 * no plugins, no framing, no <base> or form posts elsewhere.
 */
export function consoleCsp(production: boolean): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "font-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
    ...(production ? ['upgrade-insecure-requests'] : []),
  ].join('; ');
}

/**
 * GET /console: the finance console (docs/finance.md "The finance console"), plain
 * HTML, CSS and ES modules served as they are (no bundler). The page calls the /v1 API with the
 * caller's bearer token like any client; these files are public, the data behind them is not.
 */
const consoleRoutes: FastifyPluginAsync = async (app) => {
  const csp = consoleCsp(app.config.NODE_ENV === 'production');
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', csp);
    reply.header('cache-control', 'no-cache'); // revalidated (ETag) on every load: a deploy shows at once
    return payload;
  });
  await app.register(fastifyStatic, {
    root: consoleAssetsDir(),
    prefix: '/console/',
    redirect: true, // /console → /console/ (the page's relative URLs need the slash)
    wildcard: false, // exactly the files present at start-up, nothing else under /console/
    decorateReply: false,
    cacheControl: false,
    dotfiles: 'deny',
  });
};

export default consoleRoutes;
