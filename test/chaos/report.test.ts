import { emptyRecord, type ChaosRecord, type TransferRequestRecord } from '../../scripts/chaos/record';
import {
  parksInLogs,
  shardOutageAnswersTable,
  shardOutageTable,
  type ParkEvent,
  type TimedTransfer,
} from '../../scripts/chaos/report';

/** A request the client was answered for with transfer `id`, needing `databases`. */
function requested(id: string, databases: string[]): TransferRequestRecord {
  return {
    callerId: 'c',
    idempotencyKey: id,
    fromWalletId: 'from',
    toWalletId: 'to',
    amount: 1n,
    currency: 'EUR',
    intent: 'normal',
    route: databases.includes('db-1') ? 'cross-database' : 'cross-shard',
    databases,
    sentAt: 0,
    answers: [{ status: 202, transferId: id, code: null }],
    duplicated: false,
    reusedKeyAnswer: null,
  };
}

/**
 * A 20 s fault phase: db-1 stopped for its first 10 s, a worker killed meanwhile and after (worker
 * kills run throughout, so they do not make time "inside an outage").
 */
function world(): { record: ChaosRecord; transfers: TimedTransfer[]; parks: ParkEvent[] } {
  const record = emptyRecord(1);
  record.faultPhase = { from: 0, to: 20_000 };
  record.faults = [
    { kind: 'shard-stop', startedAt: 0, healedAt: 10_000, detail: 'pg-1', database: 'db-1' },
    { kind: 'worker-kill', startedAt: 5_000, healedAt: 15_000, detail: 'worker-1' },
  ];
  const transfers: TimedTransfer[] = [];
  let n = 0;
  const done = (databases: string[], finishedAt: number, status = 'COMPLETED') => {
    const id = `t${++n}`;
    record.transfers.push(requested(id, databases));
    transfers.push({ id, status, createdAt: finishedAt - 100, finishedAt });
  };
  const others = ['db-0', 'accounting'];
  const touching = ['db-0', 'db-1', 'accounting'];
  for (const at of [1_000, 2_000, 3_000, 4_000, 9_000]) done(others, at);
  done(touching, 9_500);
  for (const at of [11_000, 12_000, 19_000]) done(others, at);
  for (const at of [13_000, 14_000, 15_000, 16_000]) done(touching, at);
  done(others, 17_000, 'CANCELLED');
  // parked: t6 (touching db-1) during the outage, t1 (not touching) too, t10 (touching) long after
  const parks: ParkEvent[] = [
    { transferId: 't6', at: 8_000, step: 'credit', reason: 'database db-1 is unavailable' },
    { transferId: 't1', at: 8_500, step: 'accounting', reason: 'limit' },
    { transferId: 't10', at: 19_000, step: 'accounting', reason: 'accounting system unavailable' },
  ];
  return { record, transfers, parks };
}

describe('chaos report: is a shard outage local', () => {
  it('sets completed/s of the transfers that do not touch the database out beside their rate outside outages', () => {
    const { record, transfers, parks } = world();
    expect(shardOutageTable(record, transfers, parks).split('\n').slice(2)).toEqual([
      // not touching db-1: 5 in 10 s during, 3 in the 10 s after; touching it: 1 during, 4 after; 1 parked
      expect.stringMatching(/^shard-stop db-1 \(1×\)\s+10\.0\s+0\.5\s+0\.3\s+0\.1\s+0\.4\s+1$/),
      'every transfer outside outages: 0.7 completed/s over 10.0 s (worker kills run throughout)',
      'parked during shard-stop db-1: credit: database db-1 is unavailable (1×)',
    ]);
  });

  it('says so when no wallet shard database was taken away', () => {
    const { record, transfers, parks } = world();
    record.faults = record.faults.filter((f) => f.kind !== 'shard-stop');
    expect(shardOutageTable(record, transfers, parks)).toBe('(no wallet shard database was taken away)');
  });

  it("reads the parks from the workers' JSON logs", () => {
    const parked = 'transfer parked: step exhausted its retry budget';
    const line = (o: object) => JSON.stringify({ level: 50, service: 'wallet-worker', ...o });
    const logs = [
      [
        line({ time: 2_000, transferId: 't2', step: 'credit', reason: 'database db-1 is unavailable', msg: parked }),
        line({ time: 1_500, transferId: 't9', msg: 'finance retries the parked step' }),
        'not json: transfer parked',
      ].join('\n'),
      line({ time: 1_000, transferId: 't1', step: 'accounting', reason: 'x', msg: parked }),
    ];
    expect(parksInLogs(logs)).toEqual([
      { transferId: 't1', at: 1_000, step: 'accounting', reason: 'x' },
      { transferId: 't2', at: 2_000, step: 'credit', reason: 'database db-1 is unavailable' },
    ]);
  });

  it('lists the answers that were not definite to requests sent during a shard outage, with their times', () => {
    const { record } = world();
    record.http = [
      { at: 3_000, method: 'POST', route: 'POST /v1/transfers', status: 503, code: 'SHARD_UNAVAILABLE', ms: 10 },
      { at: 4_000, method: 'POST', route: 'POST /v1/transfers', status: 503, code: 'SHARD_UNAVAILABLE', ms: 30 },
      // sent at 3 s, hung through the heal: counted where it was sent
      { at: 18_000, method: 'GET', route: 'GET /v1/wallets/:id', status: 0, code: null, ms: 15_000 },
      { at: 5_000, method: 'GET', route: 'GET /v1/wallets/:id', status: 200, code: null, ms: 5 },
      // sent after the heal
      { at: 12_000, method: 'POST', route: 'POST /v1/transfers', status: 503, code: 'SERVICE_UNAVAILABLE', ms: 5 },
    ];
    expect(shardOutageAnswersTable(record).split('\n')).toEqual([
      'during shard outages: answer  count  p50 ms  p99 ms',
      '----------------------------  -----  ------  ------',
      '503 SHARD_UNAVAILABLE             2      10      30',
      'no answer                         1   15000   15000',
    ]);
  });
});
