/** The longest `Prefer: wait=N` the API honours; a larger N waits this long. */
export const MAX_PREFER_WAIT_SECONDS = 30;

/**
 * The seconds a `Prefer` header asks to wait: its `wait=N` preference (RFC 7240 §4.3) capped at
 * MAX_PREFER_WAIT_SECONDS, or 0 without one. Preferences the API does not know, and a malformed wait,
 * are ignored, as RFC 7240 asks of a server; so the OpenAPI document can admit any value.
 */
export function waitSecondsOf(prefer: string | undefined): number {
  const match = prefer ? /(?:^|[\s,;])wait\s*=\s*"?(\d{1,9})"?\s*(?=$|[,;])/i.exec(prefer) : null;
  return match ? Math.min(Number(match[1]), MAX_PREFER_WAIT_SECONDS) : 0;
}
