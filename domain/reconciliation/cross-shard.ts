import type { ShardDatabase, ShardSet } from '../../db/shards';
import { shardOfId } from '../shards';
import type { Discrepancy } from './results';

/**
 * A transfer stuck between its debit and its credit (or return) longer than this is reported: well past
 * the couple of minutes a step's attempts last before a same-shard transfer would park
 * (TRANSFER_STEP_MAX_ATTEMPTS), so what is reported is a saga that no longer moves, not one retrying.
 */
export const CROSS_SHARD_STUCK_SECONDS = 15 * 60;

/** A transfers row of the sender's database, as the transfers check reads it (with its legs there). */
export interface SenderSideTransfer {
  id: string;
  status: string;
  amount: string;
  currency: string;
  from_wallet_id: string;
  to_wallet_id: string;
  from_shard: number;
  to_shard: number;
  /** its row has not changed for CROSS_SHARD_STUCK_SECONDS */
  quiet: boolean;
  /** its transfer_debit entry (sender → clearing) is here */
  debited: boolean;
  /** its transfer_return entry (clearing → sender) is here */
  returned: boolean;
}

interface ReceiverSide {
  id: string;
  /** the receiving shard's decision: credited, refused, or none yet (null) */
  incoming_status: 'credited' | 'refused' | null;
  incoming_amount: string | null;
  incoming_currency: string | null;
  incoming_to: string | null;
  /** its transfer_credit entry (clearing → receiver) */
  credited: boolean;
}

/** Statuses a transfer reaches only through its debit. */
const PAST_DEBIT = new Set(['DEBITED', 'POSTED', 'COMPLETED', 'RETURNED']);
/** Statuses a transfer never has once its debit is posted (the debit is the point of no return). */
const BEFORE_DEBIT = new Set(['PENDING', 'RESERVED', 'ACCOUNTED', 'REJECTED', 'CANCELLED']);

/**
 * The legs of the cross-shard transfers of a page of the sender's database: the sender's side as read
 * with the page, then the receivers' side (incoming_transfers and the credit entry) from each receiver's
 * database. Read in that order, a status seen implies its legs are visible: a row is POSTED only after
 * its credit committed, RETURNED only after the refusal did.
 */
export async function checkCrossShardTransfers(
  shards: ShardSet,
  sender: ShardDatabase,
  transfers: SenderSideTransfer[],
): Promise<Discrepancy[]> {
  const byReceiver = new Map<ShardDatabase, SenderSideTransfer[]>();
  for (const t of transfers) {
    const db = shards.forShard(t.to_shard);
    byReceiver.set(db, [...(byReceiver.get(db) ?? []), t]);
  }
  const found: Discrepancy[] = [];
  for (const [receiver, group] of byReceiver) {
    const { rows } = await receiver.store.sql<ReceiverSide>(
      `SELECT x.id::text AS id, i.status AS incoming_status, i.amount::text AS incoming_amount,
              i.currency AS incoming_currency, i.to_wallet_id::text AS incoming_to,
              EXISTS (SELECT 1 FROM journal_entries e WHERE e.transfer_id = x.id AND e.kind = 'transfer_credit') AS credited
         FROM unnest($1::uuid[]) AS x(id) LEFT JOIN incoming_transfers i ON i.transfer_id = x.id`,
      [group.map((t) => t.id)],
    );
    const sides = new Map(rows.map((r) => [r.id, r]));
    for (const t of group) found.push(...judge(t, sides.get(t.id)!, sender.name, receiver.name));
  }
  return found;
}

function judge(t: SenderSideTransfer, r: ReceiverSide, senderDb: string, receiverDb: string): Discrepancy[] {
  const found: Discrepancy[] = [];
  const at = (side: 'sender' | 'receiver') =>
    side === 'sender'
      ? { database: senderDb, logicalShard: String(t.from_shard) }
      : { database: receiverDb, logicalShard: String(t.to_shard) };
  const report = (kind: Discrepancy['kind'], side: 'sender' | 'receiver', detail: string) =>
    found.push({
      kind,
      subject: t.id,
      ids: {
        transferId: t.id,
        ...at(side),
        senderDatabase: senderDb,
        senderShard: String(t.from_shard),
        receiverDatabase: receiverDb,
        receiverShard: String(t.to_shard),
      },
      detail: `${t.status} ${t.amount} ${t.currency}: ${detail}`,
    });

  if (PAST_DEBIT.has(t.status) && !t.debited) report('cross_shard_debit_missing', 'sender', `no transfer_debit entry`);
  if (BEFORE_DEBIT.has(t.status) && (t.debited || t.returned)) {
    report('cross_shard_debit_unexpected', 'sender', `a ${t.returned ? 'return' : 'debit'} entry is posted`);
  }
  const creditLanded = r.incoming_status === 'credited' && r.credited;
  if ((t.status === 'POSTED' || t.status === 'COMPLETED') && !creditLanded) {
    report(
      'cross_shard_credit_missing',
      'receiver',
      `incoming_transfers ${r.incoming_status ?? 'absent'}, transfer_credit entry ${r.credited ? 'posted' : 'absent'}`,
    );
  }
  if (t.status === 'RETURNED') {
    const missing = [
      ...(r.incoming_status === 'refused' ? [] : [`incoming_transfers ${r.incoming_status ?? 'absent'}, not refused`]),
      ...(t.returned ? [] : ['no transfer_return entry']),
    ];
    if (missing.length > 0)
      report('cross_shard_return_missing', t.returned ? 'receiver' : 'sender', missing.join('; '));
  }
  // the money must land exactly once: a credit and a return, or a credit under another amount, moves it twice or wrong
  if (r.credited && t.returned) report('cross_shard_leg_mismatch', 'receiver', 'both credited and returned');
  else if (r.incoming_status === 'refused' && r.credited) {
    report('cross_shard_leg_mismatch', 'receiver', 'refused, yet a transfer_credit entry is posted');
  } else if (
    r.incoming_status !== null &&
    (r.incoming_amount !== t.amount || r.incoming_currency !== t.currency || r.incoming_to !== t.to_wallet_id)
  ) {
    report(
      'cross_shard_leg_mismatch',
      'receiver',
      `incoming_transfers says ${r.incoming_amount} ${r.incoming_currency} to ${r.incoming_to}`,
    );
  }
  // debited, neither credited nor returned (or credited while the row still says DEBITED) for too long
  const inFlight =
    t.status === 'DEBITED' || (['NEEDS_ATTENTION', 'COMPENSATING'].includes(t.status) && t.debited && !t.returned);
  if (inFlight && t.quiet) {
    const where = creditLanded
      ? 'credited, the sender row still DEBITED'
      : r.incoming_status === 'refused'
        ? 'refused, the return not posted'
        : 'no credit yet';
    report(
      'cross_shard_transfer_stuck',
      creditLanded || r.incoming_status === 'refused' ? 'sender' : 'receiver',
      `debited, ${where}, for over ${CROSS_SHARD_STUCK_SECONDS / 60} minutes`,
    );
  }
  return found;
}

/** Whether a transfer crosses logical shards (its debit and credit are two entries on two shards). */
export function crossesShards(t: { from_wallet_id: string; to_wallet_id: string }): boolean {
  return shardOfId(t.from_wallet_id) !== shardOfId(t.to_wallet_id);
}
