import { cpuMsPer, cpuSnapshot, type CpuSnapshot } from './bench-cpu';

/**
 * The one timing harness behind every row of `npm run bench` (scripts/bench-transfers.ts), so the
 * project and its ceilings are measured the same way: same clock, same percentiles, same warm-up.
 */

/** One call of the thing measured: resolves to 'completed' or to what happened instead. */
export type Attempt = () => Promise<string>;

export interface Measurement {
  runs: number;
  concurrency: number;
  completed: number;
  seconds: number;
  completedPerSecond: number;
  /** latencies of the completed calls only, ms (NaN when none completed) */
  p50Ms: number;
  p99Ms: number;
  /** everything that did not complete: outcome or error → count */
  other: Record<string, number>;
  /** CPU ms per completed call, by part of the stack (Linux only; empty elsewhere) */
  cpuMs: CpuSnapshot;
}

export interface Row {
  what: string;
  loaded: Measurement;
  alone: Measurement;
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** `runs` calls of `attempt`, `concurrency` in flight at any time (a closed loop: each finished call starts the next). */
export async function measure(runs: number, concurrency: number, attempt: Attempt): Promise<Measurement> {
  const latencies: number[] = [];
  const other: Record<string, number> = {};
  let next = 0;
  const started = performance.now();
  const cpuBefore = cpuSnapshot();
  const loop = async () => {
    while (next < runs) {
      next++;
      const t0 = performance.now();
      const outcome = await attempt().catch((err: unknown) =>
        (err instanceof Error ? err.message : String(err)).slice(0, 80),
      );
      if (outcome === 'completed') latencies.push(performance.now() - t0);
      else other[outcome] = (other[outcome] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, runs) }, loop));
  const seconds = (performance.now() - started) / 1000;
  const cpuMs = cpuMsPer(cpuBefore, cpuSnapshot(), latencies.length);
  latencies.sort((a, b) => a - b);
  return {
    runs,
    concurrency,
    completed: latencies.length,
    seconds,
    completedPerSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    other,
    cpuMs,
  };
}

/**
 * One row of the table: a brief warm-up (one round at `concurrency`, not measured: connections,
 * caches, JIT, sticky workflow caches), then `aloneRuns` one at a time (latency without queueing),
 * then `runs` at `concurrency` (throughput). Alone before loaded, so that nothing a loaded run left
 * running (a workflow's last task after its answer) is still there when latency is measured.
 */
export async function measureRow(
  what: string,
  opts: { runs: number; aloneRuns: number; concurrency: number },
  attempt: Attempt,
): Promise<Row> {
  process.stderr.write(
    `[bench] ${what}: warm-up, ${opts.aloneRuns} alone, ${opts.runs} at concurrency ${opts.concurrency}\n`,
  );
  await measure(opts.concurrency, opts.concurrency, attempt);
  const alone = await measure(opts.aloneRuns, 1, attempt);
  const loaded = await measure(opts.runs, opts.concurrency, attempt);
  return { what, loaded, alone };
}
