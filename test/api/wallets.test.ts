import type { FastifyInstance } from 'fastify';
import { deposit } from '../../domain/deposits';
import { authHeaders } from '../support/auth';
import { ADMIN, createWallet, customer, expectProblem, startApp, uniqueKey, type WalletJson } from './helpers';
import { randomUUID } from 'node:crypto';

describe('wallets', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(async () => {
    await app.close();
  });

  it('creates a wallet with zero balances and reads it back', async () => {
    const ownerId = uniqueKey('owner');
    const owner = authHeaders(customer(ownerId));
    const created = await app.inject({
      method: 'POST',
      url: '/v1/wallets',
      headers: owner,
      payload: { ownerId, currency: 'JPY' },
    });

    expect(created.statusCode).toBe(201);
    const wallet = created.json<WalletJson>();
    expect(created.headers.location).toBe(`/v1/wallets/${wallet.id}`);
    expect(wallet).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      ownerId,
      currency: 'JPY',
      status: 'active',
      balance: 0,
      held: 0,
      available: 0,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });

    const read = await app.inject({ method: 'GET', url: `/v1/wallets/${wallet.id}`, headers: owner });
    expect(read.statusCode).toBe(200);
    expect(read.json()).toEqual(wallet);
  });

  it('answers 404 problem for an unknown wallet', async () => {
    const res = await app.inject({ method: 'GET', url: `/v1/wallets/${randomUUID()}`, headers: authHeaders(ADMIN) });
    expectProblem(res, 404, 'WALLET_NOT_FOUND');
  });

  it('writes balances above 2^53 as exact JSON integers', async () => {
    // Booked through the domain (the API caps one deposit at MAX_AMOUNT_MINOR), as a balanced entry
    // in a currency no other test uses, so the ledger stays sound.
    const wallet = await createWallet(app, 'ISK');
    const huge = 2n ** 62n + 1n; // not representable as a double
    await deposit(app.shards.forWallet(wallet.id).store, {
      depositId: randomUUID(),
      walletId: wallet.id,
      amount: huge,
      reference: 'big',
    });

    const res = await app.inject({ method: 'GET', url: `/v1/wallets/${wallet.id}`, headers: authHeaders(ADMIN) });

    expect(res.payload).toContain(`"balance":${huge}`);
    expect(res.payload).toContain(`"available":${huge}`);
    const lines = await app.inject({
      method: 'GET',
      url: `/v1/wallets/${wallet.id}/transactions`,
      headers: authHeaders(ADMIN),
    });
    expect(lines.payload).toContain(`"amount":${huge},`);
    expect(lines.payload).toContain(`"balanceAfter":${huge},`);
  });

  it('answers unknown routes with a problem', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/nothing-here' });
    expectProblem(res, 404, 'ROUTE_NOT_FOUND');
  });
});
