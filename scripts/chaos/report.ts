import type { ChaosRecord, FaultEvent, FaultKind, TransferRequestRecord } from './record';
import { FAULT_KINDS, OUTAGES } from './record';

/** After a fault is healed, errors may still trail it for this long (pools reconnecting, leases expiring). */
export const FAULT_WINDOW_GRACE_MS = 5000;

export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export function faultTable(events: FaultEvent[]): string {
  const rows = FAULT_KINDS.map((kind) => {
    const of = events.filter((e) => e.kind === kind);
    const down = of.reduce((s, e) => s + ((e.healedAt ?? e.startedAt) - e.startedAt), 0) / 1000;
    return [kind, of.length, down > 0 ? down.toFixed(1) : '-'];
  });
  return table(['fault', 'injected', 'seconds'], rows);
}

/** The faults that take a process or dependency away: a 5xx during one (or just after) is expected. */
const OUTAGE_KINDS: readonly FaultKind[] = ['worker-kill', ...OUTAGES];

/** The outages that take one wallet shard database away for a while, measured for locality. */
const SHARD_OUTAGE_KINDS: readonly FaultKind[] = ['shard-stop', 'shard-freeze'];

/** Which fault windows (start → heal + grace) a moment falls in; 'none' when no fault was active. */
function windowsAt(events: FaultEvent[], at: number): FaultKind[] | ['none'] {
  const kinds = new Set<FaultKind>();
  for (const e of events) {
    if (!OUTAGE_KINDS.includes(e.kind)) continue; // business faults (freezes, decisions, cancels) take nothing down
    if (at >= e.startedAt && at <= (e.healedAt ?? Infinity) + FAULT_WINDOW_GRACE_MS) kinds.add(e.kind);
  }
  return kinds.size > 0 ? [...kinds] : ['none'];
}

export interface ErrorsByWindow {
  rows: Array<{ window: string; status5xx: number; network: number }>;
  outsideAnyWindow: Array<{ at: number; route: string; status: number }>;
}

/** 5xx answers and network errors (no answer, timeout) per fault window; a moment in two windows counts in both. */
export function errorsByWindow(record: ChaosRecord): ErrorsByWindow {
  const counts = new Map<string, { status5xx: number; network: number }>();
  const outsideAnyWindow: ErrorsByWindow['outsideAnyWindow'] = [];
  for (const h of record.http) {
    if (h.status !== 0 && h.status < 500) continue;
    const windows = windowsAt(record.faults, h.at);
    if (windows[0] === 'none' && h.status >= 500) outsideAnyWindow.push({ at: h.at, route: h.route, status: h.status });
    for (const w of windows) {
      const c = counts.get(w) ?? { status5xx: 0, network: 0 };
      if (h.status === 0) c.network++;
      else c.status5xx++;
      counts.set(w, c);
    }
  }
  return {
    rows: [...counts.entries()]
      .map(([window, c]) => ({ window, ...c }))
      .sort((a, b) => a.window.localeCompare(b.window)),
    outsideAnyWindow,
  };
}

