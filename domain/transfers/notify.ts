import type { Redis } from 'ioredis';
import type { Sql } from '../../db/sql';
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

type NotificationKind = 'transfer.sent' | 'transfer.received';

/** Who is told what: the sender that it sent, the receiver that it received. */
const PARTIES: Record<NotificationKind, { verb: string; walletOf: (t: TransferDetails) => string }> = {
  'transfer.sent': { verb: 'You sent', walletOf: (t) => t.fromWalletId },
  'transfer.received': { verb: 'You received', walletOf: (t) => t.toWalletId },
};

/**
 * Records the notifications of `kinds` once per (transfer, kind), for the wallets of this database (a
 * party whose wallet is not here gets none from it). Returns the rows recorded by this call.
 */
async function recordNotifications(
  sql: Sql,
  t: TransferDetails,
  kinds: NotificationKind[],
): Promise<NotificationRow[]> {
  const params: unknown[] = [t.transferId, t.amount.toString(), t.currency, formatAmount(t.amount, t.currency)];
  const values = kinds.map((kind) => {
    const n = params.push(PARTIES[kind].walletOf(t), kind, PARTIES[kind].verb);
    return `($${n - 2}::uuid, $${n - 1}::text, $${n}::text)`;
  });
  const { rows } = await sql<NotificationRow>(
    `INSERT INTO notifications (transfer_id, wallet_id, recipient_id, kind, payload)
     SELECT $1::uuid, w.id, w.owner_id, k.kind, jsonb_build_object('transferId', $1::text, 'walletId', w.id::text,
            'amount', $2::text, 'currency', $3::text, 'text', k.verb || ' ' || $4::text)
       FROM (VALUES ${values.join(', ')}) AS k (wallet_id, kind, verb)
       JOIN wallets w ON w.id = k.wallet_id
     ON CONFLICT (transfer_id, kind) DO NOTHING
     RETURNING id, transfer_id, wallet_id, recipient_id, kind, payload`,
    params,
  );
  return rows;
}

/** What a database still has to publish of the transfer's notifications of `kinds`. */
async function unpublishedNotifications(
  sql: Sql,
  transferId: string,
  kinds: NotificationKind[],
): Promise<NotificationRow[]> {
  const { rows } = await sql<NotificationRow>(
    `SELECT id, transfer_id, wallet_id, recipient_id, kind, payload FROM notifications
      WHERE transfer_id = $1 AND kind = ANY($2::text[]) AND published_at IS NULL ORDER BY kind`,
    [transferId, kinds],
  );
  return rows;
}

/** One round trip to the stream for every row; throws unless Redis took them all. */
async function publishNotifications(redis: Redis, rows: NotificationRow[]): Promise<void> {
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
}

async function markPublished(sql: Sql, rows: NotificationRow[]): Promise<void> {
  if (rows.length > 0) {
    await sql(`UPDATE notifications SET published_at = now() WHERE id = ANY($1::uuid[])`, [rows.map((n) => n.id)]);
  }
}

/**
 * COMPLETED over whatever non-terminal status the row shows: the saga calls notify only once the money
 * is posted, so it knows better than the row, which a late statement can have set back (a status write
 * sent by a worker killed while its database was frozen lands when the database thaws). Made
 * conditional on POSTED, such a write left a completed transfer NEEDS_ATTENTION for good.
 */
const completeTransfer = (sql: Sql, t: TransferDetails) =>
  applyStateChange(sql, {
    transferId: t.transferId,
    status: 'COMPLETED',
    step: 'notify',
    stepState: 'done',
  });

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
  const both: NotificationKind[] = ['transfer.sent', 'transfer.received'];
  const { completed, inserted } = await store.transaction(async (sql) => {
    const inserted = await recordNotifications(sql, t, both);
    return { completed: await completeTransfer(sql, t), inserted };
  });
  // both recorded just now: publish them; else (a retry) whatever an earlier attempt left unpublished
  const rows = inserted.length === 2 ? inserted : await unpublishedNotifications(store.sql, t.transferId, both);
  if (rows.length > 0) {
    // marked published only once Redis took them all
    await publishNotifications(redis, rows);
    await markPublished(store.sql, rows);
  }
  return { published: rows.length, completed };
}

/**
 * Step 4 of a cross-shard transfer: each party's notification on its own wallet's database. The
 * receiver's first (one statement), then the sender's in the transaction that completes the transfer
 * (POSTED → COMPLETED, on the sender's database), so a COMPLETED transfer has both. Then both are
 * published and marked, each on its database, as notifyParties does.
 */
export async function notifyAcrossShards(
  sender: Store,
  receiver: Store,
  redis: Redis,
  t: TransferDetails,
): Promise<{ published: number; completed: AppliedStateChange | null }> {
  const received = await recordNotifications(receiver.sql, t, ['transfer.received']);
  const { completed, sent } = await sender.transaction(async (sql) => {
    const sent = await recordNotifications(sql, t, ['transfer.sent']);
    return { completed: await completeTransfer(sql, t), sent };
  });
  // recorded just now, or (a retry) what an earlier attempt left unpublished; each side reads only its
  // own kind, as both logical shards may share one database
  const receiverRows =
    received.length > 0 ? received : await unpublishedNotifications(receiver.sql, t.transferId, ['transfer.received']);
  const senderRows =
    sent.length > 0 ? sent : await unpublishedNotifications(sender.sql, t.transferId, ['transfer.sent']);
  const rows = [...senderRows, ...receiverRows];
  if (rows.length > 0) {
    await publishNotifications(redis, rows);
    await markPublished(receiver.sql, receiverRows);
    await markPublished(sender.sql, senderRows);
  }
  return { published: rows.length, completed };
}
