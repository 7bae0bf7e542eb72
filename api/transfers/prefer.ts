/** The longest `Prefer: wait=N` the API honours; a larger N waits this long. */
export const MAX_PREFER_WAIT_SECONDS = 30;

/**
 * The seconds a `Prefer` header asks to wait: its `wait=N` preference (RFC 7240 §4.3) capped at
 * MAX_PREFER_WAIT_SECONDS, or 0 without one. Preferences the API does not know, and a malformed wait,
 * are ignored, as RFC 7240 asks of a server; so the OpenAPI document can admit any value, of any length
 * (Node's header size limit bounds it). The header is a comma-separated list of `token[=value]` each
 * followed by `;parameters`: only a `wait` token counts (a `;wait=` parameter of another preference does
 * not), and only its first instance (RFC 7240 §2).
 */
export function waitSecondsOf(prefer: string | undefined): number {
  for (const preference of (prefer ?? '').split(',')) {
    const head = preference.split(';', 1)[0]!;
    if (!/^\s*wait\s*(=|$)/i.test(head)) continue;
    const match = /^\s*wait\s*=\s*"?(\d+)"?\s*$/i.exec(head);
    return match ? Math.min(Number(match[1]), MAX_PREFER_WAIT_SECONDS) : 0;
  }
  return 0;
}