export function errorsTable(e: ErrorsByWindow): string {
  if (e.rows.length === 0) return '(no 5xx and no network error)';
  return table(
    ['fault window', '5xx', 'no answer'],
    e.rows.map((r) => [r.window, r.status5xx, r.network]),
  );
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** A saga parking a transfer (its worker's log line `transfer parked: …`), when it happened and why. */
export interface ParkEvent {
  transferId: string;
  at: number;
  step: string;
  reason: string;
}

/** The parks our workers logged: a JSON line per event, `msg` naming the park (workflows/transfer-saga.ts). */
export function parksInLogs(texts: string[]): ParkEvent[] {
  const parks: ParkEvent[] = [];
  for (const text of texts) {
    for (const line of text.split('\n')) {
      if (!line.includes('transfer parked')) continue;
      try {
        const o = JSON.parse(line) as Record<string, unknown>;
        if (typeof o.transferId !== 'string' || typeof o.time !== 'number') continue;
        parks.push({ transferId: o.transferId, at: o.time, step: String(o.step), reason: String(o.reason) });
      } catch {
        // not JSON: the log check reports it
      }
    }
  }
  return parks.sort((a, b) => a.at - b.at);
}

export interface TimedTransfer {
  id: string;
  status: string;
  createdAt: number;
  finishedAt: number | null;
}

/** Throughput and time to a terminal state of the transfers created while faults were being injected. */
export function speedTable(record: ChaosRecord, transfers: TimedTransfer[]): string {
  const { from, to } = record.faultPhase;
  const seconds = (to - from) / 1000;
  const inPhase = transfers.filter((t) => t.createdAt >= from && t.createdAt <= to && t.finishedAt !== null);
  const completed = transfers.filter(
    (t) => t.status === 'COMPLETED' && t.finishedAt !== null && t.finishedAt >= from && t.finishedAt <= to,
  );
  const times = inPhase.map((t) => (t.finishedAt! - t.createdAt) / 1000).sort((a, b) => a - b);
  const completedTimes = inPhase
    .filter((t) => t.status === 'COMPLETED')
    .map((t) => (t.finishedAt! - t.createdAt) / 1000)
    .sort((a, b) => a - b);
  return table(
    ['during the faults', 'value'],
    [
      ['fault phase (s)', seconds.toFixed(1)],
      ['completed/s', (completed.length / seconds).toFixed(1)],
      ['time to terminal p50 (s)', percentile(times, 50).toFixed(2)],
      ['time to terminal p99 (s)', percentile(times, 99).toFixed(2)],
      ['time to COMPLETED p50 (s)', percentile(completedTimes, 50).toFixed(2)],
      ['time to COMPLETED p99 (s)', percentile(completedTimes, 99).toFixed(2)],
    ],
  );
}

type Interval = [number, number];

/** The total length of intervals that may overlap. */
function coveredMs(intervals: Interval[]): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let [start, end] = [-Infinity, -Infinity];
  for (const [a, b] of sorted) {
    if (a > end) {
      if (end > start) total += end - start;
      [start, end] = [a, b];
    } else end = Math.max(end, b);
  }
  if (end > start) total += end - start;
  return total;
}

const inAny = (intervals: Interval[], at: number) => intervals.some(([a, b]) => at >= a && at <= b);

/**
 * Whether a shard outage is local: completed/s of the transfers that do not touch the database taken
 * away, during its outages, next to the same transfers' completed/s outside every outage (Temporal,
 * Postgres, Redis, the API, the accounting book; worker kills run throughout both), and the same for
 * the transfers that do touch it. The workload's rate is the same all along, so the two columns of a
 * kind compare like with like. "Outside" counts from the moment an outage healed (no grace: the
 * pauses between two outages are shorter than FAULT_WINDOW_GRACE_MS), so it includes the catch-up of
 * the sagas that waited. "parked": transfers needing the database that their saga parked during its
 * outages (or within the grace after, and in no other outage): a saga should wait for a database, not
 * park, so 0 is expected; each such park's step and reason follow the table.
 */
export function shardOutageTable(record: ChaosRecord, transfers: TimedTransfer[], parks: ParkEvent[]): string {
  const { from, to } = record.faultPhase;
  const requestOf = new Map<string, TransferRequestRecord>();
  for (const r of record.transfers) for (const a of r.answers) if (a.transferId) requestOf.set(a.transferId, r);
  const outages = record.faults.filter((e) => OUTAGE_KINDS.includes(e.kind) && e.kind !== 'worker-kill');
  const busy: Interval[] = outages.map((e) => [e.startedAt, e.healedAt ?? to]);
  const quietMs = Math.max(0, to - from - coveredMs(busy.map(([a, b]) => [Math.max(a, from), Math.min(b, to)])));
  const completed = transfers.filter((t) => t.status === 'COMPLETED' && t.finishedAt !== null);
  const quiet = completed.filter((t) => t.finishedAt! >= from && t.finishedAt! <= to && !inAny(busy, t.finishedAt!));
  const perSecond = (n: number, ms: number) => (ms > 0 ? (n / (ms / 1000)).toFixed(1) : '-');
  const touches = (t: TimedTransfer, database: string) => requestOf.get(t.id)?.databases.includes(database) ?? false;

  const rows: Array<Array<string | number>> = [];
  const parkReasons = new Map<string, number>();
  const keys = new Set(
    record.faults
      .filter((e) => SHARD_OUTAGE_KINDS.includes(e.kind) && e.database !== undefined)
      .map((e) => `${e.kind} ${e.database}`),
  );
  for (const key of [...keys].sort()) {
    const [kind, database] = key.split(' ') as [FaultKind, string];
    const windows: Interval[] = record.faults
      .filter((e) => e.kind === kind && e.database === database)
      .map((e) => [e.startedAt, e.healedAt ?? to]);
    const ms = coveredMs(windows);
    const during = completed.filter((t) => inAny(windows, t.finishedAt!));
    const split = (list: TimedTransfer[]) => [
      list.filter((t) => !touches(t, database)).length,
      list.filter((t) => touches(t, database)).length,
    ];
    const [othersDuring, ownDuring] = split(during);
    const [othersQuiet, ownQuiet] = split(quiet);
    // parked during the outage or just after it, needing the database, and in no other outage meanwhile
    const windowsWithGrace: Interval[] = windows.map(([a, b]) => [a, b + FAULT_WINDOW_GRACE_MS]);
    const others: Interval[] = outages
      .filter((e) => !(e.kind === kind && e.database === database))
      .map((e) => [e.startedAt, (e.healedAt ?? to) + FAULT_WINDOW_GRACE_MS]);
    const parkedMeanwhile = parks.filter(
      (p) =>
        inAny(windowsWithGrace, p.at) &&
        !inAny(others, p.at) &&
        (requestOf.get(p.transferId)?.databases.includes(database) ?? false),
    );
    for (const p of parkedMeanwhile) {
      const why = `${kind} ${database}: ${p.step}: ${p.reason}`;
      parkReasons.set(why, (parkReasons.get(why) ?? 0) + 1);
    }
    rows.push([
      `${kind} ${database} (${windows.length}×)`,
      (ms / 1000).toFixed(1),
      perSecond(othersDuring!, ms),
      perSecond(othersQuiet!, quietMs),
      perSecond(ownDuring!, ms),
      perSecond(ownQuiet!, quietMs),
      parkedMeanwhile.length,
    ]);
  }
  if (rows.length === 0) return '(no wallet shard database was taken away)';
  return [
    table(
      [
        'completed/s during a shard outage',
        'seconds',
        'not touching it: during',
        'outside outages',
        'touching it: during',
        'outside outages',
        'parked',
      ],
      rows,
    ),
    `every transfer outside outages: ${perSecond(quiet.length, quietMs)} completed/s over ${(quietMs / 1000).toFixed(1)} s (worker kills run throughout)`,
    ...[...parkReasons].map(([why, n]) => `parked during ${why} (${n}×)`),
  ].join('\n');
}

/**
 * The answers that were not definite (5xx, or none) to requests sent while a wallet shard database was
 * out, by status and problem code, with how long they took: a request that needs the database should
 * be refused at once (503 SHARD_UNAVAILABLE once the breaker is open), not after a timeout.
 */
export function shardOutageAnswersTable(record: ChaosRecord): string {
  const windows: Interval[] = record.faults
    .filter((e) => SHARD_OUTAGE_KINDS.includes(e.kind))
    .map((e) => [e.startedAt, e.healedAt ?? record.faultPhase.to]);
  const groups = new Map<string, number[]>();
  for (const h of record.http) {
    // by when the request was sent: one that hung through the outage is answered (or times out) after it
    if ((h.status !== 0 && h.status < 500) || !inAny(windows, h.at - (h.ms ?? 0))) continue;
    const key = h.status === 0 ? 'no answer' : `${h.status}${h.code ? ` ${h.code}` : ''}`;
    const list = groups.get(key) ?? [];
    list.push(h.ms ?? NaN);
    groups.set(key, list);
  }
  if (groups.size === 0) return '(no 5xx and no network error during shard outages)';
  return table(
    ['during shard outages: answer', 'count', 'p50 ms', 'p99 ms'],
    [...groups.entries()]
      .sort((a, b) => b[1].length - a[1].length)
      .map(([key, ms]) => {
        const sorted = ms.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
        return [key, ms.length, percentile(sorted, 50).toFixed(0), percentile(sorted, 99).toFixed(0)];
      }),
  );
}

export function countBy<T>(items: T[], key: (t: T) => string): Array<[string, number]> {
  const m = new Map<string, number>();
  for (const i of items) m.set(key(i), (m.get(key(i)) ?? 0) + 1);
  return [...m.entries()].sort((a, b) => b[1] - a[1]);
}
