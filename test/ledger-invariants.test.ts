import { randomUUID } from 'node:crypto';
import type { Store } from '../db/store';
import { deposit } from '../domain/deposits';
import { checkLedgerInvariants, type InvariantViolation } from '../domain/invariants';
import { createWallet } from '../domain/wallets';
import { createTestStore } from './support/env';

/** Thrown to end a transaction with ROLLBACK after looking inside it. */
class Rollback extends Error {}

describe('ledger invariants', () => {
  let ds: Store;

  beforeAll(async () => {
    ds = await createTestStore();
  });
  afterAll(async () => {
    await ds.close();
  });

  it('hold after deposits, including concurrent ones into the same wallets', async () => {
    const eur = await createWallet(ds, { ownerId: `owner-${randomUUID()}`, currency: 'EUR' });
    const usd = await createWallet(ds, { ownerId: `owner-${randomUUID()}`, currency: 'USD' });
    const depositId = randomUUID();

    await Promise.all([
      ...Array.from({ length: 10 }, (_, i) =>
        deposit(ds, { depositId: randomUUID(), walletId: i % 2 ? eur.id : usd.id, amount: BigInt(100 + i) }),
      ),
      // the same deposit three times: posted once
      ...Array.from({ length: 3 }, () => deposit(ds, { depositId, walletId: eur.id, amount: 5000n })),
    ]);

    expect(await checkLedgerInvariants(ds.sql)).toEqual([]);
  });

  it('report a wallet whose balance no longer matches its ledger lines', async () => {
    const wallet = await createWallet(ds, { ownerId: `owner-${randomUUID()}`, currency: 'EUR' });
    await deposit(ds, { depositId: randomUUID(), walletId: wallet.id, amount: 700n });

    // Corrupt the balance behind the ledger's back inside a transaction that is rolled back,
    // so no other test ever sees it; the checker reads through that same transaction.
    let violations: InvariantViolation[] = [];
    await expect(
      ds.transaction(async (sql) => {
        await sql(`UPDATE wallets SET balance = balance + 1 WHERE id = $1`, [wallet.id]);
        violations = await checkLedgerInvariants(sql);
        throw new Rollback();
      }),
    ).rejects.toBeInstanceOf(Rollback);

    expect(violations).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ invariant: 'wallet balance equals the sum of its ledger lines', subject: wallet.id }),
        expect.objectContaining({
          invariant: 'the latest balance_after of a wallet equals its balance',
          subject: wallet.id,
        }),
      ]),
    );
    // rolled back: the books are sound again
    expect((await checkLedgerInvariants(ds.sql)).filter((v) => v.subject === wallet.id)).toEqual([]);
  });
});
