import type { FastifyInstance } from 'fastify';
import { createWallet, getWallet, lineCount, postDeposit, startApp, uniqueKey } from './helpers';

describe('concurrent deposits', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(async () => {
    await app.close();
  });

  it('books 50 concurrent deposits with distinct keys exactly: balance is the sum, 50 lines', async () => {
    const wallet = await createWallet(app);
    const amounts = Array.from({ length: 50 }, (_, i) => 100 + i);

    const responses = await Promise.all(amounts.map((amount) => postDeposit(app, wallet.id, { amount }, uniqueKey())));

    expect(responses.map((r) => r.statusCode)).toEqual(Array(50).fill(201));
    expect(responses.every((r) => r.headers['idempotent-replayed'] === undefined)).toBe(true);
    const total = amounts.reduce((a, b) => a + b, 0);
    const after = await getWallet(app, wallet.id);
    expect(after).toMatchObject({ balance: total, held: 0, available: total });
    expect(await lineCount(app.shards, wallet.id)).toBe(50);
    // each response's balanceAfter is a distinct step of the same running sum
    const balancesAfter = responses.map((r) => r.json<{ balanceAfter: number }>().balanceAfter);
    expect(new Set(balancesAfter).size).toBe(50);
    expect(Math.max(...balancesAfter)).toBe(total);
  });
});
