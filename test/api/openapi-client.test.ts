import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import {
  apiClient,
  type Answer,
  type RequestBody,
  type RequestOptions,
  type ResponseBody,
  type Schemas,
} from '../../api/client';
import { authHeaders } from '../support/auth';
import { customer, startApp, uniqueKey } from './helpers';

const ROOT = path.resolve(__dirname, '../..');
// openapi-typescript's own CLI (its library needs ES modules, which this jest setup does not load)
const CLI = path.join(ROOT, 'node_modules/openapi-typescript/bin/cli.js');

/**
 * The typed client (api/client): its types are what openapi-typescript generates from the committed
 * openapi.json, so they cannot drift from the document; and they are strict enough that a caller
 * (the bench, the chaos workload) written against an older document stops compiling. The second half
 * is checked by the type check of `npm test` (tsc over test/): each @ts-expect-error below must stay an error.
 */
describe('the generated API client types', () => {
  it('are what openapi-typescript generates from the committed openapi.json (run `npm run openapi`)', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'openapi.json'], {
      cwd: ROOT,
      maxBuffer: 16 * 1024 * 1024,
    });
    expect(fs.readFileSync(path.join(ROOT, 'api/client/schema.d.ts'), 'utf8')).toBe(stdout);
  });

  it('refuse a request or an answer the document does not describe', () => {
    const transfer: RequestBody<'/v1/transfers', 'post'> = {
      fromWalletId: 'a',
      toWalletId: 'b',
      amount: 1,
      currency: 'EUR',
    };
    // @ts-expect-error an unknown currency code
    const badCurrency: RequestBody<'/v1/transfers', 'post'> = { ...transfer, currency: 'EURO' };
    // @ts-expect-error a field the document does not have
    const extra: RequestBody<'/v1/wallets', 'post'> = { currency: 'EUR', colour: 'red' };
    // @ts-expect-error the Idempotency-Key header is required on POST /v1/transfers
    const noKey: RequestOptions<'/v1/transfers', 'post'> = { body: transfer, headers: { authorization: 'Bearer x' } };
    // @ts-expect-error GET /v1/wallets/{id} needs its id
    const noId: RequestOptions<'/v1/wallets/{id}', 'get'> = { headers: {} };

    const status = (t: ResponseBody<'/v1/transfers/{id}', 'get', 200>): Schemas['TransferStatus'] => t.status;
    const code = (a: Answer<'/v1/transfers', 'post'>) =>
      a.status === 422 ? a.body.code : a.status === 202 ? a.body.id : null;
    // @ts-expect-error a status the operation does not answer with
    const undocumented: ResponseBody<'/v1/transfers/{id}', 'get', 201> = { id: 'x' };

    expect([badCurrency, extra, noKey, noId, status, code, undocumented]).toHaveLength(7);
  });

  describe('through the typed fetch wrapper', () => {
    let app: FastifyInstance;
    let baseUrl: string;
    beforeAll(async () => {
      app = await startApp();
      baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
    });
    afterAll(async () => {
      await app.close();
    });

    it('fills in path parameters, sends headers, query and body, and answers by status', async () => {
      const owner = uniqueKey('client');
      const client = apiClient(baseUrl, { headers: authHeaders(customer(owner)) });
      const created = await client.call('post', '/v1/wallets', { body: { currency: 'EUR' } });
      if (created.status !== 201) throw new Error(`POST /v1/wallets answered ${String(created.status)}`);
      expect(created.body).toMatchObject({ ownerId: owner, currency: 'EUR', balance: 0 });

      const read = await client.call('get', '/v1/wallets/{id}', { params: { id: created.body.id } });
      expect(read).toMatchObject({ status: 200, body: { id: created.body.id } });
      const page = await client.call('get', '/v1/wallets/{id}/transactions', {
        params: { id: created.body.id },
        query: { limit: 5 },
      });
      expect(page).toMatchObject({ status: 200, body: { items: [], nextCursor: null } });
      const refused = await client.call('get', '/v1/wallets/{id}/transactions', {
        params: { id: created.body.id },
        query: { limit: 500 },
      });
      expect(refused).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
    });
  });
});
