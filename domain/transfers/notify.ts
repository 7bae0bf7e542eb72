import type { Redis } from 'ioredis';
import type { Store } from '../../db/store';
import { formatAmount } from '../money';
import { applyStateChange, type AppliedStateChange } from './records';
import type { TransferDetails } from './transfer';

/** The Redis stream of notifications (under the service's REDIS_KEY_PREFIX). */
export const NOTIFICATION_STREAM = 'notifications';

interface NotificationRow {
  id: string;
  transfer_id: string;
  wallet_id: string;
  recipient_id: string;
  kind: string;
  payload: Record<string, unknown>;
}

/**
 * Step 4: tell both parties. The notifications are recorded once per (transfer, kind) in
 * Postgres, in the transaction that completes the transfer (POSTED → COMPLETED), then published to
 * a Redis stream and marked published. Publishing is at-least-once (a crash between XADD and the
 * mark re-publishes): consumers dedupe on the notification id.
 */
export async function notifyParties(
  store: Store,
  redis: Redis,
  t: TransferDetails,
): Promise<{ published: number; completed: AppliedStateChange | null }> {
  const { completed, inserted } = await store.transaction(async (sql) => {
    const text = formatAmount(t.amount, t.currency);
    const inserted = await sql<NotificationRow>(
      `INSERT INTO notifications (transfer_id, wallet_id, recipient_id, kind, payload)
       SELECT $1::uuid, w.id, w.owner_id, k.kind, jsonb_build_object('transferId', $1::text, 'walletId', w.id::text,
              'amount', $4::text, 'currency', $5::text, 'text', k.verb || ' ' || $6::text)
         FROM (VALUES ($2::uuid, 'transfer.sent', 'You sent'), ($3::uuid, 'transfer.received', 'You received'))
              AS k (wallet_id, kind, verb)
         JOIN wallets w ON w.id = k.wallet_id
       ON CONFLICT (transfer_id, kind) DO NOTHING
       RETURNING id, transfer_id, wallet_id, recipient_id, kind, payload`,
      [t.transferId, t.fromWalletId, t.toWalletId, t.amount.toString(), t.currency, text],
    );
    const completed = await applyStateChange(sql, {
      transferId: t.transferId,
      status: 'COMPLETED',
      expectedStatus: 'POSTED',
      step: 'notify',
      stepState: 'done',
    });
    return { completed, inserted: inserted.rows };
  });
  const { sql } = store;
  // both recorded just now: publish them; else (a retry) whatever an earlier attempt left unpublished
  const rows =
    inserted.length === 2
      ? inserted
      : (
          await sql<NotificationRow>(
            `SELECT id, transfer_id, wallet_id, recipient_id, kind, payload FROM notifications
              WHERE transfer_id = $1 AND published_at IS NULL ORDER BY kind`,
            [t.transferId],
          )
        ).rows;
  if (rows.length > 0) {
    // one round trip for both parties; marked published only once Redis took them all
    const pipeline = redis.pipeline();
    for (const n of rows) {
      pipeline.xadd(
        NOTIFICATION_STREAM,
        'MAXLEN',
        '~',
        '100000',
        '*',
        'id',
        n.id,
        'kind',
        n.kind,
        'recipientId',
        n.recipient_id,
        'payload',
        JSON.stringify(n.payload),
      );
    }
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed || results.length !== rows.length)
      throw failed?.[0] ?? new Error('notification stream did not take every message');
    await sql(`UPDATE notifications SET published_at = now() WHERE id = ANY($1::uuid[])`, [rows.map((n) => n.id)]);
  }
  return { published: rows.length, completed };
}
