import type { FastifyInstance } from 'fastify';
import { dereferenced, type OpenApiDoc } from '../support/openapi';
import { startApp } from './helpers';

describe('OpenAPI', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(async () => {
    await app.close();
  });

  it('serves an OpenAPI 3.1 document listing every route', async () => {
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });

    expect(res.statusCode).toBe(200);
    const doc = res.json<OpenApiDoc>();
    expect(doc.openapi).toMatch(/^3\.1\./);
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations).toEqual(
      expect.arrayContaining([
        'POST /v1/wallets',
        'GET /v1/wallets/{id}',
        'GET /v1/wallets/{id}/transactions',
        'POST /v1/wallets/{id}/deposits',
        'GET /health/live',
        'GET /health/ready',
      ]),
    );
    // the documentation routes themselves stay out of the document
    expect(operations.filter((op) => op.includes('/docs') || op.includes('openapi'))).toEqual([]);
  });

  it('documents errors as application/problem+json', async () => {
    const doc = dereferenced((await app.inject({ method: 'GET', url: '/openapi.json' })).json<OpenApiDoc>());
    const deposit = doc.paths['/v1/wallets/{id}/deposits']!.post!;
    expect(Object.keys(deposit.responses)).toEqual(expect.arrayContaining(['201', '400', '404', '409', '422', '500']));
    expect(Object.keys(deposit.responses['422']!.content!)).toEqual(['application/problem+json']);
  });

  it('serves Swagger UI at /docs', async () => {
    const res = await app.inject({ method: 'GET', url: '/docs' });
    expect([200, 302]).toContain(res.statusCode);
    const page =
      res.statusCode === 302 ? await app.inject({ method: 'GET', url: res.headers.location as string }) : res;
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
  });
});
