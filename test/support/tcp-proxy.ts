import net, { type AddressInfo } from 'node:net';

/**
 * A TCP proxy in the test process, in front of one shared server (Postgres, Temporal), so a test can
 * take that dependency "down" and bring it "back" for the one process it points through the proxy,
 * without touching the server everybody else uses.
 *
 *   const proxy = new TcpProxy('127.0.0.1', 5432);
 *   const port = await proxy.listen();   // 127.0.0.1:<port>, closed: connections are refused
 *   proxy.open();                        // forwards new connections to the target
 *   proxy.dropAll();                     // cuts every live connection (both ends), like a network cut
 *   proxy.close();                       // refuses new connections again (live ones keep going)
 *   await proxy.stop();                  // afterAll
 *
 * "Refused" while closed: the listening socket stays bound (so the port can never be taken by anyone
 * else meanwhile) and every connection is reset the moment it is accepted, which clients see as
 * ECONNRESET / "Connection terminated unexpectedly" / a gRPC transport error, as with a dead backend.
 */
export class TcpProxy {
  private server: net.Server | undefined;
  private forwarding = false;
  /** live forwarded connections: [client side, target side] */
  private readonly live = new Set<[net.Socket, net.Socket]>();
  /** connections accepted while open (forwarded), for assertions */
  accepted = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** A proxy in front of the `host:port` of a URL (postgres://…, redis://…) or of a bare `host:port`. */
  static to(address: string): TcpProxy {
    const url = new URL(address.includes('://') ? address : `tcp://${address}`);
    return new TcpProxy(url.hostname.replace(/^\[|\]$/g, ''), Number(url.port));
  }

  get port(): number {
    if (!this.server) throw new Error('TcpProxy: listen() first');
    return (this.server.address() as AddressInfo).port;
  }

  /** `127.0.0.1:<port>` of the proxy */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** `url` (postgres://user@host:5432/db, …) with its host and port replaced by the proxy's */
  rewrite(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  /** Binds 127.0.0.1 on a free port, closed (see open()); resolves with the port. */
  async listen(): Promise<number> {
    if (this.server) return this.port;
    const server = net.createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    return this.port;
  }

  /** New connections are forwarded to the target from now on. */
  open(): void {
    this.forwarding = true;
  }

  /** New connections are refused (reset) from now on; live connections are left alone (see dropAll). */
  close(): void {
    this.forwarding = false;
  }

  get isOpen(): boolean {
    return this.forwarding;
  }

  /** Number of live forwarded connections. */
  get liveConnections(): number {
    return this.live.size;
  }

  /** Destroys every live connection, both ends: the client sees its connection end mid-conversation. */
  dropAll(): void {
    for (const [client, upstream] of this.live) {
      client.destroy();
      upstream.destroy();
    }
    this.live.clear();
  }

  /** Drops everything and releases the port. */
  async stop(): Promise<void> {
    this.close();
    this.dropAll();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    if (!this.forwarding) {
      client.resetAndDestroy();
      return;
    }
    this.accepted += 1;
    const upstream = net.connect({ host: this.targetHost, port: this.targetPort });
    const pair: [net.Socket, net.Socket] = [client, upstream];
    this.live.add(pair);
    const teardown = () => {
      client.destroy();
      upstream.destroy();
      this.live.delete(pair);
    };
    client.on('error', teardown).on('close', teardown);
    upstream.on('error', teardown).on('close', teardown);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
