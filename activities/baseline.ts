/**
 * The no-op activity of the bench's bare workflows (workflows/baseline.ts): registered on every
 * worker so `npm run bench` measures Temporal's own cost on the very workers that run transfers.
 */
export function baselineActivities() {
  return {
    /** Returns at once: whatever a bare workflow costs is Temporal's, not this. */
    async baselineNoop(): Promise<void> {},
  };
}
