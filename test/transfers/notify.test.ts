import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Store } from '../../db/store';
import { NOTIFICATION_STREAM, notifyParties } from '../../domain/transfers/notify';
import { postTransfer } from '../../domain/transfers/post';
import { applyStateChange } from '../../domain/transfers/records';
import { reserveFunds } from '../../domain/transfers/reserve';
import { checkLedgerInvariants } from '../../domain/invariants';
import { createTestStore, testConfig } from '../support/env';
import { makeWallet } from '../support/wallets';
import { query } from '../support/sql';

/**
 * The notify step on its own: it records both notifications and completes the transfer in one
 * transaction, then publishes. A retry after Redis failed publishes what the first attempt left
 * unpublished, exactly once, and does not complete the transfer twice.
 */
describe('notify step', () => {
  let ds: Store;
  let redis: Redis;
  const prefix = `${testConfig().REDIS_KEY_PREFIX}notify-${randomUUID().slice(0, 8)}:`;

  beforeAll(async () => {
    ds = await createTestStore();
    redis = new Redis(testConfig().REDIS_URL, { keyPrefix: prefix });
  });

  afterAll(async () => {
    if (ds) expect(await checkLedgerInvariants(ds.sql)).toEqual([]);
    await redis?.del(NOTIFICATION_STREAM);
    redis?.disconnect();
    await ds?.close();
  });

  /** A transfer taken through the real reserve and ledger steps (no saga), so the books stay consistent. */
  async function postedTransfer() {
    // one customer's two wallets: a same-shard transfer, both parties in this database
    const ownerId = `notify-${randomUUID()}`;
    const from = await makeWallet(ds, { balance: 1_000n, ownerId });
    const to = await makeWallet(ds, { ownerId });
    const id = randomUUID();
    await query(
      ds,
      `INSERT INTO transfers (id, caller_id, idempotency_key, request_hash, from_wallet_id, to_wallet_id, amount, currency, workflow_id)
       VALUES ($1, 'notify-test', $2, 'h', $3, $4, 250, 'EUR', $5)`,
      [id, id, from.id, to.id, `transfer-${id}`],
    );
    const t = { transferId: id, fromWalletId: from.id, toWalletId: to.id, amount: 250n, currency: 'EUR' };
    await reserveFunds(ds, t);
    await applyStateChange(ds.sql, { transferId: id, status: 'ACCOUNTED', expectedStatus: 'RESERVED' });
    expect(await postTransfer(ds, t)).toBe('posted');
    return t;
  }

  const published = async (transferId: string) =>
    (await redis.xrange(NOTIFICATION_STREAM, '-', '+')).filter(([, fields]) => fields.join(' ').includes(transferId));

  it('records, completes and publishes both notifications once', async () => {
    const t = await postedTransfer();
    const first = await notifyParties(ds, redis, t);
    expect(first.published).toBe(2);
    expect(first.completed).toMatchObject({ previousStatus: 'POSTED', status: 'COMPLETED' });
    const again = await notifyParties(ds, redis, t);
    expect(again).toEqual({ published: 0, completed: null });
    expect(await published(t.transferId)).toHaveLength(2);
  });

  it("completes a posted transfer whose row a dead worker's late statement set back to NEEDS_ATTENTION", async () => {
    const t = await postedTransfer();
    // a park's status write sent by a worker killed while the database was frozen: it lands on thaw,
    // after the retried steps had posted (the saga knows better; the row is its read model)
    await applyStateChange(ds.sql, { transferId: t.transferId, status: 'NEEDS_ATTENTION', step: 'accounting' });
    const done = await notifyParties(ds, redis, t);
    expect(done.completed).toMatchObject({ previousStatus: 'NEEDS_ATTENTION', status: 'COMPLETED' });
    const [row] = await query(ds, `SELECT status, finished_at IS NOT NULL AS finished FROM transfers WHERE id = $1`, [
      t.transferId,
    ]);
    expect(row).toEqual({ status: 'COMPLETED', finished: true });
  });

  it('publishes on a retry what an attempt left unpublished when Redis failed', async () => {
    const t = await postedTransfer();
    const down = new Redis({
      port: 1,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    try {
      await expect(notifyParties(ds, down, t)).rejects.toThrow();
    } finally {
      down.disconnect();
    }
    // the transaction had committed: recorded and completed, nothing published yet
    const rows: Array<{ published: boolean }> = await query(
      ds,
      `SELECT published_at IS NOT NULL AS published FROM notifications WHERE transfer_id = $1`,
      [t.transferId],
    );
    expect(rows).toEqual([{ published: false }, { published: false }]);
    const [row] = await query(ds, `SELECT status FROM transfers WHERE id = $1`, [t.transferId]);
    expect(row).toEqual({ status: 'COMPLETED' });

    const retry = await notifyParties(ds, redis, t);
    expect(retry).toEqual({ published: 2, completed: null });
    expect(await published(t.transferId)).toHaveLength(2);
  });
});
