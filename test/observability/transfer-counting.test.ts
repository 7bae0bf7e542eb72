import { randomUUID } from 'node:crypto';
import type { ShardSet } from '../../db/shards';
import type { Store } from '../../db/store';
import { transferStateActivities } from '../../activities/transfer-state';
import type { ActivityDeps } from '../../activities';
import { createWorkerMetrics } from '../../observability/metrics';
import { createTestShards } from '../support/env';
import { makeWallet } from '../support/wallets';
import { parseMetrics, valueOf } from './helpers';
import { query } from '../support/sql';

/**
 * transfers_total and transfer_duration_seconds count a transition once, however often Temporal
 * runs the activity that writes it (a retried attempt whose first try committed finds the row moved
 * already): the counts follow the row, not the calls.
 */
describe('counting transfer transitions', () => {
  let shards: ShardSet;
  // the transfer rows here have random (v4) ids: shard 0, on database 0 (domain/shards.ts)
  let ds: Store;

  beforeAll(async () => {
    shards = await createTestShards();
    ds = shards.home.store;
  });
  afterAll(async () => {
    await shards?.close();
  });

  async function pendingTransfer(): Promise<string> {
    const from = await makeWallet(ds, { balance: 100n });
    const to = await makeWallet(ds);
    const id = randomUUID();
    await query(
      ds,
      `INSERT INTO transfers (id, caller_id, idempotency_key, request_hash, from_wallet_id, to_wallet_id, amount, currency, workflow_id)
       VALUES ($1, 'counting', $2, 'h', $3, $4, 10, 'EUR', $5)`,
      [id, `key-${id}`, from.id, to.id, `transfer-${id}`],
    );
    return id;
  }

  it('counts each status a transfer reaches once, however often the write is repeated', async () => {
    const metrics = createWorkerMetrics();
    const { recordTransferState } = transferStateActivities({ shards, metrics } as unknown as ActivityDeps);
    const transferId = await pendingTransfer();
    const failure = { step: 'accounting' as const, code: 'STEP_RETRIES_EXHAUSTED', reason: 'accounting unavailable' };

    await recordTransferState({ transferId, status: 'NEEDS_ATTENTION', failure });
    await recordTransferState({ transferId, status: 'NEEDS_ATTENTION', failure }); // the retried attempt
    await recordTransferState({ transferId, status: 'RESERVED', failure: null, expectedStatus: 'NEEDS_ATTENTION' }); // finance: retry
    await recordTransferState({ transferId, status: 'NEEDS_ATTENTION', failure }); // parked a second time
    // (CANCELLED, not COMPLETED: this row has no ledger entry, and the shared database's invariants are checked)
    await recordTransferState({ transferId, status: 'CANCELLED', failure });
    await recordTransferState({ transferId, status: 'CANCELLED', failure });
    await recordTransferState({ transferId, status: 'COMPLETED', step: 'notify', stepState: 'done' }); // a terminal row never moves again

    const { samples } = parseMetrics(await metrics.registry.metrics());
    expect(valueOf(samples, 'transfers_total', { status: 'NEEDS_ATTENTION' })).toBe(2);
    expect(valueOf(samples, 'transfers_total', { status: 'CANCELLED' })).toBe(1);
    expect(valueOf(samples, 'transfers_total', { status: 'COMPLETED' })).toBe(0);
    expect(valueOf(samples, 'transfer_duration_seconds_count', { status: 'CANCELLED' })).toBe(1);
    expect(valueOf(samples, 'transfer_duration_seconds_count', { status: 'NEEDS_ATTENTION' })).toBeUndefined();
    const [row] = await query(
      ds,
      `SELECT extract(epoch FROM finished_at - created_at)::float8 AS s FROM transfers WHERE id = $1`,
      [transferId],
    );
    expect(valueOf(samples, 'transfer_duration_seconds_sum', { status: 'CANCELLED' })).toBeCloseTo(
      (row as { s: number }).s,
      2,
    ); // Date: milliseconds
  });
});
