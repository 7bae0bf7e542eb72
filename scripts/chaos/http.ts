import { setTimeout as sleep } from 'node:timers/promises';
import type { HttpEvent } from './record';

export interface HttpAnswer {
  /** 0: network error or timeout (no answer) */
  status: number;
  body: Record<string, unknown> | null;
}

/** Retry pause after a network error or 5xx: 200 ms doubling to 2 s. */
const backoff = (attempt: number): number => Math.min(2000, 200 * 2 ** attempt);

/**
 * The chaos client's HTTP: every exchange is recorded (time, route, status, problem code, duration) for
 * the 5xx-by-fault-window table and the answers during shard outages. Amounts are written and read as JSON integers (they stay far below 2^53 here).
 */
export class ChaosHttp {
  readonly events: HttpEvent[] = [];

  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs = 15_000,
  ) {}

  async send(
    method: 'GET' | 'POST',
    path: string,
    opts: { token: string; body?: unknown; idempotencyKey?: string; route?: string },
  ): Promise<HttpAnswer> {
    const headers: Record<string, string> = { authorization: `Bearer ${opts.token}` };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
    let answer: HttpAnswer;
    const started = Date.now();
    try {
      const res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await res.text();
      let body: Record<string, unknown> | null = null;
      try {
        body = text ? (JSON.parse(text) as Record<string, unknown>) : null;
      } catch {
        body = null;
      }
      answer = { status: res.status, body };
    } catch {
      answer = { status: 0, body: null };
    }
    const code = answer.status >= 400 && typeof answer.body?.code === 'string' ? answer.body.code : null;
    this.events.push({
      at: Date.now(),
      method,
      route: opts.route ?? path,
      status: answer.status,
      code,
      ms: Date.now() - started,
    });
    return answer;
  }

  /**
   * Sends until the answer is definite (not a network error, timeout or 5xx), re-sending the same
   * request (so the same Idempotency-Key) with backoff; null if `deadline` passes first.
   */
  async sendUntilDefinite(
    method: 'GET' | 'POST',
    path: string,
    opts: { token: string; body?: unknown; idempotencyKey?: string; route?: string; deadline: number },
  ): Promise<HttpAnswer | null> {
    for (let attempt = 0; ; attempt++) {
      const answer = await this.send(method, path, opts);
      if (answer.status !== 0 && answer.status < 500) return answer;
      if (Date.now() + backoff(attempt) > opts.deadline) return null;
      await sleep(backoff(attempt));
    }
  }
}
