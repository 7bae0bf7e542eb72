import { createPublicKey, type JsonWebKey } from 'node:crypto';

/** The identity provider's key set could not be fetched: the API answers 503, not 401. */
export class JwksUnavailableError extends Error {
  override readonly name = 'JwksUnavailableError';
}

/** A token names a key (`kid`) the key set does not have, even after a refresh: the token is refused (401). */
export class UnknownSigningKeyError extends Error {
  override readonly name = 'UnknownSigningKeyError';
}

interface Jwk extends JsonWebKey {
  kid?: string;
  use?: string;
}

export interface JwksOptions {
  /** How long a fetched key set is used before it is fetched again. */
  cacheSeconds?: number;
  /** An unknown `kid` triggers a refetch at most this often (key rotation, without a fetch per bad token). */
  minRefetchSeconds?: number;
  timeoutMs?: number;
}

/**
 * Public keys from a JWKS endpoint (RFC 7517), as PEM, by `kid`. Fetched lazily, cached, refreshed
 * when stale or when a token names a key not seen yet (the provider rotated its keys).
 */
export class JwksKeySource {
  private keys = new Map<string, string>();
  private fetchedAt = 0;
  private inflight: Promise<void> | undefined;
  private readonly cacheMs: number;
  private readonly minRefetchMs: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly url: string,
    opts: JwksOptions = {},
  ) {
    this.cacheMs = (opts.cacheSeconds ?? 600) * 1000;
    this.minRefetchMs = (opts.minRefetchSeconds ?? 30) * 1000;
    this.timeoutMs = opts.timeoutMs ?? 3000;
  }

  /** The PEM public key for `kid` (a key set with a single key may be used without a `kid`). */
  async keyFor(kid: string | undefined): Promise<string> {
    const age = Date.now() - this.fetchedAt;
    if (this.fetchedAt === 0 || age > this.cacheMs) await this.refresh();
    let key = this.lookup(kid);
    // >=: with minRefetchSeconds 0 an unknown kid always refetches, even within the same millisecond
    if (!key && Date.now() - this.fetchedAt >= this.minRefetchMs) {
      await this.refresh();
      key = this.lookup(kid);
    }
    if (!key) throw new UnknownSigningKeyError(`no signing key ${kid ?? '(without kid)'} in the key set`);
    return key;
  }

  private lookup(kid: string | undefined): string | undefined {
    if (kid !== undefined) return this.keys.get(kid);
    return this.keys.size === 1 ? [...this.keys.values()][0] : undefined;
  }

  private refresh(): Promise<void> {
    this.inflight ??= this.fetchKeys().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async fetchKeys(): Promise<void> {
    let body: { keys?: Jwk[] };
    try {
      const res = await fetch(this.url, { signal: AbortSignal.timeout(this.timeoutMs), headers: { accept: 'application/json' } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      body = (await res.json()) as { keys?: Jwk[] };
    } catch (err) {
      throw new JwksUnavailableError(`JWKS ${this.url} unavailable: ${(err as Error).message}`);
    }
    const keys = new Map<string, string>();
    for (const [i, jwk] of (body.keys ?? []).entries()) {
      if (jwk.use !== undefined && jwk.use !== 'sig') continue;
      try {
        const pem = createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'pem', type: 'spki' }).toString();
        keys.set(jwk.kid ?? `#${i}`, pem);
      } catch {
        // a key type this runtime cannot import: skip it, the others still verify
      }
    }
    this.keys = keys;
    this.fetchedAt = Date.now();
  }
}
