import type { Store } from '../../db/store';
import { postEntry } from '../ledger';
import { captureHold } from './reserve';
import { applyStateChange } from './records';
import type { TransferDetails } from './transfer';

/**
 * Step 3: capture the hold and post sender → receiver as one journal entry, in one transaction.
 * Idempotent by transfer id: the entry's reference is 'transfer:<id>' (unique), and a captured
 * hold means the work is done. A receiver that cannot take the money (frozen, closed) fails the
 * whole transaction, leaving the hold active for the saga to release.
 */
export async function postTransfer(store: Store, t: TransferDetails): Promise<'posted' | 'already-posted'> {
  return store.transaction(async (sql) => {
    const posted = () =>
      applyStateChange(sql, {
        transferId: t.transferId,
        status: 'POSTED',
        expectedStatus: 'ACCOUNTED',
        step: 'ledger',
        stepState: 'done',
      });
    if ((await captureHold(sql, t.transferId)) === 'already-captured') {
      await posted();
      return 'already-posted';
    }
    await postEntry(sql, {
      entryId: t.transferId,
      kind: 'transfer',
      reference: `transfer:${t.transferId}`,
      transferId: t.transferId,
      currency: t.currency,
      description: t.description ?? null,
      lines: [
        { walletId: t.fromWalletId, mode: 'capture', amount: t.amount },
        { walletId: t.toWalletId, mode: 'credit', amount: t.amount },
      ],
    });
    await posted();
    return 'posted';
  });
}
