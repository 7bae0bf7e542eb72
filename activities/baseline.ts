/**
 * The no-op activity of the bench's bare workflows (workflows/baseline.ts): registered only by a worker
 * with WORKER_BENCH_BASELINE=true (the dev stack's), so `npm run bench` measures Temporal's own cost on
 * the very workers that run transfers, and production workers carry no bench code.
 */
export function baselineActivities() {
  return {
    /** Returns at once: whatever a bare workflow costs is Temporal's, not this. */
    async baselineNoop(): Promise<void> {},
  };
}
