/**
 * When `npm start` (scripts/dev-stack.ts) restarts a worker that exited on its own: after a delay
 * that doubles with each restart in the window (1 s, 2 s, 4 s, … at most `maxDelayMs`), at most
 * `maxRestarts` times within `windowMs`. A worker that keeps dying is not restarted for ever: once the
 * budget is spent the launcher stops the stack, loudly, as it did before it restarted anything.
 */
export class RestartBudget {
  private readonly restarts: number[] = [];

  constructor(
    readonly maxRestarts = 5,
    readonly windowMs = 10 * 60_000,
    readonly baseDelayMs = 1000,
    readonly maxDelayMs = 30_000,
  ) {}

  /** Takes one restart: its delay and its number in the window, or null when the budget is spent. */
  take(now = Date.now()): { delayMs: number; restart: number } | null {
    while (this.restarts.length > 0 && now - this.restarts[0]! >= this.windowMs) this.restarts.shift();
    if (this.restarts.length >= this.maxRestarts) return null;
    this.restarts.push(now);
    const restart = this.restarts.length;
    return { delayMs: Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (restart - 1)), restart };
  }
}
