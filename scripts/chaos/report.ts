import type { ChaosRecord, FaultEvent, FaultKind } from './record';
import { FAULT_KINDS } from './record';

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
const OUTAGE_KINDS: readonly FaultKind[] = [
  'worker-kill',
  'temporal-kill',
  'postgres-stop',
  'redis-kill',
  'api-kill',
  'accounting-outage',
];

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

export interface TimedTransfer {
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

export function countBy<T>(items: T[], key: (t: T) => string): Array<[string, number]> {
  const m = new Map<string, number>();
  for (const i of items) m.set(key(i), (m.get(key(i)) ?? 0) + 1);
  return [...m.entries()].sort((a, b) => b[1] - a[1]);
}
