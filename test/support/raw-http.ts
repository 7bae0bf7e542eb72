import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';

/** One answer read off a raw socket. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** ms from the first byte written to the connection's close */
  elapsedMs: number;
}

/** The port a listening app is bound to. */
export function portOf(app: FastifyInstance): number {
  const address = app.server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

/**
 * Writes `request` as is on a fresh connection (byte for byte: what inject() cannot send, such as two
 * Host lines or a request that never ends) and reads the one answer until the server closes.
 */
export function rawRequest(port: number, request: string, opts: { timeoutMs?: number } = {}): Promise<RawAnswer> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    const finish = (err?: Error) => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      if (split === -1) return reject(err ?? new Error(`no HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
      const [statusLine = '', ...lines] = text.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const status = Number(statusLine.split(' ')[1]);
      resolve({ status, headers, body: text.slice(split + 4), elapsedMs: Date.now() - started });
    };
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (err) => finish(err)); // the server may close while a large request is still being sent
    socket.on('close', () => finish());
    socket.write(request);
  });
}
