import fs from 'node:fs';
import path from 'node:path';
import { HISTORIES_DIR, RECORDED_VERSION, replayRecordedHistories } from '../support/histories';
import {
  COMPENSATE_FROM_THE_BOOKS_PATCH,
  CROSS_SHARD_PATCH,
  DURABLE_DECISION_PATCH,
} from '../../workflows/transfer-saga';
import { CROSS_SHARD_FIXTURES } from './helpers';
import { SAGA_V2_PATCH } from '../../workflows/transfer';

/**
 * Determinism: every recorded saga history (happy path, rejection, compensation, parking with
 * retry / cancel / deadline, …) of every version must replay on the current workflow code without a
 * non-determinism error. The unprefixed files are Saga v1 (recorded before the `saga-v2` patch: they
 * take the v1 path), the `v2-` ones Saga v2. `RECORD_HISTORIES=1 npx jest test/transfers/saga` rewrites
 * the files of the current version (RECORDED_VERSION); a change to the command sequence ships behind a new patch id with fixtures of its own,
 * and the older files stay as they are. The `v2.2-cross-shard-` ones are transfers between two logical shards
 * (the cross-shard patch), recorded by `RECORD_HISTORIES=1 npx jest test/transfers/cross-shard`: completed,
 * returned (the receiving shard refused the credit) and waited-for-store (the receiver's database was down).
 */
describe('transfer workflow replay', () => {
  const files = fs
    .readdirSync(HISTORIES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort();

  it('has recorded histories of the saga scenarios to replay', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'completed.json',
        'rejected-insufficient-funds.json',
        'cancelled-receiver-frozen.json',
        'cancelled-limit-exceeded.json',
        'parked-then-retried.json',
        'parked-then-cancelled.json',
        'parked-deadline-passed.json',
        ...[
          'completed',
          'rejected-insufficient-funds',
          'cancelled-receiver-frozen',
          'cancelled-limit-exceeded',
          'parked-then-retried',
          'parked-then-cancelled',
          'parked-deadline-passed',
        ].flatMap((name) => [`v2-${name}.json`, `${RECORDED_VERSION}-${name}.json`]),
        ...['completed', 'returned', 'waited-for-store'].map((name) => `${CROSS_SHARD_FIXTURES}-${name}.json`),
      ]),
    );
  });

  it('replays every recorded history without non-determinism', async () => {
    const { replayed, failures } = await replayRecordedHistories(HISTORIES_DIR, files);
    expect(failures).toEqual([]);
    expect(replayed).toBe(files.length);
  });

  it('takes the path each history was recorded on: v1 without patches, v2 with saga-v2 only, v2.1 with the later patches where the scenario reaches them, cross-shard ones with the cross-shard patch', () => {
    const patchesOf = (file: string) => {
      const history = JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, file), 'utf8')) as {
        events: Array<{
          markerRecordedEventAttributes?: {
            markerName?: string;
            details?: Record<string, { payloads?: Array<{ data?: string }> }>;
          };
        }>;
      };
      return history.events
        .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
        .map((e) => e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data)
        .map((data) => (data ? (JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { id: string }).id : null));
    };
    /** v2.1 scenarios that compensate (a cancel, a refusal after reserve, a deadline) and that carry a finance decision */
    const compensates = [
      'cancelled-limit-exceeded',
      'cancelled-receiver-frozen',
      'parked-then-cancelled',
      'parked-deadline-passed',
    ];
    const decides = ['parked-then-retried', 'parked-then-cancelled'];
    for (const file of files) {
      const name = path.basename(file, '.json');
      const scenario = name.replace(/^v2(\.1)?-/, '');
      const expected = name.startsWith(`${CROSS_SHARD_FIXTURES}-`)
        ? [SAGA_V2_PATCH, CROSS_SHARD_PATCH]
        : name.startsWith(`${RECORDED_VERSION}-`)
          ? [
              SAGA_V2_PATCH,
              ...(decides.includes(scenario) ? [DURABLE_DECISION_PATCH] : []),
              ...(compensates.includes(scenario) ? [COMPENSATE_FROM_THE_BOOKS_PATCH] : []),
            ]
          : name.startsWith('v2-')
            ? [SAGA_V2_PATCH]
            : [];
      expect({ file, patches: patchesOf(file).sort() }).toEqual({ file, patches: expected.sort() });
    }
  });
});
