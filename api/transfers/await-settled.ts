import type { DataSource } from 'typeorm';
import type { TransferEntity } from '../../db/entities/transfer.entity';
import { getTransfer } from '../../domain/transfers/records';
import { TERMINAL_STATUSES } from '../../domain/transfer-status';

/** Settled for a caller: finished, or parked waiting for finance. */
export function isSettled(t: TransferEntity): boolean {
  return TERMINAL_STATUSES.includes(t.status) || t.status === 'NEEDS_ATTENTION';
}

/**
 * `Prefer: wait=N`: polls the transfer row (the saga's read model) with a growing interval until it
 * settles or N seconds pass. Polling the row keeps the API stateless: any API instance can answer.
 */
export async function awaitSettled(db: DataSource, id: string, waitSeconds: number): Promise<TransferEntity> {
  const deadline = Date.now() + waitSeconds * 1000;
  let interval = 25;
  for (;;) {
    const t = await getTransfer(db, id);
    const left = deadline - Date.now();
    if (isSettled(t) || left <= 0) return t;
    await new Promise((r) => setTimeout(r, Math.min(interval, left)));
    interval = Math.min(interval * 2, 250);
  }
}
