import type { FastifyInstance } from 'fastify';
import { authHeaders } from '../support/auth';
import { ADMIN, createWallet, expectProblem, postDeposit, startApp } from './helpers';

const staff = authHeaders(ADMIN);

interface Line {
  id: string;
  entryId: string;
  kind: string;
  amount: number;
  balanceAfter: number;
  description: string | null;
  createdAt: string;
}
interface Page {
  items: Line[];
  nextCursor: string | null;
}

describe('GET /v1/wallets/:id/transactions', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(async () => {
    await app.close();
  });

  async function walletWithDeposits(amounts: number[]) {
    const wallet = await createWallet(app);
    for (const [i, amount] of amounts.entries()) {
      const res = await postDeposit(app, wallet.id, { amount, reference: `deposit ${i}` });
      expect(res.statusCode).toBe(201);
    }
    return wallet;
  }

  it('lists lines newest first, each with the balance after it', async () => {
    const wallet = await walletWithDeposits([100, 250, 50]);

    const res = await app.inject({ method: 'GET', url: `/v1/wallets/${wallet.id}/transactions`, headers: staff });

    expect(res.statusCode).toBe(200);
    const page = res.json<Page>();
    expect(page.nextCursor).toBeNull();
    expect(page.items.map((l) => [l.kind, l.amount, l.balanceAfter, l.description])).toEqual([
      ['deposit', 50, 400, 'deposit 2'],
      ['deposit', 250, 350, 'deposit 1'],
      ['deposit', 100, 100, 'deposit 0'],
    ]);
  });

  it('walks every line exactly once through the cursor pages', async () => {
    const amounts = Array.from({ length: 7 }, (_, i) => 10 * (i + 1));
    const wallet = await walletWithDeposits(amounts);

    const seen: Line[] = [];
    const pageSizes: number[] = [];
    let cursor: string | null = null;
    do {
      const query: Record<string, string> = { limit: '3', ...(cursor ? { cursor } : {}) };
      const res = await app.inject({
        method: 'GET',
        url: `/v1/wallets/${wallet.id}/transactions`,
        query,
        headers: staff,
      });
      expect(res.statusCode).toBe(200);
      const page = res.json<Page>();
      seen.push(...page.items);
      pageSizes.push(page.items.length);
      cursor = page.nextCursor;
    } while (cursor);

    expect(pageSizes).toEqual([3, 3, 1]);
    expect(new Set(seen.map((l) => l.id)).size).toBe(7);
    expect(seen.map((l) => l.amount)).toEqual([...amounts].reverse());
    // running balance, newest first
    let balance = amounts.reduce((a, b) => a + b, 0);
    for (const line of seen) {
      expect(line.balanceAfter).toBe(balance);
      balance -= line.amount;
    }
    expect(balance).toBe(0);
  });

  it('answers an empty page for a wallet without history', async () => {
    const wallet = await createWallet(app);
    const res = await app.inject({ method: 'GET', url: `/v1/wallets/${wallet.id}/transactions`, headers: staff });
    expect(res.json()).toEqual({ items: [], nextCursor: null });
  });

  it('answers 404 for an unknown wallet', async () => {
    const res = await app.inject({
      method: 'GET',
      url: '/v1/wallets/00000000-0000-4000-8000-000000000001/transactions',
      headers: staff,
    });
    expectProblem(res, 404, 'WALLET_NOT_FOUND');
  });
});
