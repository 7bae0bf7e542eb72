/** Postgres error code of a failed statement, if any (e.g. '23505' unique violation). */
export function pgErrorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; driverError?: { code?: unknown } };
  const code = e?.driverError?.code ?? e?.code;
  return typeof code === 'string' ? code : undefined;
}

// SQLSTATE classes of a database that cannot serve now: 08 connection exception, 53 insufficient
// resources (too many connections), 57 operator intervention (shutdown, crash, starting up).
const UNAVAILABLE_CLASSES = ['08', '53', '57'];
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND']);
/**
 * node-postgres failures of a connection that was dropped or never came up (Postgres restarted or
 * killed, a proxy or the network cut it, the pool timed out, a read timed out): no SQLSTATE and no
 * code, only these messages, on the error itself or on a wrapper's driverError.
 */
const CONNECTION_LOST_MESSAGES = [
  'Connection terminated', // also "… unexpectedly" and "… due to connection timeout"
  'is not queryable', // "Client has encountered a connection error and is not queryable", "Client was closed and is not queryable"
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'terminating connection due to', // 57P01 administrator command / 57P02 crash shutdown, should the code be missing
  'the database system is', // 57P03: starting up, shutting down, in recovery mode
  'is not currently accepting connections', // 55000: ALTER DATABASE … ALLOW_CONNECTIONS false (a database taken away)
];

/**
 * The database could not be reached or could not serve: the statement may be tried again once it is
 * back. Not a refusal by the data (a constraint, a deadlock) and not bad input.
 */
export function isUnavailableError(err: unknown): boolean {
  const candidates = [err, (err as { driverError?: unknown; cause?: unknown } | null)?.driverError];
  return candidates.some((e) => {
    if (e === null || typeof e !== 'object') return false;
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (
      typeof code === 'string' &&
      (NETWORK_CODES.has(code) || (code.length === 5 && UNAVAILABLE_CLASSES.includes(code.slice(0, 2))))
    )
      return true;
    return typeof message === 'string' && CONNECTION_LOST_MESSAGES.some((m) => message.includes(m));
  });
}
