import type { FastifyInstance } from 'fastify';
import { customer, postDeposit, rowsOnEvery, startApp, uniqueKey } from '../api/helpers';
import { authHeaders } from '../support/auth';
import { uniqueTaskQueue } from '../support/env';
import { createWalletAs, transferAs } from './fixtures';

/** Idempotency keys belong to the caller who sent them (docs/architecture.md §5): the same key from two callers names two resources. */
describe('idempotency keys are scoped per caller', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = await startApp({ TEMPORAL_TASK_QUEUE: uniqueTaskQueue('scope') });
  });
  afterAll(async () => {
    await app.close();
  });

  it('gives two customers using the same Idempotency-Key two different transfers', async () => {
    const [ann, ben] = [customer(uniqueKey('ann')), customer(uniqueKey('ben'))];
    const [annWallet, benWallet, payee] = [
      await createWalletAs(app, ann),
      await createWalletAs(app, ben),
      await createWalletAs(app, customer(uniqueKey('payee'))),
    ];
    for (const w of [annWallet, benWallet])
      expect((await postDeposit(app, w.id, { amount: 1_000 })).statusCode).toBe(201);
    const key = uniqueKey('shared');

    const fromAnn = await transferAs(app, ann, { fromWalletId: annWallet.id, toWalletId: payee.id, amount: 100 }, key);
    // same key, same body shape (another source wallet): not a replay of ann's, not a 422 either
    const fromBen = await transferAs(app, ben, { fromWalletId: benWallet.id, toWalletId: payee.id, amount: 100 }, key);
    const annAgain = await transferAs(app, ann, { fromWalletId: annWallet.id, toWalletId: payee.id, amount: 100 }, key);

    expect([fromAnn.statusCode, fromBen.statusCode]).toEqual([202, 202]);
    expect(fromBen.headers['idempotent-replayed']).toBeUndefined();
    const [a, b] = [
      fromAnn.json<{ id: string; fromWalletId: string }>(),
      fromBen.json<{ id: string; fromWalletId: string }>(),
    ];
    expect(a.id).not.toBe(b.id);
    expect([a.fromWalletId, b.fromWalletId]).toEqual([annWallet.id, benWallet.id]);
    // ann's retry still replays ann's transfer
    expect(annAgain.headers['idempotent-replayed']).toBe('true');
    expect(annAgain.json<{ id: string }>().id).toBe(a.id);

    // each transfer on its sender's database, each record on its caller's: read them all
    const rows = (
      await rowsOnEvery<{ id: string; caller_id: string }>(
        app.shards,
        `SELECT id, caller_id FROM transfers WHERE idempotency_key = $1`,
        [key],
      )
    ).sort((x, y) => x.caller_id.localeCompare(y.caller_id));
    expect(rows).toEqual(
      [
        { id: a.id, caller_id: ann.sub },
        { id: b.id, caller_id: ben.sub },
      ].sort((x, y) => x.caller_id.localeCompare(y.caller_id)),
    );
    const records = await rowsOnEvery<{ caller_id: string }>(
      app.shards,
      `SELECT caller_id FROM idempotency_records WHERE idempotency_key = $1`,
      [key],
    );
    expect(records.map((r) => r.caller_id).sort()).toEqual([ann.sub, ben.sub].sort());
  });

  it('gives two finance callers using the same Idempotency-Key two different deposits', async () => {
    const wallet = await createWalletAs(app, customer(uniqueKey('owner')));
    const key = uniqueKey('shared-dep');
    const [f1, f2] = [
      { sub: uniqueKey('fin-a'), roles: ['finance'] as const },
      { sub: uniqueKey('fin-b'), roles: ['finance'] as const },
    ];
    const first = await postDeposit(app, wallet.id, { amount: 300 }, key, f1);
    const second = await postDeposit(app, wallet.id, { amount: 300 }, key, f2);

    expect([first.statusCode, second.statusCode]).toEqual([201, 201]);
    expect(second.headers['idempotent-replayed']).toBeUndefined();
    expect(first.json<{ id: string }>().id).not.toBe(second.json<{ id: string }>().id);
    const read = await app.inject({ method: 'GET', url: `/v1/wallets/${wallet.id}`, headers: authHeaders(f1) });
    expect(read.json<{ balance: number }>().balance).toBe(600);
  });
});
